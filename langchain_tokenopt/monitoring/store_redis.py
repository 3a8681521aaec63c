"""Redis metrics store for fleets: several app servers write, one dashboard reads.

Records live in one sorted set ``{key_prefix}records`` scored by timestamp (the member
is the record's JSON, unique through its request id and time), so a window query is one
``ZRANGEBYSCORE`` and retention one ``ZREMRANGEBYSCORE``. Writes are pipelined in the
store's background thread; the request path never touches the network.

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring import RedisMetricsStore, TokenOptCallbackHandler

        store = RedisMetricsStore(url="redis://localhost:6379/0", key_prefix="myapp:metrics:")
        handler = TokenOptCallbackHandler(store=store)
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from langchain_tokenopt.errors import (
    BackendUnavailableError,
    MissingDependencyError,
    TokenOptConfigError,
)
from langchain_tokenopt.monitoring.records import RequestRecord, record_to_json
from langchain_tokenopt.monitoring.store import MetricsStore

logger = logging.getLogger(__name__)

__all__ = ["RedisMetricsStore"]


class RedisMetricsStore(MetricsStore):
    """Store records in Redis (extra ``redis``), same query API as the SQLite store.

    Args:
        url: Redis URL (ignored when ``client`` is given).
        client: An existing ``redis.Redis`` client.
        key_prefix: Prefix of the keys this store owns.
        retention_days: Records older than this are removed (hourly); ``None`` keeps all.
        socket_timeout: Seconds for Redis socket operations.
        **kwargs: :class:`~langchain_tokenopt.monitoring.store.MetricsStore` options.

    Raises:
        MissingDependencyError: redis-py is not installed.
        BackendUnavailableError: The server does not answer at construction.

    Example:
        .. code-block:: python

            store = RedisMetricsStore(url="redis://127.0.0.1:6379/0")
            print(store.summary(window="1h").requests)
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        client: Any = None,
        key_prefix: str = "tokenopt:metrics:",
        retention_days: float | None = 30.0,
        socket_timeout: float = 5.0,
        **kwargs: object,
    ) -> None:
        if not key_prefix:
            msg = "key_prefix must be a non-empty string"
            raise TokenOptConfigError(msg)
        if retention_days is not None and not (
            math.isfinite(retention_days) and retention_days > 0
        ):
            msg = f"retention_days must be a finite number > 0 or None, got {retention_days}"
            raise TokenOptConfigError(msg)
        try:
            import redis
        except ImportError as exc:
            raise MissingDependencyError("redis-py", extra="redis") from exc
        self._client = client or redis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )
        try:
            self._client.ping()
        except redis.RedisError as exc:
            msg = f"Redis metrics store cannot reach the server: {exc}"
            raise BackendUnavailableError(msg) from exc
        self.key = f"{key_prefix}records"
        self.retention_days = retention_days
        self._last_retention = 0.0
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def _write(self, records: list[RequestRecord]) -> None:
        pipe = self._client.pipeline(transaction=False)
        pipe.zadd(self.key, {record_to_json(r): r.timestamp for r in records})
        now = time.time()
        if self.retention_days is not None and now - self._last_retention >= 3600:
            self._last_retention = now
            pipe.zremrangebyscore(self.key, "-inf", now - self.retention_days * 86400.0)
        pipe.execute()

    def apply_retention(self) -> int:
        """Remove records older than ``retention_days`` now; return how many."""
        if self.retention_days is None:
            return 0
        cutoff = time.time() - self.retention_days * 86400.0
        return int(self._client.zremrangebyscore(self.key, "-inf", cutoff))

    def _read(self, since: float | None) -> list[RequestRecord]:
        low: float | str = "-inf" if since is None else since
        out = []
        for raw in self._client.zrangebyscore(self.key, low, "+inf"):
            record = self._decode(raw, raw)
            if record is not None:
                out.append(record)
        return out

    def count(self) -> int:
        """Number of stored records."""
        return int(self._client.zcard(self.key))

    def clear(self) -> None:
        """Delete this store's keys."""
        self._client.delete(self.key)
