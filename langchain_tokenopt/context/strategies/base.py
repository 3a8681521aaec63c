"""The working plan that strategies edit, and the strategy protocol.

A :class:`Plan` holds the leading system messages, one :class:`Slot` per non-system
:class:`~langchain_tokenopt.context.units.Unit` (kept or dropped, possibly rewritten) and an
optional summary. Strategies only ever replace a slot's messages with an equivalent unit
(same ids, same tool-call pairing) or drop whole slots, so the plan stays valid.

Example:
    .. code-block:: python

        class DropAllToolOutputs:
            def apply(self, plan: Plan) -> None:
                ...  # edit plan.slots; stop once plan.fits
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from langchain_core.messages import BaseMessage, HumanMessage

from langchain_tokenopt.context._memo import ContextMemo
from langchain_tokenopt.context.units import Unit
from langchain_tokenopt.tokens import REPLY_PRIMING, TokenCounter

__all__ = ["SUMMARY_ID_PREFIX", "ContextStrategy", "Plan", "Slot"]

#: Id prefix of the summary messages the optimizer writes (recognised on later turns).
SUMMARY_ID_PREFIX = "tokenopt-summary-"


@dataclass
class Slot:
    """One unit of the history inside a :class:`Plan`.

    A strategy may *defer* a rewrite (:meth:`Plan.defer`): the new messages are then built
    only when :attr:`messages` or :attr:`tokens` is read, so units that end up dropped are
    never rewritten (a long thread's first call reads only what it keeps). Likewise the
    oldest units of a long history may start *uncounted*: their tokens are counted when
    :attr:`tokens` is first read.
    """

    unit: Unit
    """The original unit."""
    _messages: list[BaseMessage]
    _tokens: int
    position: int
    """Index among the non-system units of the input (stable as the history grows)."""
    kept: bool = True
    """False once a strategy dropped the unit."""
    protected: bool = False
    """The newest unit and the newest human turn: never dropped."""
    rewritten: bool = False
    """True once the messages differ from the original unit."""
    _pending: Callable[[], list[BaseMessage]] | None = field(
        default=None, repr=False, compare=False
    )
    _bound: int = 0
    _uncounted: bool = False
    _plan: Plan | None = field(default=None, repr=False, compare=False)

    @property
    def messages(self) -> list[BaseMessage]:
        """The unit as it will be sent (masked, compressed or truncated copies)."""
        if self._pending is not None:
            self._materialize()
        return self._messages

    @property
    def tokens(self) -> int:
        """Tokens of :attr:`messages` (per-message overheads included, no reply priming)."""
        if self._pending is not None or self._uncounted:
            self._materialize()
        return self._tokens

    @property
    def pending(self) -> bool:
        """Whether a deferred rewrite (or the count of the unit) has not been made yet."""
        return self._pending is not None or self._uncounted

    @property
    def is_human(self) -> bool:
        """Whether the unit is a human message."""
        return isinstance(self.unit.head, HumanMessage)

    def _materialize(self) -> None:
        build, plan = self._pending, self._plan
        assert plan is not None
        self._pending = None
        self._uncounted = False
        if build is not None:
            self._messages = build()
        self._tokens = plan.count(self._messages)
        if self.kept:
            plan._settle(self)


@dataclass
class Plan:
    """The history being fitted into the budget."""

    system: list[BaseMessage]
    """Leading system messages (always kept)."""
    slots: list[Slot]
    """Non-system units, oldest first."""
    budget: int
    """Token budget for the whole message list (reply priming included)."""
    counter: TokenCounter
    """The tokenizer that counts the budget."""
    query: str
    """Text of the newest human message ('' when there is none)."""
    require_human_first: bool
    """Whether the kept conversation must start with a human message."""
    summary: list[BaseMessage] = field(default_factory=list)
    """Summary messages inserted after the system messages."""
    notes: list[str] = field(default_factory=list)
    """What each strategy did (for logs and the optimizer's report)."""
    memo: ContextMemo = field(default_factory=ContextMemo, repr=False, compare=False)
    """The optimizer's memo of per-message work (token counts, facts, transcript lines)."""

    def __post_init__(self) -> None:
        self._system_tokens = self.count(self.system)
        self._summary_tokens = self.count(self.summary)
        self._kept_tokens = 0
        self._pending_bound = 0
        self._pending_count = 0
        for slot in self.slots:
            slot._plan = self
            if slot.kept:
                self._add(slot)

    def count(self, messages: Sequence[BaseMessage]) -> int:
        """Tokens of ``messages`` without reply priming (memoized per message)."""
        return sum(self.memo.count_each(self.counter, messages))

    @property
    def system_tokens(self) -> int:
        """Tokens of the system and summary messages."""
        return self._system_tokens + self._summary_tokens

    @property
    def base_tokens(self) -> int:
        """Tokens of everything but the kept slots (system, summary, reply priming)."""
        return REPLY_PRIMING + self._system_tokens + self._summary_tokens

    @property
    def kept_tokens(self) -> int:
        """Tokens of the kept slots (builds any deferred rewrite of a kept slot)."""
        if self._pending_count:
            for slot in self.slots:
                if slot.kept and slot.pending:
                    slot._materialize()
        return self._kept_tokens

    @property
    def total(self) -> int:
        """Tokens of the plan as it would be sent now."""
        return self.base_tokens + self.kept_tokens

    @property
    def fits(self) -> bool:
        """Whether the plan is within the budget.

        Deferred rewrites are built only when their lower bounds leave the answer open.
        """
        if self._pending_count and (
            self.base_tokens + self._kept_tokens + self._pending_bound > self.budget
        ):
            return False
        return self.total <= self.budget

    def set_summary(self, messages: list[BaseMessage]) -> None:
        """Replace the summary messages."""
        self.summary = list(messages)
        self._summary_tokens = self.count(self.summary)

    def _add(self, slot: Slot) -> None:
        if slot.pending:
            self._pending_bound += slot._bound
            self._pending_count += 1
        else:
            self._kept_tokens += slot._tokens

    def _remove(self, slot: Slot) -> None:
        if slot.pending:
            self._pending_bound -= slot._bound
            self._pending_count -= 1
        else:
            self._kept_tokens -= slot._tokens

    def _settle(self, slot: Slot) -> None:
        """A kept slot's deferred rewrite was built: swap its bound for its tokens."""
        self._pending_bound -= slot._bound
        self._pending_count -= 1
        self._kept_tokens += slot._tokens

    def drop(self, slot: Slot) -> None:
        """Drop a slot (protected slots cannot be dropped)."""
        if slot.protected:
            msg = "protected units (newest unit, newest human turn) cannot be dropped"
            raise ValueError(msg)
        if slot.kept:
            self._remove(slot)
            slot.kept = False

    def restore(self, slot: Slot) -> None:
        """Keep a previously dropped slot again."""
        if not slot.kept:
            slot.kept = True
            self._add(slot)

    def replace(self, slot: Slot, messages: list[BaseMessage]) -> None:
        """Swap a slot's messages for an equivalent rewritten unit."""
        if slot.kept:
            self._remove(slot)
        slot._pending = None
        slot._uncounted = False
        slot._messages = messages
        slot._tokens = self.count(messages)
        slot.rewritten = True
        if slot.kept:
            self._add(slot)

    def defer(self, slot: Slot, build: Callable[[], list[BaseMessage]], bound: int) -> None:
        """Rewrite a slot lazily: ``build()`` runs when its messages or tokens are read.

        Args:
            slot: The slot to rewrite.
            build: Returns the equivalent rewritten unit.
            bound: A lower bound of the tokens of ``build()`` (what :attr:`fits` assumes
                until the rewrite is built).
        """
        if slot.kept:
            self._remove(slot)
        slot._pending = build
        slot._bound = bound
        slot.rewritten = True
        if slot.kept:
            self._add(slot)

    def render(self) -> list[BaseMessage]:
        """Return the messages to send, in order."""
        out = [*self.system, *self.summary]
        for slot in self.slots:
            if slot.kept:
                out.extend(slot.messages)
        return out


@runtime_checkable
class ContextStrategy(Protocol):
    """One step of history reduction; steps run cheapest first until the plan fits."""

    def apply(self, plan: Plan) -> None:
        """Edit ``plan`` in place (rewrite or drop unprotected slots, set a summary)."""
        ...
