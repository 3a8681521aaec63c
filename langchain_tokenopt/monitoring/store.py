"""The metrics-store contract, the background writer they share, and an in-memory store.

Every store takes records with :meth:`MetricsStore.add`, which only appends to a queue
and returns at once: a daemon writer thread prices the records and writes them in
batches, so the request path never waits on disk or network. A full queue drops the
record and counts it (``dropped``) rather than block. A batch the store refuses (a locked
or corrupt file, Redis down or not Redis) is dropped and counted (``failed``), with one
warning naming the cause per outage and one more when writes succeed again.

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring import MemoryMetricsStore

        store = MemoryMetricsStore()
        store.add(record)
        store.flush()
        print(store.summary(window="1h").requests)
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import queue
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.monitoring.pricing import Pricer
from langchain_tokenopt.monitoring.records import RequestRecord, record_from_json
from langchain_tokenopt.monitoring.summary import (
    GroupBy,
    Summary,
    Window,
    parse_window,
    summarize,
)

logger = logging.getLogger(__name__)

__all__ = ["BackgroundWriter", "MemoryMetricsStore", "MetricsStore"]

# Put on the queue by flush(): wakes a writer that is waiting for more records, so the
# partial batch is written now instead of after the flush interval.
_WAKE = object()


def _describe_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"writing records failed ({type(exc).__name__}: {text})"


class BackgroundWriter:
    """A daemon thread that drains a queue and hands batches to ``write_batch``.

    Args:
        write_batch: Called in the writer thread with up to ``batch_size`` records.
        batch_size: Most records per write.
        flush_interval: Seconds to wait for more records before writing a partial batch.
        max_queue: Records held before new ones are dropped (0: unbounded).
        name: Thread name.
        on_stop: Called in the writer thread when it stops (e.g. to close a connection).
        describe_error: Turns a failed write into the one-line cause of the warning
            logged once per outage (default: the exception's type and message).

    Example:
        .. code-block:: python

            writer = BackgroundWriter(print_batch, batch_size=100, flush_interval=0.5)
            writer.put(record)
            writer.flush()
            writer.close()
    """

    def __init__(
        self,
        write_batch: Callable[[list[RequestRecord]], None],
        *,
        batch_size: int = 256,
        flush_interval: float = 0.5,
        max_queue: int = 100_000,
        name: str = "tokenopt-metrics-writer",
        on_stop: Callable[[], None] | None = None,
        describe_error: Callable[[BaseException], str] | None = None,
    ) -> None:
        if batch_size < 1:
            msg = f"batch_size must be >= 1, got {batch_size}"
            raise TokenOptConfigError(msg)
        if not math.isfinite(flush_interval) or flush_interval <= 0:
            msg = f"flush_interval must be a finite number of seconds > 0, got {flush_interval}"
            raise TokenOptConfigError(msg)
        if max_queue < 0:
            msg = f"max_queue must be >= 0, got {max_queue}"
            raise TokenOptConfigError(msg)
        self._write_batch = write_batch
        self._on_stop = on_stop
        self._describe = describe_error or _describe_error
        self._failing_since: float | None = None
        self._failed_at_start = 0
        self._batch_size = batch_size
        self._interval = flush_interval
        self._queue: queue.Queue[RequestRecord | object | None] = queue.Queue(maxsize=max_queue)
        self._idle = threading.Condition()
        self._pending = 0
        self.written = 0
        """Records written so far."""
        self.dropped = 0
        """Records dropped because the queue was full."""
        self.failed = 0
        """Records dropped because a batch write raised (store locked, corrupt, down)."""
        self._closed = False
        self._urgent = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, record: RequestRecord) -> None:
        """Queue a record; never blocks (drops and counts when the queue is full)."""
        if self._closed:
            self.dropped += 1
            return
        with self._idle:
            self._pending += 1
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            with self._idle:
                self._pending -= 1
                self.dropped += 1

    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                first = self._queue.get(timeout=self._interval)
            except queue.Empty:
                continue
            if first is _WAKE:
                continue
            batch: list[RequestRecord] = []
            if first is None:
                stop = True
            else:
                batch.append(first)  # type: ignore[arg-type]
            deadline = time.monotonic() + self._interval
            while not stop and len(batch) < self._batch_size:
                # a pending flush() wants what is queued now, not after the interval
                timeout = 0.0 if self._urgent.is_set() else deadline - time.monotonic()
                try:
                    item = (
                        self._queue.get(timeout=timeout)
                        if timeout > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is _WAKE:
                    break
                if item is None:
                    stop = True
                else:
                    batch.append(item)  # type: ignore[arg-type]
            if batch:
                try:
                    self._write_batch(batch)
                except Exception as exc:
                    self._write_failed(exc, len(batch))
                else:
                    self.written += len(batch)
                    self._write_succeeded()
                with self._idle:
                    self._pending -= len(batch)
                    self._idle.notify_all()
        if self._on_stop is not None:
            try:
                self._on_stop()
            except Exception:
                logger.debug("tokenopt metrics: writer stop hook failed", exc_info=True)

    def _write_failed(self, exc: BaseException, count: int) -> None:
        """Drop the batch; warn once per outage with its cause (traceback at debug level)."""
        self.failed += count
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            self._failed_at_start = self.failed - count
            logger.warning(
                "tokenopt metrics: %s; dropping records until the store accepts writes again",
                self._describe(exc),
            )
        logger.debug("tokenopt metrics: writing %d records failed", count, exc_info=exc)

    def _write_succeeded(self) -> None:
        if self._failing_since is None:
            return
        logger.warning(
            "tokenopt metrics: the store accepts writes again after %.1f s (%d records dropped)",
            time.monotonic() - self._failing_since,
            self.failed - self._failed_at_start,
        )
        self._failing_since = None

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every queued record is written; return ``False`` on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._urgent.set()
        with self._idle:
            waiting = self._pending > 0
        if waiting:
            # a full queue fills the batch at once: nothing to wake then
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(_WAKE)
        try:
            with self._idle:
                while self._pending > 0 and self._thread.is_alive():
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._idle.wait(min(remaining, 0.05) if remaining is not None else 0.05)
        finally:
            self._urgent.clear()
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)


class MetricsStore(ABC):
    """Where records go, and the query API every backend shares.

    Subclasses implement :meth:`_write` (called in the writer thread) and
    :meth:`_read` (records since a time). Records are priced in the writer thread.

    Args:
        pricer: Prices records before they are stored (default: ``genai-prices`` data).
        batch_size: Records per batch write.
        flush_interval: Seconds before a partial batch is written.
        max_queue: Queue bound; beyond it records are dropped, never blocking the caller.
        decode_cache: Parsed records kept in memory (by row id / member), so repeated
            queries (dashboard refreshes) only parse new rows; 0 disables.
    """

    def __init__(
        self,
        *,
        pricer: Pricer | None = None,
        batch_size: int = 256,
        flush_interval: float = 0.5,
        max_queue: int = 100_000,
        decode_cache: int = 200_000,
    ) -> None:
        if decode_cache < 0:
            msg = f"decode_cache must be >= 0, got {decode_cache}"
            raise TokenOptConfigError(msg)
        self._decoded: dict[object, RequestRecord] = {}
        self._decode_max = decode_cache
        self._decode_lock = threading.Lock()
        self.pricer = pricer if pricer is not None else Pricer()
        self._pricing_failed: set[str | None] = set()
        self._writer = BackgroundWriter(
            self._price_and_write,
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_queue=max_queue,
            name=f"tokenopt-{type(self).__name__}",
            on_stop=self._writer_stopped,
            describe_error=self._describe_write_error,
        )
        ref = weakref.ref(self)

        def _close_at_exit() -> None:
            store = ref()
            if store is not None:
                store.close()

        atexit.register(_close_at_exit)

    # -- writing -------------------------------------------------------------------------
    def add(self, record: RequestRecord) -> None:
        """Queue a record for writing (returns immediately)."""
        self._writer.put(record)

    def _price_and_write(self, batch: list[RequestRecord]) -> None:
        priced = []
        for record in batch:
            if record.cost is None:
                try:
                    record = replace(record, cost=self.pricer.price(record))
                except Exception as exc:
                    self._pricing_error(record.model, exc)
            priced.append(record)
        self._write(priced)

    def _pricing_error(self, model: str | None, exc: Exception) -> None:
        """Keep the record unpriced; warn once per model, not once per record."""
        if model not in self._pricing_failed:
            self._pricing_failed.add(model)
            logger.warning(
                "tokenopt metrics: pricing %s failed (%s: %s); its records stay unpriced",
                model,
                type(exc).__name__,
                exc,
            )
        logger.debug("tokenopt metrics: pricing %s failed", model, exc_info=exc)

    def _writer_stopped(self) -> None:
        """Hook run in the writer thread as it stops (release thread-bound resources)."""
        return None

    def _describe_write_error(self, exc: BaseException) -> str:
        """One-line cause of a failed batch write, for the once-per-outage warning."""
        return _describe_error(exc)

    @abstractmethod
    def _write(self, records: list[RequestRecord]) -> None:
        """Persist a batch (writer thread)."""

    @abstractmethod
    def _read(self, since: float | None) -> list[RequestRecord]:
        """Records with ``timestamp >= since`` (all when ``None``), oldest first."""

    def _decode(self, key: object, raw: str | bytes) -> RequestRecord | None:
        """Parse a stored record, memoized by ``key`` (rows are immutable once written)."""
        with self._decode_lock:
            hit = self._decoded.get(key)
        if hit is not None:
            return hit
        try:
            record = record_from_json(raw)
        except (ValueError, TypeError):
            logger.warning("tokenopt metrics: skipping an unreadable stored record")
            return None
        if self._decode_max:
            with self._decode_lock:
                if len(self._decoded) >= self._decode_max:
                    # drop the oldest half (dicts keep insertion order)
                    for old in list(self._decoded)[: self._decode_max // 2]:
                        del self._decoded[old]
                self._decoded[key] = record
        return record

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Block until queued records are stored (for tests, CLIs and shutdown)."""
        return self._writer.flush(timeout)

    def close(self) -> None:
        """Flush and stop the writer thread."""
        self._writer.close()

    @property
    def dropped(self) -> int:
        """Records dropped because the queue was full."""
        return self._writer.dropped

    @property
    def written(self) -> int:
        """Records written by this process."""
        return self._writer.written

    @property
    def failed(self) -> int:
        """Records dropped because the store refused the write (locked, corrupt, down)."""
        return self._writer.failed

    # -- querying ------------------------------------------------------------------------
    def records(self, window: Window = None) -> list[RequestRecord]:
        """Stored records in ``window`` (e.g. ``"24h"``; ``None``: all), oldest first."""
        seconds = parse_window(window)
        since = None if seconds is None else time.time() - seconds
        return self._read(since)

    def summary(
        self, window: Window = "24h", group_by: GroupBy = (), *, price_as: str | None = None
    ) -> Summary:
        """Summarize the records of ``window``, optionally per group (see :func:`summarize`).

        Args:
            window: ``"24h"``, ``"7d"``, seconds, or ``None`` / ``"all"``.
            group_by: Group keys (:data:`~langchain_tokenopt.monitoring.summary.GROUP_KEYS`).
            price_as: Re-price every record as this model (:meth:`Pricer.price_as`);
                ``None`` keeps the costs they were stored with.

        Raises:
            TokenOptConfigError: a bad window or group key, or ``price_as`` has no price.
        """
        if price_as is not None:
            self.pricer.require(price_as)
        records = self.records(window)
        if price_as is not None:
            records = self.pricer.price_as(records, price_as)
        return summarize(records, group_by=group_by, window=window)

    def __enter__(self) -> MetricsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MemoryMetricsStore(MetricsStore):
    """Keep the last ``max_records`` records in memory (tests, notebooks, single process).

    Args:
        max_records: Ring-buffer size.
        **kwargs: Passed to :class:`MetricsStore` (``pricer``, ``batch_size``, ...).

    Example:
        .. code-block:: python

            store = MemoryMetricsStore(max_records=10_000)
            handler = TokenOptCallbackHandler(store=store)
    """

    def __init__(self, *, max_records: int = 100_000, **kwargs: object) -> None:
        if max_records < 1:
            msg = f"max_records must be >= 1, got {max_records}"
            raise TokenOptConfigError(msg)
        self._buffer: deque[RequestRecord] = deque(maxlen=max_records)
        self._lock = threading.Lock()
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def _write(self, records: list[RequestRecord]) -> None:
        with self._lock:
            self._buffer.extend(records)

    def _read(self, since: float | None) -> list[RequestRecord]:
        with self._lock:
            items = list(self._buffer)
        if since is not None:
            items = [r for r in items if r.timestamp >= since]
        return sorted(items, key=lambda r: r.timestamp)
