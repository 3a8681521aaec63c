"""Cache backends: :class:`LocalBackend`, :class:`RedisBackend`, :class:`RedisClusterBackend`.

:class:`LocalBackend` is SQLite + an in-process index; the Redis ones share one server or a
Redis Cluster. All implement :class:`CacheBackend`. Importing this package imports neither redis nor
usearch; they load on first use.

Example:
    .. code-block:: python

        from langchain_tokenopt.cache.backends import LocalBackend

        backend = LocalBackend(path="cache.sqlite3")
"""

from __future__ import annotations

from langchain_tokenopt.cache.backends.base import CacheBackend, EntryFilter
from langchain_tokenopt.cache.backends.local import LocalBackend
from langchain_tokenopt.cache.backends.redis import RedisBackend
from langchain_tokenopt.cache.backends.redis_cluster import RedisClusterBackend

__all__ = [
    "CacheBackend",
    "EntryFilter",
    "LocalBackend",
    "RedisBackend",
    "RedisClusterBackend",
]
