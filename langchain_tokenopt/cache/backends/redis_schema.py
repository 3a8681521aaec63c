"""Pure helpers of the Redis backend: hash layout, entry parsing, query strings.

Every value placed into a query string is a hex digest checked here, so no user text ever
reaches the RediSearch query language.

Example:
    .. code-block:: python

        knn_query("0f" * 16)  # '(@scope:{0f0f...})=>[KNN 1 @vector $v AS dist]'
"""

from __future__ import annotations

from typing import Any

from langchain_tokenopt.cache.records import CacheEntry

__all__ = [
    "RETURN_FIELDS",
    "TAG_FIELDS",
    "as_str",
    "entry_mapping",
    "filter_query",
    "knn_args",
    "knn_fields",
    "knn_query",
    "parse_entry",
]

#: TAG fields of the index (hex digests only).
TAG_FIELDS = ("scope", "model", "model_name", "tenant", "user")
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
    "dist",
)
_HEX = frozenset("0123456789abcdef")


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
    }
    if entry.vector is not None:
        mapping["vector"] = entry.vector
    return mapping


def as_str(value: Any) -> str:
    """Decode bytes from Redis (other values via ``str``)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def parse_entry(fields: dict[Any, Any], *, now: float) -> CacheEntry | None:
    """Build a live entry from hash fields (``None`` when empty or expired)."""
    if not fields:
        return None
    data = {as_str(k): v for k, v in fields.items()}
    expires = as_str(data.get("expires_at", ""))
    expires_at = float(expires) if expires else None
    if expires_at is not None and expires_at <= now:
        return None
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
    )


def knn_query(scope: str) -> str:
    """Return the KNN query string with the scope as a pre-filter (hex digest only)."""
    if not scope or not set(scope) <= _HEX:
        msg = f"scope must be a hex digest, got {scope!r}"
        raise ValueError(msg)
    return f"(@scope:{{{scope}}})=>[KNN 1 @vector $v AS dist]"


def filter_query(filters: dict[str, str]) -> str:
    """Return a TAG filter query over hex digests (``*`` for all)."""
    parts = []
    for field, value in filters.items():
        if field not in TAG_FIELDS or not set(value) <= _HEX:
            msg = f"bad filter {field}={value!r}"
            raise ValueError(msg)
        parts.append(f"@{field}:{{{value}}}")
    return " ".join(parts) or "*"


def knn_args(index_name: str, scope: str, blob: bytes) -> tuple[Any, ...]:
    """Return the raw ``FT.SEARCH`` arguments of a scoped top-1 KNN query.

    Sent with ``execute_command``: building redis-py ``Query`` objects and its result
    wrappers costs more than the search itself on a small index.
    """
    return (
        "FT.SEARCH",
        index_name,
        knn_query(scope),
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
        1,
        "DIALECT",
        2,
    )


def knn_fields(reply: Any) -> dict[Any, Any] | None:
    """Return the fields of the first document of an ``FT.SEARCH`` reply (RESP2 or RESP3)."""
    if isinstance(reply, dict):
        results = reply.get(b"results", reply.get("results")) or []
        if not results:
            return None
        first = results[0]
        fields = first.get(b"extra_attributes", first.get("extra_attributes"))
        return dict(fields) if fields else None
    if not isinstance(reply, list | tuple) or len(reply) < 3:
        return None
    flat = reply[2]
    if not isinstance(flat, list | tuple):
        return None
    return dict(zip(flat[::2], flat[1::2], strict=False))
