"""``TokenOptCallbackHandler``: one :class:`RequestRecord` per LLM request.

The handler listens to LangChain's chat-model / LLM callbacks for usage, latency, errors
and response-cache hits, and takes optimizer-step reports from the graph through an
explicit API keyed by a request id that the graph also puts in the run metadata:

.. code-block:: python

    from langchain_tokenopt.monitoring import REQUEST_ID_KEY, StepEvent

    # in the graph, once per user request:
    config = {"callbacks": [handler], "metadata": {REQUEST_ID_KEY: rid, "tenant_id": "acme"}}
    # in a node, after the step ran:
    handler.record_step(rid, StepEvent(step="compression", tokens_before=900, tokens_after=300,
                                       latency_ms=2.5))
    # or, from a node that only has its RunnableConfig (see monitoring.reporting):
    report_step(config, StepEvent(step="context", tokens_before=900, tokens_after=600))

Steps reported under a request id are attached to the *next* model call that finishes
with that id in its metadata (or to :meth:`record_cache_hit` when the response cache
answered and no model ran). Records go to the store's queue; the hot path takes one lock
and never waits on disk or network (measured by ``python -m bench monitoring``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Unpack
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.monitoring.records import (
    CACHE_LAYERS,
    RequestRecord,
    StepEvent,
    TokenUsage,
)
from langchain_tokenopt.monitoring.usage import extract_usage
from langchain_tokenopt.protocols import CacheHitReport

if TYPE_CHECKING:
    from langchain_tokenopt.monitoring.otel import OpenTelemetrySink
    from langchain_tokenopt.monitoring.store import MetricsStore
    from langchain_tokenopt.monitoring.summary import GroupBy, Summary, Window

logger = logging.getLogger(__name__)

__all__ = ["REPLAY_MARKER", "REQUEST_ID_KEY", "TokenOptCallbackHandler", "find_handlers"]

#: Run-metadata key carrying the request id that steps are reported under.
REQUEST_ID_KEY = "tokenopt_request_id"
#: ``response_metadata`` flag of a cached answer replayed by the graph (not a model call).
REPLAY_MARKER = "tokenopt_cache_replay"
#: Run-metadata keys read for the tenant and the user.
TENANT_KEY = "tenant_id"
USER_KEY = "user_id"


@dataclass(slots=True)
class _Run:
    request_id: str
    started: float
    model: str | None
    provider: str | None
    tenant_id: str | None
    user_id: str | None
    tools_bound: int | None
    first_token: float | None = None
    streamed: bool = False


@dataclass(slots=True)
class _Pending:
    created: float
    steps: list[StepEvent] = field(default_factory=list)


def _check_hit(hit: Mapping[str, Any]) -> None:
    """Raise ``TypeError`` for a keyword ``record_cache_hit`` does not take, or a missing one."""
    unknown = sorted(set(hit) - set(CacheHitReport.__annotations__))
    missing = [k for k in ("layer", "prompt_tokens", "output_tokens") if k not in hit]
    if unknown or missing:
        msg = f"record_cache_hit() got unknown keywords {unknown}, lacks {missing}"
        raise TypeError(msg)


class TokenOptCallbackHandler(BaseCallbackHandler):
    """Record one :class:`RequestRecord` per LLM request into a metrics store.

    Thread- and async-safe: state lives in two dicts behind one lock, callbacks run
    inline (no executor hop) and only enqueue the finished record.

    Args:
        store: Where records go. Default: a
            :class:`~langchain_tokenopt.monitoring.SQLiteMetricsStore` at
            ``user_cache_dir()/metrics.sqlite``.
        pending_ttl_s: Step reports whose request never produced a record are dropped
            after this many seconds.
        otel: Also export each record as OpenTelemetry GenAI spans and metrics: an
            :class:`~langchain_tokenopt.monitoring.OpenTelemetrySink`, or ``True`` for one
            on the global providers (extra ``otel``).
        price_as: Price every request as this hosted model (any name ``genai-prices`` or
            the store's ``Pricer(overrides=...)`` knows, e.g. ``"claude-sonnet-4-5"``). A
            local model has no price, so its costs read "n/a" without it. Recorded on each
            :class:`RequestRecord` (``price_as``), so ``tokenopt stats``, the dashboard and
            :meth:`summary` price the run the same way. An unknown name raises
            ``TokenOptConfigError`` here.

    Example:
        .. code-block:: python

            from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
            from langchain_tokenopt.monitoring import MemoryMetricsStore, TokenOptCallbackHandler

            handler = TokenOptCallbackHandler(store=MemoryMetricsStore())
            # a local model, its costs priced as Claude Sonnet:
            # TokenOptCallbackHandler(price_as="claude-sonnet-4-5")
            model = GenericFakeChatModel(messages=iter(["hi"]))
            model.invoke("hello", config={"callbacks": [handler],
                                          "metadata": {"tenant_id": "acme"}})
            print(handler.summary(window="1h").requests)
    """

    run_inline = True
    raise_error = False

    def __init__(
        self,
        *,
        store: MetricsStore | None = None,
        pending_ttl_s: float = 600.0,
        otel: OpenTelemetrySink | bool = False,
        price_as: str | None = None,
    ) -> None:
        super().__init__()
        if (
            isinstance(pending_ttl_s, bool)
            or not isinstance(pending_ttl_s, int | float)
            or not math.isfinite(pending_ttl_s)
            or pending_ttl_s <= 0
        ):
            msg = f"pending_ttl_s must be a finite number of seconds > 0, got {pending_ttl_s!r}"
            raise TokenOptConfigError(msg)
        from langchain_tokenopt.monitoring.store import MetricsStore

        if store is not None and not isinstance(store, MetricsStore):
            msg = (
                f"store must be a MetricsStore (SQLite, Redis, Memory), got {type(store).__name__}"
            )
            raise TokenOptConfigError(msg)
        from langchain_tokenopt.monitoring.otel import resolve_otel_sink

        otel_sink = resolve_otel_sink(otel)
        if price_as is not None:  # checked before a default store starts its writer
            from langchain_tokenopt.monitoring.pricing import Pricer

            (store.pricer if store is not None else Pricer()).require(price_as)
        if store is None:
            from langchain_tokenopt.monitoring.store_sqlite import SQLiteMetricsStore

            store = SQLiteMetricsStore()
        self.store = store
        self.otel = otel_sink
        self.price_as = price_as
        self._ttl = pending_ttl_s
        self._lock = threading.Lock()
        self._runs: dict[UUID, _Run] = {}
        self._pending: dict[str, _Pending] = {}
        self._reported: set[tuple[str, type[BaseException]]] = set()

    # -- step reporting API (called by graph nodes) --------------------------------------
    def record_step(self, request_id: str, event: StepEvent) -> None:
        """Attach an optimizer step's figures to request ``request_id``.

        Args:
            request_id: The id the graph put in ``metadata["tokenopt_request_id"]``.
            event: What the step did.
        """
        now = time.monotonic()
        with self._lock:
            pending = self._pending.get(request_id)
            if pending is None:
                if len(self._pending) >= 1024:
                    self._expire(now)
                pending = self._pending[request_id] = _Pending(created=now)
            pending.steps.append(event)

    def record_cache_hit(self, request_id: str, **hit: Unpack[CacheHitReport]) -> RequestRecord:
        """Record a request the response cache answered without calling a model.

        Args:
            request_id: The request's id.
            **hit: The :class:`~langchain_tokenopt.protocols.CacheHitReport` fields: ``layer``,
                ``prompt_tokens`` and ``output_tokens``; optional ``lookup_latency_ms`` (added
                as the ``cache`` step unless one was already reported with ``cache_hit=True``),
                ``model``, ``provider``, ``tenant_id``, ``user_id``.

        Returns:
            The record (already queued to the store).
        """
        _check_hit(hit)
        layer, prompt_tokens = hit["layer"], hit["prompt_tokens"]
        if layer is not None and layer not in CACHE_LAYERS:
            msg = f"layer must be one of {CACHE_LAYERS} or None, got {layer!r}"
            raise TokenOptConfigError(msg)
        steps = self._take_steps(request_id)
        if not any(s.step == "cache" and s.cache_hit for s in steps):
            steps.append(
                StepEvent(
                    step="cache",
                    tokens_before=prompt_tokens,
                    tokens_after=0,
                    latency_ms=hit.get("lookup_latency_ms", 0.0),
                    cache_hit=True,
                    cache_layer=layer,
                )
            )
        optimizer_ms = sum(s.latency_ms for s in steps)
        tools_bound, tools_catalog = _tools_of(steps)
        record = RequestRecord(
            request_id=request_id,
            timestamp=time.time(),
            model=hit.get("model"),
            provider=hit.get("provider"),
            tenant_id=hit.get("tenant_id"),
            user_id=hit.get("user_id"),
            steps=tuple(steps),
            usage=TokenUsage(input_tokens=prompt_tokens, output_tokens=hit["output_tokens"]),
            usage_available=True,
            llm_called=False,
            cache_hit=True,
            cache_layer=layer,
            optimizer_latency_ms=optimizer_ms,
            latency_ms=optimizer_ms,
            tools_bound=tools_bound,
            tools_catalog=tools_catalog,
            price_as=self.price_as,
        )
        self._emit(record)
        return record

    def discard_request(self, request_id: str) -> None:
        """Forget steps reported for a request that will make no model call."""
        with self._lock:
            self._pending.pop(request_id, None)

    def summary(
        self, window: Window = "24h", group_by: GroupBy = (), *, price_as: str | None = None
    ) -> Summary:
        """Flush queued records and summarize the store (see :meth:`MetricsStore.summary`).

        ``price_as`` re-prices the window as another model; by default the records keep
        the prices they were stored with (the handler's own ``price_as``, if any).
        """
        self.store.flush()
        return self.store.summary(window=window, group_by=group_by, price_as=price_as)

    # -- LangChain callbacks -------------------------------------------------------------
    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[Any]], *, run_id: UUID, **kwargs: Any
    ) -> None:
        """Start timing a chat-model call."""
        self._start(run_id, kwargs.get("metadata"), kwargs.get("invocation_params"))

    def on_llm_start(
        self, serialized: dict[str, Any], prompts: list[str], *, run_id: UUID, **kwargs: Any
    ) -> None:
        """Start timing a completion-model call."""
        self._start(run_id, kwargs.get("metadata"), kwargs.get("invocation_params"))

    def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Note streaming and the time to first token."""
        run = self._runs.get(run_id)
        if run is not None and run.first_token is None:
            run.first_token = time.perf_counter()
            run.streamed = True

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Finish the request: usage, cache hit, latency; queue the record."""
        try:
            self._finish(run_id, response=response, error=None)
        except Exception as exc:
            self._report("could not record a model call", exc)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Record a failed model call with its exception type."""
        try:
            self._finish(run_id, response=None, error=error)
        except Exception as exc:
            self._report("could not record a failed model call", exc)

    # -- internals -----------------------------------------------------------------------
    def _start(
        self, run_id: UUID, metadata: Mapping[str, Any] | None, params: Mapping[str, Any] | None
    ) -> None:
        meta = metadata or {}
        params = params or {}
        model = meta.get("ls_model_name") or params.get("model") or params.get("model_name")
        tools = params.get("tools")
        run = _Run(
            request_id=str(meta.get(REQUEST_ID_KEY) or run_id),
            started=time.perf_counter(),
            model=str(model) if model else None,
            provider=meta.get("ls_provider"),
            tenant_id=_str_or_none(meta.get(TENANT_KEY)),
            user_id=_str_or_none(meta.get(USER_KEY)),
            tools_bound=len(tools) if isinstance(tools, list | tuple) else None,
        )
        with self._lock:
            if len(self._runs) >= 10_000:
                # runs that never ended (cancelled tasks): forget those older than the TTL
                cutoff = run.started - self._ttl
                for key in [k for k, r in self._runs.items() if r.started < cutoff]:
                    del self._runs[key]
            self._runs[run_id] = run

    def _take_steps(self, request_id: str) -> list[StepEvent]:
        with self._lock:
            pending = self._pending.pop(request_id, None)
        return list(pending.steps) if pending is not None else []

    def _expire(self, now: float) -> None:
        stale = [k for k, p in self._pending.items() if now - p.created > self._ttl]
        for key in stale:
            del self._pending[key]

    def _finish(
        self, run_id: UUID, *, response: LLMResult | None, error: BaseException | None
    ) -> None:
        end = time.perf_counter()
        with self._lock:
            run = self._runs.pop(run_id, None)
        if run is None:
            return
        usage: TokenUsage | None = None
        lc_cached = False
        meta: dict[str, Any] = {}
        if response is not None:
            usage, lc_cached, meta = extract_usage(response)
        if meta.get(REPLAY_MARKER):
            # The graph replayed a cached answer; it reported the hit via record_cache_hit.
            return
        steps = self._take_steps(run.request_id)
        cache_step = next((s for s in reversed(steps) if s.step == "cache"), None)
        layer = meta.get("tokenopt_cache_layer") or meta.get("cache_layer")
        if cache_step is not None and cache_step.cache_layer is not None:
            layer = cache_step.cache_layer
        # A model call that ran is a miss unless langchain-core served it from its BaseCache.
        cache_hit = lc_cached
        model = meta.get("model_name") or meta.get("model") or run.model
        llm_ms = (end - run.started) * 1000.0
        optimizer_ms = sum(s.latency_ms for s in steps)
        tools_bound, tools_catalog = _tools_of(steps)
        record = RequestRecord(
            request_id=run.request_id,
            timestamp=time.time(),
            model=str(model) if model else None,
            provider=run.provider,
            tenant_id=run.tenant_id,
            user_id=run.user_id,
            steps=tuple(steps),
            usage=usage,
            usage_available=usage is not None,
            llm_called=not cache_hit,
            cache_hit=cache_hit,
            cache_layer=layer if cache_hit and layer in CACHE_LAYERS else None,
            tools_bound=tools_bound if tools_bound is not None else run.tools_bound,
            tools_catalog=tools_catalog,
            llm_latency_ms=llm_ms,
            optimizer_latency_ms=optimizer_ms,
            latency_ms=llm_ms + optimizer_ms,
            ttft_ms=(run.first_token - run.started) * 1000.0 if run.first_token else None,
            streamed=run.streamed,
            error_type=type(error).__name__ if error is not None else None,
            price_as=self.price_as,
        )
        self._emit(record)

    def _emit(self, record: RequestRecord) -> None:
        try:
            self.store.add(record)
        except Exception as exc:
            self._report("the store rejected a record", exc)
        if self.otel is not None:
            try:
                self.otel.export(record)
            except Exception as exc:
                self._report("the OpenTelemetry export failed", exc)

    def _report(self, what: str, exc: Exception) -> None:
        """Log a monitoring failure: one warning per kind of failure, tracebacks at debug."""
        key = (what, type(exc))
        with self._lock:
            first = key not in self._reported
            self._reported.add(key)
        if first:
            logger.warning(
                "tokenopt monitoring: %s (%s: %s); the request went through unrecorded",
                what,
                type(exc).__name__,
                exc,
            )
        logger.debug("tokenopt monitoring: %s", what, exc_info=exc)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _tools_of(steps: Sequence[StepEvent]) -> tuple[int | None, int | None]:
    for step in reversed(steps):
        if step.step == "tool_selection":
            return step.tools_bound, step.tools_catalog
    return None, None


def find_handlers(config: Mapping[str, Any] | None) -> list[TokenOptCallbackHandler]:
    """The :class:`TokenOptCallbackHandler` instances in a ``RunnableConfig``'s callbacks."""
    if not config:
        return []
    callbacks = config.get("callbacks")
    if callbacks is None:
        return []
    handlers = (
        callbacks if isinstance(callbacks, list | tuple) else getattr(callbacks, "handlers", [])
    )
    found: list[TokenOptCallbackHandler] = []
    for h in handlers:
        if isinstance(h, TokenOptCallbackHandler) and h not in found:
            found.append(h)
    return found
