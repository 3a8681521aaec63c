"""Compaction in steps: a history view whose prefix stays byte-identical between compactions.

Providers bill a re-sent request prefix at a fraction of the input price (Anthropic's cache
reads cost 0.1x, OpenAI's cached input 0.25-0.5x). An optimizer that re-cuts the history on
every call changes the prefix every time and loses those reads. :func:`stepwise_view` keeps
the last optimized view instead and only appends the new messages to it; once the view
exceeds the optimizer's budget divided by ``compact_to``, one compaction brings the whole
history back to the budget, and the next calls share that compacted prefix again.

The view is a plain value kept in the agent state (:class:`CompactedView`), so it survives a
checkpoint; if the history no longer continues it (messages removed or rewritten), the next
call compacts afresh.

Example:
    .. code-block:: python

        from langchain_tokenopt.context import ContextOptimizer
        from langchain_tokenopt.context.compaction import CompactedView, stepwise_view

        optimizer = ContextOptimizer(max_tokens=3000)
        view, kept, compacted = stepwise_view(optimizer, messages, CompactedView.from_state(None))
        state["context_view"] = kept.to_state()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage

from langchain_tokenopt.context.optimizer import ContextOptimizer
from langchain_tokenopt.errors import TokenOptConfigError

__all__ = ["DEFAULT_COMPACT_TO", "CompactedView", "history_tokens", "stepwise_view"]

#: A compaction brings the history to the budget; the view then grows to budget / this.
DEFAULT_COMPACT_TO = 0.6

_FORMAT = 1


@dataclass(frozen=True)
class CompactedView:
    """The optimized view of a history's first ``upto`` messages, as sent last time."""

    upto: int = 0
    """How many messages of the full history the view covers."""
    last_id: str | None = None
    """Id of the last covered message (checks that the history still continues it)."""
    messages: tuple[BaseMessage, ...] = ()
    """The view itself (the stable prefix of the next requests)."""
    cramped: bool = False
    """The compaction ran inside a tool loop whose results took over half the budget: the
    loop was kept verbatim, the summary of what came before got little room."""

    def continues(self, messages: Sequence[BaseMessage]) -> bool:
        """Whether ``messages`` still starts with what this view covers."""
        if self.upto <= 0 or self.upto > len(messages):
            return False
        return self.last_id is None or messages[self.upto - 1].id == self.last_id

    def to_state(self) -> dict[str, Any]:
        """A value for the agent state (checkpointers serialize messages)."""
        return {
            "format": _FORMAT,
            "upto": self.upto,
            "last_id": self.last_id,
            "messages": list(self.messages),
            "cramped": self.cramped,
        }

    @classmethod
    def from_state(cls, value: Any) -> CompactedView | None:
        """Read a state value back; anything unreadable gives ``None`` (compact afresh)."""
        if isinstance(value, CompactedView):
            return value
        if not isinstance(value, Mapping) or value.get("format") != _FORMAT:
            return None
        upto, messages = value.get("upto"), value.get("messages")
        if not isinstance(upto, int) or not isinstance(messages, list | tuple):
            return None
        if not all(isinstance(m, BaseMessage) for m in messages):
            return None
        last_id = value.get("last_id")
        return cls(
            upto,
            last_id if isinstance(last_id, str) else None,
            tuple(messages),
            cramped=value.get("cramped") is True,
        )


def history_tokens(optimizer: ContextOptimizer, messages: Sequence[BaseMessage]) -> int:
    """Tokens of ``messages`` with the optimizer's tokenizer, memoized per message."""
    return optimizer.count_tokens(list(messages))


def stepwise_view(
    optimizer: ContextOptimizer,
    messages: Sequence[BaseMessage],
    previous: CompactedView | None,
    *,
    compact_to: float = DEFAULT_COMPACT_TO,
    prefix_broken: bool = False,
) -> tuple[list[BaseMessage], CompactedView, bool]:
    """Return ``(view, view to keep, whether a compaction ran)`` for this call.

    A compaction optimizes the history to the optimizer's budget, exactly as a call of the
    default mode would; the next calls append to that view until it reaches
    ``budget / compact_to`` tokens, so every view holds at least what the default mode
    would send (the next step needs no less) and the compacted prefix is re-sent, read from
    the provider's cache, until then.

    ``prefix_broken``: what comes before the history changed on this call (a tool joined
    the bound list, the system prompt was fitted again), so the provider cannot read the
    history from its cache anyway. A view over the budget is compacted now rather than
    later: the compaction costs no cache read here and saves the break it would cause on a
    later call.

    A compaction that ran inside a big tool loop (:attr:`CompactedView.cramped`) kept the
    loop's results verbatim and left the summary of what came before little room; once a new
    human message releases that loop, a view over the budget is compacted again, so the
    facts of the open task (a user's ids from an earlier lookup) come back as the default
    mode would send them.

    Raises:
        TokenOptConfigError: ``compact_to`` is not in (0, 1].
        BudgetExceededError: not even the protected part fits the budget.
    """
    if isinstance(compact_to, bool) or not isinstance(compact_to, int | float):
        msg = f"compact_to must be a share of the budget in (0, 1], got {compact_to!r}"
        raise TokenOptConfigError(msg)
    if not 0 < compact_to <= 1:
        msg = f"compact_to must be a share of the budget in (0, 1], got {compact_to!r}"
        raise TokenOptConfigError(msg)
    items = list(messages)
    if previous is not None and previous.continues(items):
        view = [*previous.messages, *items[previous.upto :]]
        released = previous.cramped and any(
            isinstance(m, HumanMessage) for m in items[previous.upto :]
        )
        limit = optimizer.budget if prefix_broken or released else optimizer.budget / compact_to
        if optimizer.count_tokens(view) <= limit:
            return view, previous, False
    out = optimizer.optimize(items).messages
    last_id = items[-1].id if items else None
    kept = CompactedView(
        len(items),
        last_id if isinstance(last_id, str) else None,
        tuple(out),
        cramped=_open_loop_tokens(optimizer, out) > optimizer.budget / 2,
    )
    return list(out), kept, True


def _open_loop_tokens(optimizer: ContextOptimizer, view: Sequence[BaseMessage]) -> int:
    """Tokens of the view's messages after its newest human message (the open tool loop)."""
    start = next(
        (i for i in range(len(view) - 1, -1, -1) if isinstance(view[i], HumanMessage)), None
    )
    if start is None or start == len(view) - 1:
        return 0
    return optimizer.count_tokens(list(view[start + 1 :]))
