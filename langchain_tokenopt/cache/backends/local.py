"""Embedded backend: SQLite (WAL) on disk plus an in-process vector index per scope.

Every committed entry survives a crash and is back after reopening (the vectors are
stored next to the payload and the index is rebuilt on open). One process owns a file at
a time: a second opener gets a clear :class:`~langchain_tokenopt.errors.CacheStorageError`
instead of silently diverging indexes; so does a corrupt or unreadable file.

Example:
    .. code-block:: python

        from langchain_tokenopt.cache import LocalBackend, SemanticCache

        cache = SemanticCache(backend=LocalBackend(path="./llm-cache.sqlite3"))
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Unpack

import numpy as np

from langchain_tokenopt.cache.backends.base import CacheBackend, EntryFilter, _shortlist
from langchain_tokenopt.cache.backends.vector_index import ScopeIndex
from langchain_tokenopt.cache.records import CacheEntry, Candidate, StoredEntry
from langchain_tokenopt.errors import CacheStorageError, TokenOptConfigError

__all__ = ["DEFAULT_EXACT_LIMIT", "LocalBackend"]

#: Vectors per scope below which exact numpy search is used (see ``vector_index``).
DEFAULT_EXACT_LIMIT = 5_000
#: 2 added per-entry lifetime, tags and hit counts (a version-1 file is migrated on open).
_SCHEMA_VERSION = 2
_TOUCH_BATCH = 256
#: Candidates taken from an HNSW scope and rescored with their float32 vectors.
_RERANK = 4
_COLUMNS = (
    "id, scope, model, model_name, tenant, user_key, text, payload, created_at, expires_at, vector,"
    " ttl, tags"
)
_LISTED = "id, text, tags, hits, created_at, expires_at, last_used, ttl"
#: Columns version 2 added, with their definitions (``ALTER TABLE`` on a version-1 file).
_ADDED_IN_2 = (
    ("ttl", "REAL"),
    ("tags", "TEXT NOT NULL DEFAULT ''"),
    ("hits", "INTEGER NOT NULL DEFAULT 0"),
)


def _lock_file(path: Path) -> IO[bytes]:
    try:
        handle = open(path, "a+b")  # noqa: SIM115 - held open for the backend's lifetime
    except OSError as exc:
        msg = f"cannot create the lock file of cache file {path.with_suffix('')}: {exc}"
        raise CacheStorageError(msg) from exc
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: SQLite's own locking still applies
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        msg = (
            f"cache file {path.with_suffix('')} is locked by another process; "
            "use a different path or a RedisBackend to share one cache between processes"
        )
        raise CacheStorageError(msg) from exc
    return handle


_INSERT = (
    f"INSERT OR REPLACE INTO entries ({_COLUMNS}, last_used, hits)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"
)


def _tags_column(tags: Sequence[str]) -> str:
    r"""Tags as stored: ``"\npricing\nfaq\n"`` (tags hold no control characters)."""
    return "\n" + "\n".join(tags) + "\n" if tags else ""


def _tags_of(column: str | None) -> tuple[str, ...]:
    return tuple(t for t in (column or "").split("\n") if t)


def _row(entry: CacheEntry) -> tuple[Any, ...]:
    return (
        entry.entry_id,
        entry.scope,
        entry.model,
        entry.model_name,
        entry.tenant,
        entry.user,
        entry.text,
        entry.payload,
        entry.created_at,
        entry.expires_at,
        entry.vector,
        entry.ttl,
        _tags_column(entry.tags),
        entry.created_at,
    )


def _where(where: EntryFilter) -> tuple[str, list[Any]]:
    """SQL condition and parameters of a filter (``""`` for none; tags: any of them)."""
    given = {
        "tenant": where.get("tenant"),
        "user_key": where.get("user"),
        "model": where.get("model"),
        "model_name": where.get("model_name"),
    }
    parts = [f"{col} = ?" for col, val in given.items() if val is not None]
    params: list[Any] = [val for val in given.values() if val is not None]
    tags = where.get("tags")
    if tags:
        parts.append("(" + " OR ".join("instr(tags, ?) > 0" for _ in tags) + ")")
        params.extend(f"\n{tag}\n" for tag in tags)
    return " AND ".join(parts), params


class LocalBackend(CacheBackend):
    """SQLite + in-process vector index, for one process (the default backend).

    Args:
        path: SQLite file; ``None`` uses ``semantic_cache.sqlite3`` in the user cache dir.
        max_entries: Upper bound on stored entries; least recently used are evicted
            (``None`` for no bound).
        exact_limit: Vectors per scope searched exactly before switching to usearch HNSW.

    Raises:
        CacheStorageError: the file is locked by another process, corrupt, not a SQLite
            database or cannot be created.
        TokenOptConfigError: an argument is out of range.

    Example:
        .. code-block:: python

            backend = LocalBackend(path="cache.sqlite3", max_entries=50_000)
    """

    def __init__(
        self,
        *,
        path: str | os.PathLike[str] | None = None,
        max_entries: int | None = 100_000,
        exact_limit: int = DEFAULT_EXACT_LIMIT,
    ) -> None:
        if max_entries is not None and (not isinstance(max_entries, int) or max_entries < 1):
            msg = f"max_entries must be a positive int or None, got {max_entries!r}"
            raise TokenOptConfigError(msg)
        if not isinstance(exact_limit, int) or exact_limit < 1:
            msg = f"exact_limit must be a positive int, got {exact_limit!r}"
            raise TokenOptConfigError(msg)
        if path is None:
            from langchain_tokenopt._assets import user_cache_dir

            path = user_cache_dir() / "semantic_cache.sqlite3"
        self.path = Path(path)
        self.max_entries = max_entries
        self.exact_limit = exact_limit
        self._lock = threading.RLock()
        self._indexes: dict[str, ScopeIndex] = {}
        self._scope_of: dict[str, str] = {}
        self._dim: int | None = None
        self._puts = 0
        self._n = 0
        # hits mark entries as used in memory; written in one batch before an eviction,
        # on close and every _TOUCH_BATCH hits (a crash only loses some LRU recency)
        self._touched: dict[str, tuple[float, int]] = {}  # id -> (last hit, hits since flush)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            msg = f"cannot create the folder of cache file {self.path}: {exc}"
            raise CacheStorageError(msg) from exc
        self._lock_handle = _lock_file(self.path.with_name(self.path.name + ".lock"))
        try:
            self._db = self._open()
            self._load()
        except sqlite3.DatabaseError as exc:
            self._lock_handle.close()
            msg = f"cache file {self.path} is corrupt or not a SQLite database: {exc}"
            raise CacheStorageError(msg) from exc
        except sqlite3.Error as exc:  # pragma: no cover - OperationalError is a DatabaseError
            self._lock_handle.close()
            msg = f"cannot open cache file {self.path}: {exc}"
            raise CacheStorageError(msg) from exc

    # ------------------------------------------------------------------ setup

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=1.0
        )
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            check = db.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                msg = f"integrity check failed: {check[0] if check else 'no answer'}"
                raise sqlite3.DatabaseError(msg)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, 1, _SCHEMA_VERSION):
                msg = f"unknown cache schema version {version}"
                raise sqlite3.DatabaseError(msg)
            db.execute(
                "CREATE TABLE IF NOT EXISTS entries ("
                "id TEXT PRIMARY KEY, scope TEXT NOT NULL, model TEXT NOT NULL,"
                " model_name TEXT NOT NULL, tenant TEXT NOT NULL, user_key TEXT NOT NULL,"
                " text TEXT NOT NULL, payload TEXT NOT NULL, created_at REAL NOT NULL,"
                " expires_at REAL, last_used REAL NOT NULL, vector BLOB, ttl REAL,"
                " tags TEXT NOT NULL DEFAULT '', hits INTEGER NOT NULL DEFAULT 0)"
            )
            have = {row[1] for row in db.execute("PRAGMA table_info(entries)")}
            for column, definition in _ADDED_IN_2:
                if column not in have:  # a version-1 file: its entries keep working
                    db.execute(f"ALTER TABLE entries ADD COLUMN {column} {definition}")
            db.execute("CREATE INDEX IF NOT EXISTS entries_lru ON entries(last_used)")
            db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except sqlite3.Error:
            db.close()
            raise
        return db

    def _load(self) -> None:
        self._n = self.count()
        by_scope: dict[str, tuple[list[str], list[np.ndarray]]] = {}
        for entry_id, scope, blob in self._db.execute(
            "SELECT id, scope, vector FROM entries WHERE vector IS NOT NULL"
        ):
            vec = np.frombuffer(blob, dtype=np.float32)
            ids, vecs = by_scope.setdefault(scope, ([], []))
            ids.append(entry_id)
            vecs.append(vec)
        for scope, (ids, vecs) in by_scope.items():
            self._dim = self._dim or int(vecs[0].shape[0])
            index = self._index(scope)
            index.add_many(ids, np.vstack(vecs))
            for entry_id in ids:
                self._scope_of[entry_id] = scope

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Hold the lock and turn SQLite failures into :class:`CacheStorageError`."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                msg = f"cannot {action} cache file {self.path}: {exc}"
                raise CacheStorageError(msg) from exc

    def _index(self, scope: str) -> ScopeIndex:
        index = self._indexes.get(scope)
        if index is None:
            index = ScopeIndex(dim=self._dim or 384, exact_limit=self.exact_limit)
            self._indexes[scope] = index
        return index

    # ------------------------------------------------------------------ reads

    @staticmethod
    def _entry(row: tuple[Any, ...]) -> CacheEntry:
        return CacheEntry(
            entry_id=row[0],
            scope=row[1],
            model=row[2],
            model_name=row[3],
            tenant=row[4],
            user=row[5],
            text=row[6],
            payload=row[7],
            created_at=row[8],
            expires_at=row[9],
            vector=row[10],
            ttl=row[11],
            tags=_tags_of(row[12]),
        )

    def get(self, entry_id: str, *, now: float) -> CacheEntry | None:
        """Return the live entry with this id, or ``None``."""
        with self._guard("read"):
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE id = ?", (entry_id,)
            ).fetchone()
        if row is None:
            return None
        entry = self._entry(row)
        if entry.expires_at is not None and entry.expires_at <= now:
            self.delete(entry_id)
            return None
        return entry

    def search(self, scope: str, vector: np.ndarray, *, now: float) -> Candidate | None:
        """Return the nearest live entry of ``scope`` (only that scope's vectors are searched).

        HNSW scopes return :data:`_RERANK` int8-scored candidates; each is rescored with its
        stored float32 vector, so the similarity compared with the threshold is exact.
        """
        found = self.search_candidates(scope, vector, now=now, k=1)
        return found[0] if found else None

    def search_candidates(
        self, scope: str, vector: np.ndarray, *, now: float, k: int, min_similarity: float = -1.0
    ) -> list[Candidate]:
        """Return up to ``k`` live entries of ``scope``, nearest first (see the base class).

        Exact scopes read only the entries that can be returned; HNSW scopes rescore at
        least :data:`_RERANK` int8-scored candidates with their float32 vectors first.
        """
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        with self._lock:
            index = self._indexes.get(scope)
            if index is None:
                return []
            approximate = index.approximate
            found = index.topk(query, max(k, _RERANK) if approximate else k)
        out: list[Candidate] = []
        for rank, (entry_id, score) in enumerate(found):
            if not approximate and rank and score < min_similarity:
                break  # exact scores, nearest first: nothing further can qualify
            entry = self.get(entry_id, now=now)
            if entry is None:
                continue
            if approximate and entry.vector is not None:
                score = float(np.dot(np.frombuffer(entry.vector, dtype=np.float32), query))
            out.append(Candidate(entry=entry, similarity=score))
        return _shortlist(out, k, min_similarity)

    def count(self) -> int:
        """Return the number of stored entries."""
        with self._guard("read"):
            return int(self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    # ------------------------------------------------------------------ writes

    def put(self, entry: CacheEntry) -> None:
        """Insert or replace an entry, then evict LRU entries over ``max_entries``."""
        with self._guard("write to"):
            exists = self._db.execute(
                "SELECT 1 FROM entries WHERE id = ?", (entry.entry_id,)
            ).fetchone()
            self._db.execute(_INSERT, _row(entry))
            self._touched.pop(entry.entry_id, None)  # a rewrite starts its hit count afresh
            old_scope = self._scope_of.pop(entry.entry_id, None)
            if old_scope is not None:
                self._indexes[old_scope].remove(entry.entry_id)
            if entry.vector is not None:
                vec = np.frombuffer(entry.vector, dtype=np.float32)
                self._dim = self._dim or int(vec.shape[0])
                self._index(entry.scope).add(entry.entry_id, vec)
                self._scope_of[entry.entry_id] = entry.scope
            self._n += 0 if exists else 1
            self._puts += 1
            if self._puts % 1000 == 0:
                self._purge_expired(entry.created_at)
            self._evict()

    def put_many(self, entries: Sequence[CacheEntry]) -> None:
        """Insert or replace many entries in one transaction with bulk index adds.

        The fast path for warming a cache or importing one (the scale bench loads 1M
        entries this way); per-entry :meth:`put` costs a statement and an index insert each.
        """
        if not entries:
            return
        fresh: dict[str, CacheEntry] = {}
        for entry in entries:
            fresh[entry.entry_id] = entry
        with self._guard("write to"):
            ids = list(fresh)
            known: set[str] = set()
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                known.update(
                    r[0]
                    for r in self._db.execute(
                        f"SELECT id FROM entries WHERE id IN ({marks})", chunk
                    )
                )
            self._db.execute("BEGIN")
            try:
                self._db.executemany(_INSERT, (_row(e) for e in fresh.values()))
                self._db.execute("COMMIT")
            except sqlite3.Error:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
            by_scope: dict[str, tuple[list[str], list[bytes]]] = {}
            for entry in fresh.values():
                self._touched.pop(entry.entry_id, None)
                old_scope = self._scope_of.pop(entry.entry_id, None)
                if old_scope is not None:
                    self._indexes[old_scope].remove(entry.entry_id)
                if entry.vector is not None:
                    scope_ids, blobs = by_scope.setdefault(entry.scope, ([], []))
                    scope_ids.append(entry.entry_id)
                    blobs.append(entry.vector)
            for scope, (scope_ids, blobs) in by_scope.items():
                matrix = np.frombuffer(b"".join(blobs), dtype=np.float32)
                matrix = matrix.reshape(len(scope_ids), -1)
                self._dim = self._dim or int(matrix.shape[1])
                self._index(scope).add_many(scope_ids, matrix)
                for entry_id in scope_ids:
                    self._scope_of[entry_id] = scope
            self._n += len(fresh) - len(known)
            self._puts += len(fresh)
            self._evict()

    def _purge_expired(self, now: float) -> None:
        ids = [
            r[0]
            for r in self._db.execute(
                "SELECT id FROM entries WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
            )
        ]
        self._delete_ids(ids)

    def _evict(self) -> None:
        if self.max_entries is None:
            return
        excess = self._n - self.max_entries
        if excess <= 0:
            return
        self._flush_touches()
        ids = [
            r[0]
            for r in self._db.execute(
                "SELECT id FROM entries ORDER BY last_used ASC LIMIT ?", (excess,)
            )
        ]
        self._delete_ids(ids)

    def _delete_ids(self, ids: list[str]) -> int:
        if not ids:
            return 0
        with self._guard("delete from"):
            self._db.execute("BEGIN")
            try:
                cur = self._db.executemany("DELETE FROM entries WHERE id = ?", [(i,) for i in ids])
                deleted = max(cur.rowcount, 0)
                self._db.execute("COMMIT")
            except sqlite3.Error:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
            self._n -= deleted
            for entry_id in ids:
                self._touched.pop(entry_id, None)
                scope = self._scope_of.pop(entry_id, None)
                if scope is not None:
                    self._indexes[scope].remove(entry_id)
        return deleted

    def touch(self, entry_id: str, *, now: float, expires_at: float | None = None) -> None:
        """Count a hit and mark the entry used now (written to the file in batches).

        A new ``expires_at`` (refresh-on-hit) is written at once, to an entry that has one.
        """
        with self._lock:
            _, hits = self._touched.get(entry_id, (now, 0))
            self._touched[entry_id] = (now, hits + 1)
            if expires_at is not None:
                with self._guard("write"):
                    self._db.execute(
                        "UPDATE entries SET expires_at = ? WHERE id = ? AND expires_at IS NOT NULL",
                        (expires_at, entry_id),
                    )
            if len(self._touched) >= _TOUCH_BATCH:
                self._flush_touches()

    def _flush_touches(self) -> None:
        if not self._touched:
            return
        with self._guard("write"):
            rows = [(t, n, i) for i, (t, n) in self._touched.items()]
            self._touched.clear()
            self._db.executemany(
                "UPDATE entries SET last_used = ?, hits = hits + ? WHERE id = ?", rows
            )

    def delete(self, entry_id: str) -> bool:
        """Delete one entry; return whether it existed."""
        with self._guard("delete from"):
            exists = self._db.execute("SELECT 1 FROM entries WHERE id = ?", (entry_id,)).fetchone()
            if exists is None:
                return False
            self._delete_ids([entry_id])
            return True

    def clear(self, **where: Unpack[EntryFilter]) -> int:
        """Delete all entries, or those matching every filter (any of ``tags``); return how many."""
        condition, params = _where(where)
        with self._guard("clear"):
            if not condition:
                n = self.count()
                self._db.execute("DELETE FROM entries")
                self._touched.clear()
                self._n = 0
                self._indexes.clear()
                self._scope_of.clear()
                return n
            selected = self._db.execute(f"SELECT id FROM entries WHERE {condition}", params)
            ids = [r[0] for r in selected]
            return self._delete_ids(ids)

    def entries(
        self, *, now: float, limit: int | None = None, **where: Unpack[EntryFilter]
    ) -> list[StoredEntry]:
        """List live entries matching every filter (any of ``tags``), newest first."""
        condition, params = _where(where)
        live = "(expires_at IS NULL OR expires_at > ?)"
        sql = (
            f"SELECT {_LISTED} FROM entries WHERE {condition + ' AND ' if condition else ''}{live}"
            " ORDER BY created_at DESC, id LIMIT ?"
        )
        with self._guard("read"):
            self._flush_touches()
            rows = self._db.execute(sql, [*params, now, -1 if limit is None else limit])
            return [
                StoredEntry(
                    entry_id=r[0],
                    text=r[1],
                    tags=_tags_of(r[2]),
                    hits=int(r[3]),
                    created_at=r[4],
                    expires_at=r[5],
                    last_used=r[6],
                    ttl=r[7],
                )
                for r in rows
            ]

    # ------------------------------------------------------------------ calibration state

    def _calibration_table(self) -> None:
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS calibration (key TEXT PRIMARY KEY, state TEXT NOT NULL)"
        )

    def calibration_states(self) -> dict[str, str]:
        """Return the stored threshold-calibration states, by key (a side table)."""
        with self._guard("read calibration from"):
            self._calibration_table()
            return dict(self._db.execute("SELECT key, state FROM calibration").fetchall())

    def save_calibration_state(self, key: str, state: str) -> None:
        """Insert or replace one threshold-calibration state."""
        with self._guard("write calibration to"):
            self._calibration_table()
            self._db.execute(
                "INSERT OR REPLACE INTO calibration (key, state) VALUES (?, ?)", (key, state)
            )

    def delete_calibration_state(self, key: str | None = None) -> None:
        """Delete one threshold-calibration state, or all of them (``None``)."""
        with self._guard("reset calibration in"):
            self._calibration_table()
            if key is None:
                self._db.execute("DELETE FROM calibration")
            else:
                self._db.execute("DELETE FROM calibration WHERE key = ?", (key,))

    def close(self) -> None:
        """Close the database and release the file lock."""
        with self._lock:
            with contextlib.suppress(sqlite3.Error, CacheStorageError):
                self._flush_touches()
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._lock_handle.close()
