"""``SummaryCache``: summaries keyed by what was summarized, in memory and optionally on disk.

A summary written by a model costs seconds (the local SmolLM2) or money (a hosted model).
In memory, the cache makes every segment cost that once per process. With ``path=`` the
model-written summaries are also kept in a SQLite file (WAL mode), so they survive a
restart and are shared by the worker processes of one machine: a thread resumed after a
deploy does not summarize its history again.

Extractive summaries are recomputed in microseconds, so by default they stay in memory only
(``persist_extractive=True`` stores them too). The file is a cache, never a source of truth:
if it cannot be opened, read or written (corrupt, locked, read-only), the cache logs one
warning and goes on in memory; a lookup it cannot answer is a miss.

Example:
    .. code-block:: python

        from langchain_tokenopt.context import ChatModelSummarizer, HierarchicalSummary

        cache = SummaryCache(path="~/.cache/myapp/summaries.sqlite")
        HierarchicalSummary(summarizer=ChatModelSummarizer(), cache=cache)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path

from langchain_tokenopt.errors import TokenOptConfigError

__all__ = ["EXTRACTIVE_NAMESPACE", "SummaryCache"]

logger = logging.getLogger(__name__)

#: Cache namespace of :class:`~langchain_tokenopt.context.summarize.ExtractiveSummarizer`.
EXTRACTIVE_NAMESPACE = "extractive-v1"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS summaries ("
    "key TEXT PRIMARY KEY, value TEXT NOT NULL, stored REAL NOT NULL)"
)


class SummaryCache:
    """Thread-safe LRU of summaries keyed by what was summarized; optionally persisted.

    Args:
        max_entries: Entries kept in memory (least recently used evicted).
        path: SQLite file for the summaries written by a model (``~`` is expanded; parent
            folders are created). ``None`` keeps everything in memory.
        max_stored: Rows kept in the file; the oldest are deleted beyond it.
        persist_extractive: Also store extractive summaries in the file.

    Example:
        .. code-block:: python

            cache = SummaryCache()
            ContextOptimizer(max_tokens=2000, strategies=[HierarchicalSummary(cache=cache)])
    """

    def __init__(
        self,
        *,
        max_entries: int = 2048,
        path: str | os.PathLike[str] | None = None,
        max_stored: int = 100_000,
        persist_extractive: bool = False,
    ) -> None:
        for name, value in (("max_entries", max_entries), ("max_stored", max_stored)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                msg = f"{name} must be an int >= 1, got {value!r}"
                raise TokenOptConfigError(msg)
        if path is not None and not isinstance(path, str | os.PathLike):
            msg = f"path must be a str, a path or None, got {type(path).__name__}"
            raise TokenOptConfigError(msg)
        self.max_entries = max_entries
        self.max_stored = max_stored
        self.persist_extractive = bool(persist_extractive)
        self.path = None if path is None else Path(path).expanduser()
        self._data: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._writes = 0
        self.hits = 0
        """Lookups answered from the cache (memory or file)."""
        self.misses = 0
        """Lookups that had to summarize."""
        if self.path is not None:
            self._db = self._open(self.path)

    # ------------------------------------------------------------------ keys
    @staticmethod
    def key(namespace: str, level: int, max_tokens: int, text: str) -> str:
        """Build the cache key of a summary."""
        digest = hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).hexdigest()
        return f"{namespace}|{level}|{max_tokens}|{digest}"

    def _persisted(self, key: str) -> bool:
        return self._db is not None and (
            self.persist_extractive or not key.startswith(EXTRACTIVE_NAMESPACE + "|")
        )

    # ------------------------------------------------------------------ api
    def get(self, key: str) -> str | None:
        """Return a cached summary or ``None``."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self.hits += 1
                self._data.move_to_end(key)
                return value
            if self._persisted(key):
                value = self._read(key)
            if value is None:
                self.misses += 1
                return None
            self.hits += 1
            self._remember(key, value)
            return value

    def put(self, key: str, value: str) -> None:
        """Store a summary."""
        with self._lock:
            self._remember(key, value)
            if self._persisted(key):
                self._write(key, value)

    def __len__(self) -> int:
        return len(self._data)

    def close(self) -> None:
        """Close the file (the cache keeps working in memory)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # ------------------------------------------------------------------ internals
    def _remember(self, key: str, value: str) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection | None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=2.0, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
            db.commit()
            db.execute("SELECT count(*) FROM summaries").fetchone()  # fails on a corrupt file
        except (sqlite3.Error, OSError):
            logger.warning("summary cache file %s is unusable; keeping summaries in memory", path)
            return None
        return db

    def _disable(self, action: str) -> None:
        logger.warning(
            "summary cache file %s failed on %s; keeping summaries in memory",
            self.path,
            action,
            exc_info=True,
        )
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        self._db = None

    def _read(self, key: str) -> str | None:
        db = self._db
        if db is None:
            return None
        try:
            row = db.execute("SELECT value FROM summaries WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None  # locked by another process for longer than the timeout: a miss
        except sqlite3.Error:
            self._disable("read")
            return None
        return None if row is None else str(row[0])

    def _write(self, key: str, value: str) -> None:
        db = self._db
        if db is None:
            return
        try:
            db.execute(
                "INSERT OR REPLACE INTO summaries (key, value, stored) VALUES (?, ?, ?)",
                (key, value, time.time()),
            )
            self._writes += 1
            if self._writes % 256 == 0:
                db.execute(
                    "DELETE FROM summaries WHERE key IN (SELECT key FROM summaries "
                    "ORDER BY stored DESC LIMIT -1 OFFSET ?)",
                    (self.max_stored,),
                )
            db.commit()
        except sqlite3.OperationalError:
            logger.debug("summary cache file busy; summary kept in memory only", exc_info=True)
        except sqlite3.Error:
            self._disable("write")
