"""Helpers for graph nodes that only have their ``RunnableConfig``.

They find the :class:`~langchain_tokenopt.monitoring.TokenOptCallbackHandler` instances in
``config["callbacks"]`` and the request id in ``config["metadata"]["tokenopt_request_id"]``,
and do nothing (returning ``False``) when either is missing.

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring import measure_step

        def compress_node(state, config):
            with measure_step(config, "compression", tokens_before=n) as m:
                out = compressor.invoke(state["prompt"])
                m.tokens_after = counter.count(out)
            return {"prompt": out}
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from langchain_tokenopt.monitoring.handler import (
    REQUEST_ID_KEY,
    TENANT_KEY,
    USER_KEY,
    find_handlers,
)
from langchain_tokenopt.monitoring.records import CacheLayer, StepEvent, StepName

logger = logging.getLogger(__name__)

__all__ = ["StepTiming", "measure_step", "report_cache_hit", "report_step"]


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _request_id(config: Mapping[str, Any] | None) -> str | None:
    meta = (config or {}).get("metadata") or {}
    rid = meta.get(REQUEST_ID_KEY)
    return None if rid is None else str(rid)


def report_step(config: Mapping[str, Any] | None, event: StepEvent) -> bool:
    """Report a step from inside a graph node, using the node's ``RunnableConfig``.

    Finds the handlers in ``config["callbacks"]`` and the request id in
    ``config["metadata"]["tokenopt_request_id"]``; does nothing if either is missing.

    Args:
        config: The node's ``RunnableConfig``.
        event: What the step did.

    Returns:
        Whether a handler received the event.
    """
    rid = _request_id(config)
    handlers = find_handlers(config)
    if rid is None or not handlers:
        return False
    for handler in handlers:
        handler.record_step(rid, event)
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
    rid = _request_id(config)
    handlers = find_handlers(config)
    if rid is None or not handlers:
        return False
    meta = (config or {}).get("metadata") or {}
    for handler in handlers:
        handler.record_cache_hit(
            rid,
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
