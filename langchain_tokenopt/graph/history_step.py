"""The history step of one request: the optimized view of the conversation sent to the model.

A :class:`~langchain_tokenopt.context.ContextOptimizer` gives its own token figures (counted
lazily, memoized per message); another
:class:`~langchain_tokenopt.protocols.HistoryOptimizer` is a ``Runnable`` counted here. In
the prefix-stable mode (:mod:`~langchain_tokenopt.context.compaction`), the thread's kept
view plus the new messages is sent while it fits, and one compaction brings it back to the
budget past that.

Example:
    .. code-block:: python

        view = run_step(recorder, history_step(optimizer, messages, counter))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage

from langchain_tokenopt.context import ContextOptimizer, ContextResult
from langchain_tokenopt.context.compaction import CompactedView, history_tokens, stepwise_view
from langchain_tokenopt.graph.step import Step
from langchain_tokenopt.protocols import HistoryOptimizer
from langchain_tokenopt.tokens import TokenCounter

__all__ = ["StableHistory", "history_step", "stable_step"]


def history_step(
    optimizer: HistoryOptimizer | None, messages: Sequence[BaseMessage], counter: TokenCounter
) -> Step[list[BaseMessage]]:
    """The measured optimization of ``messages`` (sent whole when it fails)."""
    items = list(messages)
    if optimizer is None:
        return Step.skipped("context", items)
    if isinstance(optimizer, ContextOptimizer):
        # Its result counts the input lazily and memoized per message: a long thread's
        # old messages are not counted again on every call.
        done = _Optimized(counter, items)

        async def optimize() -> list[BaseMessage]:
            return done.keep(await optimizer.aoptimize(items))

        return Step(
            "context",
            items,
            before=done.before,
            measure=done.after,
            work=lambda: done.keep(optimizer.optimize(items)),
            awork=optimize,
        )

    async def invoke() -> list[BaseMessage]:
        return list(await optimizer.ainvoke(items))

    return Step(
        "context",
        items,
        before=counter.count_messages(items),
        measure=counter.count_messages,
        work=lambda: list(optimizer.invoke(items)),
        awork=invoke,
    )


class _Optimized:
    """The figures of one ``ContextOptimizer`` run (its result counts lazily)."""

    def __init__(self, counter: TokenCounter, items: list[BaseMessage]) -> None:
        self.counter, self.items = counter, items
        self.result: ContextResult | None = None

    def keep(self, result: ContextResult) -> list[BaseMessage]:
        self.result = result
        return result.messages

    def before(self) -> int:
        if self.result is not None:
            return self.result.tokens_before
        return self.counter.count_messages(self.items)

    def after(self, out: list[BaseMessage]) -> int:
        if self.result is not None:
            return self.result.tokens_after
        return self.counter.count_messages(out)


class StableHistory:
    """One prefix-stable history step: the view, the value to keep and the stable messages.

    Example:
        .. code-block:: python

            stable, step = stable_step(optimizer, messages, kept, compact_to=1.5)
            view, keep, stable_count = stable.result(run_step(recorder, step))
    """

    def __init__(
        self,
        optimizer: ContextOptimizer,
        items: list[BaseMessage],
        previous: CompactedView | None,
        compact_to: float,
        prefix_broken: bool = False,
    ) -> None:
        self.optimizer, self.items, self.previous = optimizer, items, previous
        self.compact_to, self.prefix_broken = compact_to, prefix_broken
        self.done: tuple[list[BaseMessage], CompactedView, bool] | None = None

    def run(self) -> list[BaseMessage]:
        """Compute the view (the step's work)."""
        self.done = stepwise_view(
            self.optimizer,
            self.items,
            self.previous,
            compact_to=self.compact_to,
            prefix_broken=self.prefix_broken,
        )
        return self.done[0]

    def before(self) -> int:
        """Tokens of the whole history."""
        return history_tokens(self.optimizer, self.items)

    def after(self, out: list[BaseMessage]) -> int:
        """Tokens of the view sent."""
        return history_tokens(self.optimizer, out)

    def result(self, view: list[BaseMessage]) -> tuple[list[BaseMessage], Any, int]:
        """``(view, value to keep in the state, stable messages)`` of the step's result."""
        if self.done is None:
            return view, None, 0
        _, new, _compacted = self.done
        return view, new.to_state(), len(new.messages)


def stable_step(
    optimizer: HistoryOptimizer | None,
    messages: Sequence[BaseMessage],
    kept: Any,
    compact_to: float,
    *,
    prefix_broken: bool = False,
) -> tuple[StableHistory, Step[list[BaseMessage]]] | None:
    """The prefix-stable history step, or ``None`` when ``optimizer`` cannot compact in steps.

    ``kept`` is the view kept in the state by the previous call (``None`` on a new thread);
    ``prefix_broken``: the tools or system prompt before the history changed on this call
    (see :func:`~langchain_tokenopt.context.compaction.stepwise_view`).
    """
    if not isinstance(optimizer, ContextOptimizer):
        return None
    items = list(messages)
    previous = CompactedView.from_state(kept)
    stable = StableHistory(optimizer, items, previous, compact_to, prefix_broken)
    return stable, Step(
        "context", items, before=stable.before, measure=stable.after, work=stable.run
    )
