"""The one path by which optimizer steps and cache hits reach the monitors.

A :class:`StepRecorder` collects the step events
(:class:`~langchain_tokenopt.protocols.StepEvent`) of one request and forwards each, and
any cache hit, to its monitors (:class:`~langchain_tokenopt.protocols.StepMonitor`, e.g.
:class:`~langchain_tokenopt.monitoring.TokenOptCallbackHandler`); a monitor that raises is
logged and never breaks the request. The optimized agent's graph and its middleware report
through it, and so do the helpers for your own graph nodes, which only have their
``RunnableConfig``: :func:`report_step`, :func:`measure_step` and :func:`report_cache_hit`
find the handlers in ``config["callbacks"]`` and the request id in
``config["metadata"]["tokenopt_request_id"]``, and do nothing (returning ``False``) when
either is missing.

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring import report_step
        from langchain_tokenopt.protocols import StepEvent

        def select_node(state, config):
            tools = pick_tools(state)
            event = StepEvent(step="tool_selection", tokens_before=5200, tokens_after=900)
            report_step(config, event)
            return {"tools": tools}
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Unpack

from langchain_tokenopt.monitoring.handler import (
    REQUEST_ID_KEY,
    TENANT_KEY,
    USER_KEY,
    find_handlers,
)
from langchain_tokenopt.protocols import (
    CacheHitReport,
    CacheLayer,
    StepEvent,
    StepMonitor,
    StepName,
)

logger = logging.getLogger(__name__)

__all__ = ["StepRecorder", "StepTiming", "measure_step", "report_cache_hit", "report_step"]


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _request_id(config: Mapping[str, Any] | None) -> str | None:
    meta = (config or {}).get("metadata") or {}
    rid = meta.get(REQUEST_ID_KEY)
    return None if rid is None else str(rid)


@dataclass
class StepRecorder:
    """Collects the step events of one request and forwards them to its monitors.

    Every step report of the package goes through one: the optimized agent's graph and
    middleware build one per model request, and :func:`report_step`,
    :func:`measure_step` and :func:`report_cache_hit` build one from a node's config. A
    monitor that raises is logged (``WARNING``) and skipped.

    Example:
        .. code-block:: python

            from langchain_tokenopt.monitoring import StepRecorder, TokenOptCallbackHandler
            from langchain_tokenopt.protocols import StepEvent

            handler = TokenOptCallbackHandler()
            recorder = StepRecorder(request_id="r1", monitors=[handler])
            recorder.add(StepEvent(step="context", tokens_before=900, tokens_after=400))
            recorder.events  # [StepEvent(step="context", ...)]
    """

    request_id: str
    """The request the events belong to."""
    monitors: list[StepMonitor] = field(default_factory=list)
    """Who receives them."""
    events: list[StepEvent] = field(default_factory=list)
    """The events added so far, in order."""

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any] | None,
        *,
        request_id: str | None = None,
        monitors: Iterable[StepMonitor] = (),
    ) -> StepRecorder | None:
        """A recorder for ``monitors`` plus the handlers in ``config["callbacks"]``.

        ``request_id`` defaults to ``config["metadata"]["tokenopt_request_id"]``. Returns
        ``None`` when there is no request id or no monitor at all.

        Example:
            .. code-block:: python

                recorder = StepRecorder.from_config(config)
                if recorder is not None:
                    recorder.add(event)
        """
        rid = request_id if request_id is not None else _request_id(config)
        found: list[StepMonitor] = list(monitors)
        for handler in find_handlers(config):
            if all(handler is not m for m in found):
                found.append(handler)
        if rid is None or not found:
            return None
        return cls(request_id=rid, monitors=found)

    def add(self, event: StepEvent) -> None:
        """Keep ``event`` and report it to every monitor (a failing monitor is logged)."""
        self.events.append(event)
        for monitor in self.monitors:
            try:
                monitor.record_step(self.request_id, event)
            except Exception as exc:  # noqa: BLE001 - monitoring must never break a request
                logger.warning("tokenopt monitor failed to record a step: %s", type(exc).__name__)

    def cache_hit(self, **hit: Unpack[CacheHitReport]) -> None:
        """Report a request answered from the response cache to every monitor."""
        for monitor in self.monitors:
            try:
                monitor.record_cache_hit(self.request_id, **hit)
            except Exception as exc:  # noqa: BLE001 - monitoring must never break a request
                logger.warning("tokenopt monitor failed on a cache hit: %s", type(exc).__name__)


def report_step(config: Mapping[str, Any] | None, event: StepEvent) -> bool:
    """Report a step from inside a graph node, using the node's ``RunnableConfig``.

    Finds the handlers in ``config["callbacks"]`` and the request id in
    ``config["metadata"]["tokenopt_request_id"]``; does nothing if either is missing. The
    event goes through a :class:`StepRecorder`, as the optimized agent's own steps do.

    Args:
        config: The node's ``RunnableConfig``.
        event: What the step did.

    Returns:
        Whether a handler received the event.
    """
    recorder = StepRecorder.from_config(config)
    if recorder is None:
        return False
    recorder.add(event)
    return True


def report_cache_hit(
    config: Mapping[str, Any] | None,
    *,
    layer: CacheLayer | None,
    prompt_tokens: int,
    output_tokens: int,
    lookup_latency_ms: float = 0.0,
    model: str | None = None,
    provider: str | None = None,
) -> bool:
    """Report a response-cache hit (no model call) from a node's ``RunnableConfig``.

    Tenant and user are read from the config metadata (``tenant_id`` / ``user_id``).

    Returns:
        Whether a handler recorded it.
    """
    recorder = StepRecorder.from_config(config)
    if recorder is None:
        return False
    meta = (config or {}).get("metadata") or {}
    recorder.cache_hit(
        layer=layer,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        lookup_latency_ms=lookup_latency_ms,
        model=model,
        provider=provider,
        tenant_id=_str_or_none(meta.get(TENANT_KEY)),
        user_id=_str_or_none(meta.get(USER_KEY)),
    )
    return True


@dataclass(slots=True)
class StepTiming:
    """Mutable figures of a step being measured by :func:`measure_step`."""

    tokens_before: int
    """Prompt tokens the step received."""
    tokens_after: int | None = None
    """Prompt tokens it passed on; set it inside the ``with`` block (default: unchanged)."""
    cache_hit: bool | None = None
    """For ``cache`` steps: whether the lookup hit."""
    cache_layer: CacheLayer | None = None
    """For ``cache`` hits: ``exact`` or ``semantic``."""
    tools_bound: int | None = None
    """For ``tool_selection``: tools bound after selection."""
    tools_catalog: int | None = None
    """For ``tool_selection``: catalog size."""
    error: str | None = None
    """Set this when the step failed open (an exception leaving the block sets it too)."""


@contextmanager
def measure_step(
    config: Mapping[str, Any] | None, step: StepName, *, tokens_before: int
) -> Iterator[StepTiming]:
    """Time a step in a graph node and report it on exit (also when it raises).

    Example:
        .. code-block:: python

            def compress_node(state, config):
                with measure_step(config, "compression", tokens_before=n) as m:
                    out = compressor.invoke(state["prompt"])
                    m.tokens_after = counter.count(out)
                return {"prompt": out}

    Args:
        config: The node's ``RunnableConfig`` (handlers and ``tokenopt_request_id``).
        step: The step's name.
        tokens_before: Prompt tokens the step received.

    Yields:
        A :class:`StepTiming` to fill in.
    """
    timing = StepTiming(tokens_before=tokens_before)
    start = time.perf_counter()
    try:
        yield timing
    except BaseException as exc:
        timing.error = type(exc).__name__
        raise
    finally:
        after = timing.tokens_after if timing.tokens_after is not None else tokens_before
        try:
            report_step(
                config,
                StepEvent(
                    step=step,
                    tokens_before=tokens_before,
                    tokens_after=after,
                    latency_ms=(time.perf_counter() - start) * 1000.0,
                    error=timing.error,
                    cache_hit=timing.cache_hit,
                    cache_layer=timing.cache_layer,
                    tools_bound=timing.tools_bound,
                    tools_catalog=timing.tools_catalog,
                ),
            )
        except Exception as exc:  # monitoring must never break the step it measures
            logger.warning(
                "tokenopt monitoring: could not report step %s (%s: %s)",
                step,
                type(exc).__name__,
                exc,
            )
            logger.debug("tokenopt monitoring: step report failed", exc_info=exc)
