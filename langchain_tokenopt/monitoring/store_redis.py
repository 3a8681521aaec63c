"""Redis metrics store for fleets: several app servers write, one dashboard reads.

Records live in one sorted set ``{key_prefix}records`` scored by timestamp (the member
is the record's JSON, unique through its request id and time), so a window query is one
``ZRANGEBYSCORE`` and retention one ``ZREMRANGEBYSCORE``. Writes are pipelined in the
store's background thread; the request path never touches the network. A write Redis
refuses for any reason (down, timeout, not Redis, refused password, a command error)
drops the batch with one warning per outage naming the cause; queries raise
:class:`~langchain_tokenopt.errors.BackendUnavailableError`.

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
from collections.abc import Callable
from typing import Any, TypeVar

from langchain_tokenopt.errors import (
    BackendUnavailableError,
    MissingDependencyError,
    TokenOptConfigError,
)
from langchain_tokenopt.monitoring.records import RequestRecord, record_to_json
from langchain_tokenopt.monitoring.store import MetricsStore

logger = logging.getLogger(__name__)
T = TypeVar("T")

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
        BackendUnavailableError: The server does not answer ``PING`` at construction
            (down, not Redis, password refused); the message names the cause.

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
        self._redis_errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._where = url if client is None else repr(client)
        try:
            self._client.ping()
        except self._redis_errors as exc:
            msg = f"Redis metrics store cannot use the server at {self._where}: {_cause(exc)}"
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

    def _describe_write_error(self, exc: BaseException) -> str:
        return f"Redis metrics store at {self._where} unavailable: {_cause(exc)}"

    def _call(self, fn: Callable[[], T]) -> T:
        """Run a query; any Redis or wire error becomes a :class:`BackendUnavailableError`."""
        try:
            return fn()
        except self._redis_errors as exc:
            msg = f"Redis metrics store at {self._where} unavailable: {_cause(exc)}"
            raise BackendUnavailableError(msg) from exc

    def apply_retention(self) -> int:
        """Remove records older than ``retention_days`` now; return how many."""
        if self.retention_days is None:
            return 0
        cutoff = time.time() - self.retention_days * 86400.0
        return int(self._call(lambda: self._client.zremrangebyscore(self.key, "-inf", cutoff)))

    def _read(self, since: float | None) -> list[RequestRecord]:
        low: float | str = "-inf" if since is None else since
        out = []
        for raw in self._call(lambda: self._client.zrangebyscore(self.key, low, "+inf")):
            record = self._decode(raw, raw)
            if record is not None:
                out.append(record)
        return out

    def count(self) -> int:
        """Number of stored records."""
        return int(self._call(lambda: self._client.zcard(self.key)))

    def clear(self) -> None:
        """Delete this store's keys."""
        self._call(lambda: self._client.delete(self.key))


def _cause(exc: BaseException) -> str:
    """One line naming what went wrong (protocol, auth, timeout, refused command)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    name = type(exc).__name__
    low = text.lower()
    if name == "InvalidResponse" or "protocol error" in low:
        return f"the server does not speak the Redis protocol ({text})"
    if name in ("AuthenticationError", "AuthorizationError") or any(
        word in low for word in ("noauth", "wrongpass", "noperm")
    ):
        return f"authentication or permission refused ({text})"
    if "timeout" in name.lower() or "timed out" in low:
        return f"no answer in time ({text})"
    if name == "ResponseError":
        return f"the server refused a command ({text})"
    return f"{name}: {text}"
