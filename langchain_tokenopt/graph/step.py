"""How every optimizer step runs: measured, reported to the request's recorder, failing open.

A :class:`Step` describes one step of one request (its name, its fallback, how to count
tokens before and after, its sync and async work); :func:`run_step` and :func:`arun_step`
run it. If the work (or its measure) raises, the error is logged with its type only (never
the prompt), the step is reported with ``error=<type>`` and the fallback is the result, so
the request goes on unoptimized.

Example:
    .. code-block:: python

        step = Step("context", messages, before=900, measure=len, work=lambda: messages[-4:])
        view = run_step(recorder, step)  # reported as a StepEvent, messages on failure
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from langchain_tokenopt.monitoring.reporting import StepRecorder
from langchain_tokenopt.protocols import StepEvent, StepName

logger = logging.getLogger(__name__)

__all__ = ["Step", "arun_step", "run_step"]

T = TypeVar("T")

#: The extra fields a failed step still reports (values that do not depend on its result).
_KEPT_ON_FAILURE = ("tools_catalog",)


@dataclass(frozen=True)
class Step(Generic[T]):
    """One optimizer step to run, measure and report; its fallback is the result on failure.

    Example:
        .. code-block:: python

            Step("compression", prompt, before=1200, measure=counter.count, work=fit)
    """

    name: StepName
    """The step's name in its :class:`~langchain_tokenopt.protocols.StepEvent`."""
    fallback: T
    """The result when there is nothing to do or the work fails."""
    before: int | Callable[[], int] = 0
    """Tokens before the step, or a function that counts them (called once, after the work)."""
    measure: Callable[[T], int] = lambda _: 0
    """Tokens of the step's result."""
    work: Callable[[], T] | None = None
    """The sync work; ``None``: nothing to do, the fallback is the result (not reported)."""
    awork: Callable[[], Awaitable[T]] | None = None
    """The async work; ``None``: the sync work runs in a worker thread."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """More ``StepEvent`` fields: values, or functions of the step's result."""

    @classmethod
    def skipped(cls, name: StepName, value: T) -> Step[T]:
        """A step with nothing to do: ``value`` is its result, nothing is reported."""
        return cls(name, value)


def run_step(recorder: StepRecorder, step: Step[T]) -> T:
    """Run a step's sync work, measured and failing open."""
    if step.work is None:
        return step.fallback
    start = time.perf_counter()
    try:
        outcome: T | Exception = step.work()
    except Exception as exc:  # noqa: BLE001 - optimizers fail open by design
        outcome = exc
    return _report(recorder, step, start, outcome)


async def arun_step(recorder: StepRecorder, step: Step[T]) -> T:
    """Await a step's async work (its sync work in a worker thread when it has none)."""
    if step.work is None:
        return step.fallback
    start = time.perf_counter()
    work, awork = step.work, step.awork
    try:
        outcome: T | Exception = await (awork() if awork else asyncio.to_thread(work))
    except Exception as exc:  # noqa: BLE001 - optimizers fail open by design
        outcome = exc
    return _report(recorder, step, start, outcome)


def _report(recorder: StepRecorder, step: Step[T], start: float, outcome: T | Exception) -> T:
    """Measure a step's outcome, report it, and return its value (the fallback on error)."""
    before, fallback, measure, extra = step.before, step.fallback, step.measure, step.extra
    error: str | None = None
    if not isinstance(outcome, Exception):
        try:
            value, after = outcome, measure(outcome)
            latency = (time.perf_counter() - start) * 1000
            tokens_before = before() if callable(before) else before
        except Exception as exc:  # noqa: BLE001 - a failed measure fails the step
            outcome = exc
    if isinstance(outcome, Exception):
        logger.warning(
            "tokenopt %s step failed (%s); the request goes on unoptimized",
            step.name,
            type(outcome).__name__,
        )
        tokens_before = before() if callable(before) else before
        value, after, error = fallback, tokens_before, type(outcome).__name__
        extra = {k: v for k, v in extra.items() if k in _KEPT_ON_FAILURE}
        latency = (time.perf_counter() - start) * 1000
    extra_values = {k: (v(value) if callable(v) else v) for k, v in extra.items()}
    recorder.add(
        StepEvent(
            step=step.name,
            tokens_before=tokens_before,
            tokens_after=after,
            latency_ms=latency,
            error=error,
            **extra_values,
        )
    )
    return value
