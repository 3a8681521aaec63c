"""Pure parts of the Redis Cluster backend: its Lua scripts and admin-call filters.

Each script touches the keys of one scope only (one hash tag, one slot), so it runs on the
master holding that scope.

Example:
    .. code-block:: python

        matches({"tenant": "ab"}, {"tenant": "ab"}, None)  # True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from langchain_tokenopt.cache.backends.redis_schema import LIST_FIELDS, tag_digest

__all__ = [
    "ADMIN_FIELDS",
    "PUT_SCRIPT",
    "SCRIPTS",
    "SCRIPT_SHAS",
    "SEARCH_SCRIPT",
    "TOUCH_SCRIPT",
    "check_hex",
    "matches",
]

_HEX = frozenset("0123456789abcdef")
#: Nearest live entries of a scope, nearest first. KEYS: vector set. ARGV: FP32 blob, entry
#: key prefix (``<prefix>{S}:e:``), neighbours per round, entries wanted. Returns one array
#: per entry: its hash fields + ``score``. Expired members met on the way are removed.
SEARCH_SCRIPT = """
local count = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local out = {}
for round = 1, 4 do
  out = {}
  local removed = 0
  local found = redis.call('VSIM', KEYS[1], 'FP32', ARGV[1], 'COUNT', count, 'WITHSCORES')
  for i = 1, #found, 2 do
    local fields = redis.call('HGETALL', ARGV[2] .. found[i])
    if #fields > 0 then
      if #out < want then
        table.insert(fields, 'score')
        table.insert(fields, found[i + 1])
        table.insert(out, fields)
      end
    else
      redis.call('VREM', KEYS[1], found[i])
      removed = removed + 1
    end
  end
  if #out >= want or removed == 0 or #found < 2 * count then return out end
end
return out
"""
#: Store one entry. KEYS: entry hash, side hash, vector set. ARGV: FP32 blob ("" for none),
#: entry id, expiry in ms ("" for none), HNSW M, EF, then the hash's field/value pairs.
#: The vector set lives as long as its longest-lived entry.
PUT_SCRIPT = """
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
if ARGV[3] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
if ARGV[1] == '' then return 1 end
redis.call('VADD', KEYS[3], 'FP32', ARGV[1], ARGV[2], 'NOQUANT', 'M', ARGV[4], 'EF', ARGV[5])
if ARGV[3] == '' then
  redis.call('PERSIST', KEYS[3])
else
  local until_ms = redis.call('PEXPIRETIME', KEYS[3])
  if redis.call('VCARD', KEYS[3]) == 1 or (until_ms >= 0 and until_ms < tonumber(ARGV[3])) then
    redis.call('PEXPIREAT', KEYS[3], ARGV[3])
  end
end
return 1
"""
#: Record a hit (the LRU sorted set is on another slot: updated beside it). KEYS: entry
#: hash, side hash, vector set. ARGV: new expiry in ms or "", the same in seconds.
TOUCH_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], 'hits', 1)
if ARGV[1] ~= '' and redis.call('PTTL', KEYS[1]) > 0 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[1])
  redis.call('HSET', KEYS[2], 'expires_at', ARGV[2])
  local until_ms = redis.call('PEXPIRETIME', KEYS[3])
  if until_ms >= 0 and until_ms < tonumber(ARGV[1]) then
    redis.call('PEXPIREAT', KEYS[3], ARGV[1])
  end
end
local left = redis.call('PTTL', KEYS[1])
if left > 0 then redis.call('PEXPIRE', KEYS[2], left) end
return 1
"""
SCRIPT_SHAS = {
    name: hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 - Redis's script id
    for name, script in (
        ("search", SEARCH_SCRIPT),
        ("put", PUT_SCRIPT),
        ("touch", TOUCH_SCRIPT),
    )
}
SCRIPTS = {"search": SEARCH_SCRIPT, "put": PUT_SCRIPT, "touch": TOUCH_SCRIPT}
#: Hash fields the admin calls read to filter and list entries.
ADMIN_FIELDS = ("scope", "tenant", "user", "model", "model_name", "tags", *LIST_FIELDS)


def check_hex(name: str, value: str) -> str:
    """Return ``value`` if it is a lowercase hex digest (safe inside a key), else raise."""
    if not value or not set(value) <= _HEX:
        msg = f"{name} must be a hex digest, got {value!r}"
        raise ValueError(msg)
    return value


def matches(fields: dict[str, str], filters: dict[str, str], tags: Sequence[str] | None) -> bool:
    """Whether an entry's hash fields match every digest filter and any of ``tags``."""
    if any(fields.get(name) != value for name, value in filters.items()):
        return False
    if tags:
        have = set(filter(None, fields.get("tags", "").split(",")))
        return any(tag_digest(t) in have for t in tags)
    return True
