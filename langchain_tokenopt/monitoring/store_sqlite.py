"""SQLite metrics store: WAL journal, batched writes in a background thread, retention.

Several threads and processes may write the same file: each batch is one transaction,
WAL lets readers run during writes, and ``busy_timeout`` makes writers queue instead of
failing. A process killed mid-batch loses at most the batch it had not committed; the
file itself stays consistent (SQLite's journal rolls the partial transaction back). A file
that is locked past ``busy_timeout``, corrupt or read-only never reaches the request path:
the writer drops the batch, counts it (``failed``) and logs one warning per outage.

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring import SQLiteMetricsStore, TokenOptCallbackHandler

        store = SQLiteMetricsStore(path="metrics.sqlite", retention_days=30)
        handler = TokenOptCallbackHandler(store=store)
        print(store.summary(window="24h", group_by=("model",)).requests)
"""

from __future__ import annotations

import contextlib
import logging
import math
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from langchain_tokenopt.errors import MonitoringError, TokenOptConfigError
from langchain_tokenopt.monitoring.records import RequestRecord, record_to_json
from langchain_tokenopt.monitoring.store import MetricsStore

logger = logging.getLogger(__name__)

__all__ = ["SQLiteMetricsStore", "default_metrics_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    request_id TEXT NOT NULL,
    model TEXT,
    tenant_id TEXT,
    cache_hit INTEGER NOT NULL,
    error_type TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts);
"""


def default_metrics_path() -> Path:
    """``user_cache_dir()/metrics.sqlite``, the default store file."""
    from langchain_tokenopt._assets import user_cache_dir

    return Path(user_cache_dir()) / "metrics.sqlite"


class SQLiteMetricsStore(MetricsStore):
    """Store records in a SQLite file (the default store).

    Args:
        path: Database file; default ``user_cache_dir()/metrics.sqlite``.
        retention_days: Rows older than this are deleted (checked hourly by the writer);
            ``None`` keeps everything.
        busy_timeout_ms: How long a writer waits for another process's lock.
        **kwargs: :class:`~langchain_tokenopt.monitoring.store.MetricsStore` options
            (``pricer``, ``batch_size``, ``flush_interval``, ``max_queue``).

    Raises:
        MonitoringError: The file cannot be opened or is not a metrics database.

    Example:
        .. code-block:: python

            store = SQLiteMetricsStore(path="metrics.sqlite", batch_size=500)
            store.add(record)
            store.flush()
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        retention_days: float | None = 30.0,
        busy_timeout_ms: int = 10_000,
        **kwargs: object,
    ) -> None:
        if retention_days is not None and not (
            math.isfinite(retention_days) and retention_days > 0
        ):
            msg = f"retention_days must be a finite number > 0 or None, got {retention_days}"
            raise TokenOptConfigError(msg)
        if busy_timeout_ms < 0:
            msg = f"busy_timeout_ms must be >= 0, got {busy_timeout_ms}"
            raise TokenOptConfigError(msg)
        self.path = Path(path) if path is not None else default_metrics_path()
        self.retention_days = retention_days
        self._busy_ms = busy_timeout_ms
        self._local = threading.local()
        self._last_retention = 0.0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._conn()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            msg = f"cannot open metrics database {self.path}: {exc}"
            raise MonitoringError(msg) from exc
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self._busy_ms / 1000.0, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_ms)}")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def _close_thread_connection(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _writer_stopped(self) -> None:
        self._close_thread_connection()

    def close(self) -> None:
        """Flush, stop the writer and close this thread's connection."""
        super().close()
        self._close_thread_connection()

    def _write(self, records: list[RequestRecord]) -> None:
        rows = [
            (
                r.timestamp,
                r.request_id,
                r.model,
                r.tenant_id,
                int(r.cache_hit),
                r.error_type,
                record_to_json(r),
            )
            for r in records
        ]
        try:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:
            self._close_thread_connection()  # reopen next batch (file replaced, unlocked)
            raise
        try:
            conn.executemany(
                "INSERT INTO requests (ts, request_id, model, tenant_id, cache_hit,"
                " error_type, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._close_thread_connection()
            raise
        self._apply_retention(conn)

    def _describe_write_error(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split())
        low = text.lower()
        if "locked" in low or "busy" in low:
            state = f"is locked by another connection for over {self._busy_ms} ms"
        elif "malformed" in low or "not a database" in low or "corrupt" in low:
            state = "is corrupt"
        elif "readonly" in low or "read-only" in low:
            state = "is read-only"
        elif "full" in low:
            state = "is on a full disk"
        else:
            state = "cannot be written"
        return f"metrics database {self.path} {state} ({type(exc).__name__}: {text})"

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        """Run a read query; a locked or corrupt file is a :class:`MonitoringError`."""
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            self._close_thread_connection()
            msg = f"cannot read metrics database {self.path}: {exc}"
            raise MonitoringError(msg) from exc

    def _apply_retention(self, conn: sqlite3.Connection, *, force: bool = False) -> int:
        if self.retention_days is None:
            return 0
        now = time.time()
        if not force and now - self._last_retention < 3600:
            return 0
        self._last_retention = now
        cur = conn.execute(
            "DELETE FROM requests WHERE ts < ?", (now - self.retention_days * 86400.0,)
        )
        return cur.rowcount

    def apply_retention(self) -> int:
        """Delete rows older than ``retention_days`` now; return how many."""
        return self._apply_retention(self._conn(), force=True)

    def _read(self, since: float | None) -> list[RequestRecord]:
        if since is None:
            rows = self._query("SELECT id, data FROM requests ORDER BY ts")
        else:
            rows = self._query("SELECT id, data FROM requests WHERE ts >= ? ORDER BY ts", (since,))
        out = []
        for row_id, data in rows:
            record = self._decode(row_id, data)
            if record is not None:
                out.append(record)
        return out

    def count(self) -> int:
        """Number of stored rows."""
        return int(self._query("SELECT COUNT(*) FROM requests")[0][0])
