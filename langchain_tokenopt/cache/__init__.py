"""Semantic cache: a scoped, verified LangChain ``BaseCache``, embedded or on Redis.

* :class:`SemanticCache`: the ``BaseCache`` (``set_llm_cache(SemanticCache())``).
* :func:`cache_scope`: ``with cache_scope(tenant_id=..., user_id=...):`` confines entries.
* :func:`cache_entry_options`: ``with cache_entry_options(ttl=600, tags=["pricing"]):`` sets
  the lifetime and tags of the entries written in the block.
* :class:`LocalBackend` / :class:`RedisBackend`: where entries live.
* :class:`CacheStats`, :class:`CacheHit`, :class:`CacheLookup`, :class:`StoredEntry`: typed
  records.
* :class:`NearMissVerifier`: rejects near misses embeddings cannot separate.
* :class:`OnlineCalibration` / :class:`TenantCalibration`: learn a lower threshold per tenant
  with a bound on the error rate (``SemanticCache(calibration="online")``).

Example:
    .. code-block:: python

        from langchain_core.globals import set_llm_cache
        from langchain_tokenopt.cache import SemanticCache, cache_scope

        cache = SemanticCache(ttl=24 * 3600)
        set_llm_cache(cache)
        with cache_scope(tenant_id="acme", user_id="u1"):
            ...
        cache.clear(tags=["pricing"])
"""

from __future__ import annotations

from langchain_tokenopt.cache.backends import (
    CacheBackend,
    LocalBackend,
    RedisBackend,
    RedisClusterBackend,
)
from langchain_tokenopt.cache.calibration import OnlineCalibration
from langchain_tokenopt.cache.records import (
    CacheEntry,
    CacheHit,
    CacheLookup,
    CacheStats,
    StoredEntry,
    TenantCalibration,
)
from langchain_tokenopt.cache.scope import (
    CallerScope,
    EntryOptions,
    cache_entry_options,
    cache_scope,
)
from langchain_tokenopt.cache.semantic_cache import DEFAULT_SIMILARITY_THRESHOLD, SemanticCache
from langchain_tokenopt.cache.standalone import StandalonePolicy
from langchain_tokenopt.cache.verifier import HitVerifier, NearMissVerifier, Verdict

__all__ = [
    "DEFAULT_SIMILARITY_THRESHOLD",
    "CacheBackend",
    "CacheEntry",
    "CacheHit",
    "CacheLookup",
    "CacheStats",
    "CallerScope",
    "EntryOptions",
    "HitVerifier",
    "LocalBackend",
    "NearMissVerifier",
    "OnlineCalibration",
    "RedisBackend",
    "RedisClusterBackend",
    "SemanticCache",
    "StandalonePolicy",
    "StoredEntry",
    "TenantCalibration",
    "Verdict",
    "cache_entry_options",
    "cache_scope",
]
