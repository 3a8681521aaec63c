"""The small interface every cache backend implements, sync and async.

A backend stores :class:`~langchain_tokenopt.cache.records.CacheEntry` rows, answers an
exact lookup by entry id, and a vector search **restricted to one scope before the
search** (never a global top-k compared afterwards): the nearest entry (:meth:`search`) or
the few nearest, nearest first (:meth:`search_candidates`, which the cache uses so that a
neighbour the verifier turns down does not hide the next one).

Example:
    .. code-block:: python

        backend = LocalBackend(path="cache.sqlite3")
        backend.put(entry)
        backend.get(entry.entry_id, now=time.time())
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, TypedDict, Unpack

import numpy as np

from langchain_tokenopt.cache.records import CacheEntry, Candidate, StoredEntry

__all__ = ["CacheBackend", "EntryFilter"]


def _shortlist(found: Sequence[Candidate], k: int, min_similarity: float) -> list[Candidate]:
    """The nearest candidate, then the next ones at or above ``min_similarity``, up to ``k``."""
    ranked = sorted(found, key=lambda c: -c.similarity)
    return ranked[:1] + [c for c in ranked[1:k] if c.similarity >= min_similarity]


class EntryFilter(TypedDict, total=False):
    """Which entries :meth:`CacheBackend.clear` and :meth:`CacheBackend.entries` match.

    An entry matches every digest given (``None`` or left out: any) and, when ``tags`` is
    given, carries *any* of the tags. :meth:`SemanticCache.clear
    <langchain_tokenopt.cache.SemanticCache.clear>` builds one from ids and model names.

    Example:
        .. code-block:: python

            where: EntryFilter = {"tenant": digest("tenant", "acme"), "tags": ("pricing",)}
            backend.clear(**where)
    """

    tenant: str | None
    """Digest of the tenant id."""
    user: str | None
    """Digest of the (tenant, user) pair."""
    model: str | None
    """Digest of one exact model configuration (LangChain's ``llm_string``)."""
    model_name: str | None
    """Digest of the model name (``"gpt-4o-mini"``)."""
    tags: Sequence[str] | None
    """Labels, any of which an entry must carry."""


class CacheBackend(ABC):
    """Storage + scoped vector search for :class:`~langchain_tokenopt.cache.SemanticCache`.

    The async methods default to running the sync ones in a worker thread; backends with a
    native async client override them.
    """

    #: Whether a failure here should fail open (log + miss) rather than raise.
    fail_open: bool = True

    @abstractmethod
    def get(self, entry_id: str, *, now: float) -> CacheEntry | None:
        """Return the live entry with this id, or ``None``."""

    @abstractmethod
    def search(self, scope: str, vector: np.ndarray, *, now: float) -> Candidate | None:
        """Return the nearest live entry inside ``scope`` (pre-filtered), or ``None``."""

    def search_candidates(
        self, scope: str, vector: np.ndarray, *, now: float, k: int, min_similarity: float = -1.0
    ) -> list[Candidate]:
        """Return up to ``k`` live entries of ``scope``, nearest first.

        The nearest is always returned (a miss still reports its similarity); the others
        only at or above ``min_similarity``. The default asks :meth:`search` for the
        nearest only; the packaged backends override it with one top-``k`` query.

        Example:
            .. code-block:: python

                backend.search_candidates(scope, vec, now=time.time(), k=4, min_similarity=0.5)
        """
        found = self.search(scope, vector, now=now)
        return [] if found is None else [found]

    @abstractmethod
    def put(self, entry: CacheEntry) -> None:
        """Insert or replace an entry (same id replaces), evicting LRU entries over the bound."""

    def put_many(self, entries: Sequence[CacheEntry]) -> None:
        """Insert or replace many entries (backends override this with a bulk path)."""
        for entry in entries:
            self.put(entry)

    @abstractmethod
    def touch(self, entry_id: str, *, now: float, expires_at: float | None = None) -> None:
        """Record a hit: mark the entry used now (LRU order) and count it.

        Args:
            entry_id: The entry served.
            now: Unix time of the hit.
            expires_at: New expiry (refresh-on-hit), applied only to an entry that has one;
                ``None`` leaves the expiry as it is.
        """

    @abstractmethod
    def delete(self, entry_id: str) -> bool:
        """Delete one entry; return whether it existed."""

    @abstractmethod
    def clear(self, **where: Unpack[EntryFilter]) -> int:
        """Delete all entries, or those matching ``where``; return how many."""

    @abstractmethod
    def entries(
        self, *, now: float, limit: int | None = None, **where: Unpack[EntryFilter]
    ) -> list[StoredEntry]:
        """List live entries matching ``where`` (as :meth:`clear`), newest first."""

    @abstractmethod
    def count(self) -> int:
        """Return the number of stored entries (expired ones may still be counted)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files, connections and locks."""

    def admit(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """Return what an async cache call holds while it runs (bounds concurrent calls).

        The default admits everyone; a backend with a connection bound returns a
        semaphore, so a burst queues before doing any work.
        """
        return contextlib.nullcontext()

    async def aget(self, entry_id: str, *, now: float) -> CacheEntry | None:
        """Async :meth:`get`."""
        return await asyncio.to_thread(self.get, entry_id, now=now)

    async def asearch(self, scope: str, vector: np.ndarray, *, now: float) -> Candidate | None:
        """Async :meth:`search`."""
        return await asyncio.to_thread(self.search, scope, vector, now=now)

    async def asearch_candidates(
        self, scope: str, vector: np.ndarray, *, now: float, k: int, min_similarity: float = -1.0
    ) -> list[Candidate]:
        """Async :meth:`search_candidates`."""
        return await asyncio.to_thread(
            lambda: self.search_candidates(
                scope, vector, now=now, k=k, min_similarity=min_similarity
            )
        )

    async def aput(self, entry: CacheEntry) -> None:
        """Async :meth:`put`."""
        await asyncio.to_thread(self.put, entry)

    async def atouch(self, entry_id: str, *, now: float, expires_at: float | None = None) -> None:
        """Async :meth:`touch`."""
        await asyncio.to_thread(self.touch, entry_id, now=now, expires_at=expires_at)

    async def adelete(self, entry_id: str) -> bool:
        """Async :meth:`delete`."""
        return await asyncio.to_thread(self.delete, entry_id)

    async def aclear(self, **where: Unpack[EntryFilter]) -> int:
        """Async :meth:`clear`."""
        return await asyncio.to_thread(lambda: self.clear(**where))

    async def aentries(
        self, *, now: float, limit: int | None = None, **where: Unpack[EntryFilter]
    ) -> list[StoredEntry]:
        """Async :meth:`entries`."""
        return await asyncio.to_thread(lambda: self.entries(now=now, limit=limit, **where))
