"""Cache backends: :class:`LocalBackend` (SQLite + in-process index) and :class:`RedisBackend`.

Both implement :class:`CacheBackend`. Importing this package imports neither redis nor
usearch; they load on first use.

Example:
    .. code-block:: python

        from langchain_tokenopt.cache.backends import LocalBackend

        backend = LocalBackend(path="cache.sqlite3")
"""

from __future__ import annotations

from langchain_tokenopt.cache.backends.base import CacheBackend
from langchain_tokenopt.cache.backends.local import LocalBackend
from langchain_tokenopt.cache.backends.redis import RedisBackend

__all__ = ["CacheBackend", "LocalBackend", "RedisBackend"]
