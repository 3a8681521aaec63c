"""Pure helpers of the Redis backend: hash layout, entry parsing, query strings.

Every value placed into a query string is a hex digest checked here, so no user text ever
reaches the RediSearch query language.

Example:
    .. code-block:: python

        knn_query("0f" * 16)  # '(@scope:{0f0f...})=>[KNN 1 @vector $v AS dist]'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_tokenopt.cache.keys import digest
from langchain_tokenopt.cache.records import CacheEntry

__all__ = [
    "LIST_FIELDS",
    "RETURN_FIELDS",
    "TAG_FIELDS",
    "TOUCH_SCRIPT",
    "as_str",
    "entry_mapping",
    "filter_query",
    "knn_args",
    "knn_documents",
    "knn_fields",
    "knn_query",
    "parse_entry",
    "tag_digest",
]

#: TAG fields of the index (hex digests only). ``tags`` came later: an index made before it
#: is altered in place (``FT.ALTER ... ADD tags TAG``) when the backend first connects.
TAG_FIELDS = ("scope", "model", "model_name", "tenant", "user", "tags")
# "id" and "payload" are reserved by redis-py's search results: store them as eid / answer.
#: Fields a KNN query returns.
RETURN_FIELDS = (
    "eid",
    "scope",
    "model",
    "model_name",
    "tenant",
    "user",
    "text",
    "answer",
    "created_at",
    "expires_at",
    "ttl",
    "tag_names",
    "dist",
)
#: Fields ``entries()`` reads (no payload, no vector).
LIST_FIELDS = ("eid", "text", "tag_names", "created_at", "expires_at", "ttl")
#: Records a hit: LRU order, hit count and, given a new expiry, moves it (refresh-on-hit).
#: Hits and the moved expiry live in a side hash next to the entry (same cluster slot):
#: writing any field of the indexed hash would make RediSearch re-index the whole document,
#: vector included. One command, so a hit costs one round trip as before.
#: KEYS: entry hash, side hash, LRU sorted set. ARGV: entry id, now, new expiry in ms or "",
#: the same in seconds.
TOUCH_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[3], 'XX', ARGV[2], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'hits', 1)
if ARGV[3] ~= '' and redis.call('PTTL', KEYS[1]) > 0 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
  redis.call('HSET', KEYS[2], 'expires_at', ARGV[4])
end
local left = redis.call('PTTL', KEYS[1])
if left > 0 then redis.call('PEXPIRE', KEYS[2], left) end
return 1
"""
_HEX = frozenset("0123456789abcdef")


def tag_digest(tag: str) -> str:
    """Return the hex digest a tag is indexed under (no tag text reaches a query)."""
    return digest("tag", tag)


def entry_mapping(entry: CacheEntry) -> dict[str, Any]:
    """Return the hash fields stored for one entry."""
    mapping: dict[str, Any] = {
        "eid": entry.entry_id,
        "scope": entry.scope,
        "model": entry.model,
        "model_name": entry.model_name,
        "tenant": entry.tenant,
        "user": entry.user,
        "text": entry.text,
        "answer": entry.payload,
        "created_at": repr(entry.created_at),
        "expires_at": "" if entry.expires_at is None else repr(entry.expires_at),
        "ttl": "" if entry.ttl is None else repr(entry.ttl),
    }
    if entry.tags:
        mapping["tags"] = ",".join(tag_digest(t) for t in entry.tags)
        mapping["tag_names"] = json.dumps(list(entry.tags), ensure_ascii=False)
    if entry.vector is not None:
        mapping["vector"] = entry.vector
    return mapping


def as_str(value: Any) -> str:
    """Decode bytes from Redis (other values via ``str``)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def parse_entry(fields: dict[Any, Any], *, now: float | None) -> CacheEntry | None:
    """Build an entry from hash fields (``None`` when empty, or expired at ``now``).

    ``now=None`` skips the expiry check (the caller checks a refreshed expiry itself).
    """
    if not fields:
        return None
    data = {as_str(k): v for k, v in fields.items()}
    expires = as_str(data.get("expires_at", ""))
    expires_at = float(expires) if expires else None
    if now is not None and expires_at is not None and expires_at <= now:
        return None
    ttl = as_str(data.get("ttl", ""))
    names = as_str(data.get("tag_names", ""))
    vector = data.get("vector")
    return CacheEntry(
        entry_id=as_str(data["eid"]),
        scope=as_str(data["scope"]),
        model=as_str(data["model"]),
        model_name=as_str(data.get("model_name", "")),
        tenant=as_str(data["tenant"]),
        user=as_str(data["user"]),
        text=as_str(data.get("text", "")),
        payload=as_str(data["answer"]),
        created_at=float(as_str(data["created_at"])),
        expires_at=expires_at,
        vector=vector if isinstance(vector, bytes) else None,
        ttl=float(ttl) if ttl else None,
        tags=tuple(json.loads(names)) if names else (),
    )


def knn_query(scope: str, k: int = 1) -> str:
    """Return the KNN query string with the scope as a pre-filter (hex digest only)."""
    if not scope or not set(scope) <= _HEX:
        msg = f"scope must be a hex digest, got {scope!r}"
        raise ValueError(msg)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        msg = f"k must be a positive int, got {k!r}"
        raise ValueError(msg)
    return f"(@scope:{{{scope}}})=>[KNN {k} @vector $v AS dist]"


def filter_query(filters: dict[str, str], tags: Sequence[str] | None = None) -> str:
    """Return a TAG filter query over hex digests (``*`` for all); ``tags``: any of them."""
    parts = []
    for field, value in filters.items():
        if field not in TAG_FIELDS or not value or not set(value) <= _HEX:
            msg = f"bad filter {field}={value!r}"
            raise ValueError(msg)
        parts.append(f"@{field}:{{{value}}}")
    if tags:
        parts.append("@tags:{" + " | ".join(tag_digest(t) for t in tags) + "}")
    return " ".join(parts) or "*"


def knn_args(index_name: str, scope: str, blob: bytes, k: int = 1) -> tuple[Any, ...]:
    """Return the raw ``FT.SEARCH`` arguments of a scoped top-``k`` KNN query.

    Sent with ``execute_command``: building redis-py ``Query`` objects and its result
    wrappers costs more than the search itself on a small index.
    """
    return (
        "FT.SEARCH",
        index_name,
        knn_query(scope, k),
        "PARAMS",
        2,
        "v",
        blob,
        "RETURN",
        len(RETURN_FIELDS),
        *RETURN_FIELDS,
        "SORTBY",
        "dist",
        "LIMIT",
        0,
        k,
        "DIALECT",
        2,
    )


def knn_fields(reply: Any) -> dict[Any, Any] | None:
    """Return the fields of the first document of an ``FT.SEARCH`` reply (RESP2 or RESP3)."""
    documents = knn_documents(reply)
    return documents[0] if documents else None


def knn_documents(reply: Any) -> list[dict[Any, Any]]:
    """Return the fields of every document of an ``FT.SEARCH`` reply, in order (RESP2 or 3)."""
    if isinstance(reply, dict):
        results = reply.get(b"results", reply.get("results")) or []
        out = []
        for doc in results:
            fields = doc.get(b"extra_attributes", doc.get("extra_attributes"))
            if fields:
                out.append(dict(fields))
        return out
    if not isinstance(reply, list | tuple) or len(reply) < 3:
        return []
    return [
        dict(zip(flat[::2], flat[1::2], strict=False))
        for flat in reply[2::2]
        if isinstance(flat, list | tuple) and flat
    ]
