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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from langchain_core.messages import BaseMessage, HumanMessage

from langchain_tokenopt.context._memo import count_each
from langchain_tokenopt.context.units import Unit
from langchain_tokenopt.tokens import REPLY_PRIMING, TokenCounter

__all__ = ["SUMMARY_ID_PREFIX", "ContextStrategy", "Plan", "Slot"]

#: Id prefix of the summary messages the optimizer writes (recognised on later turns).
SUMMARY_ID_PREFIX = "tokenopt-summary-"


@dataclass
class Slot:
    """One unit of the history inside a :class:`Plan`."""

    unit: Unit
    """The original unit."""
    messages: list[BaseMessage]
    """The unit as it will be sent (masked, compressed or truncated copies)."""
    tokens: int
    """Tokens of :attr:`messages` (per-message overheads included, no reply priming)."""
    position: int
    """Index among the non-system units of the input (stable as the history grows)."""
    kept: bool = True
    """False once a strategy dropped the unit."""
    protected: bool = False
    """The newest unit and the newest human turn: never dropped."""
    rewritten: bool = False
    """True once the messages differ from the original unit."""

    @property
    def is_human(self) -> bool:
        """Whether the unit is a human message."""
        return isinstance(self.unit.head, HumanMessage)


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

    def __post_init__(self) -> None:
        self._system_tokens = self.count(self.system)
        self._summary_tokens = self.count(self.summary)
        self._kept_tokens = sum(s.tokens for s in self.slots if s.kept)

    def count(self, messages: Sequence[BaseMessage]) -> int:
        """Tokens of ``messages`` without reply priming (memoized per message)."""
        return sum(count_each(self.counter, messages))

    @property
    def system_tokens(self) -> int:
        """Tokens of the system and summary messages."""
        return self._system_tokens + self._summary_tokens

    @property
    def kept_tokens(self) -> int:
        """Tokens of the kept slots."""
        return self._kept_tokens

    @property
    def total(self) -> int:
        """Tokens of the plan as it would be sent now."""
        return REPLY_PRIMING + self._system_tokens + self._summary_tokens + self._kept_tokens

    @property
    def fits(self) -> bool:
        """Whether the plan is within the budget."""
        return self.total <= self.budget

    def set_summary(self, messages: list[BaseMessage]) -> None:
        """Replace the summary messages."""
        self.summary = list(messages)
        self._summary_tokens = self.count(self.summary)

    def drop(self, slot: Slot) -> None:
        """Drop a slot (protected slots cannot be dropped)."""
        if slot.protected:
            msg = "protected units (newest unit, newest human turn) cannot be dropped"
            raise ValueError(msg)
        if slot.kept:
            slot.kept = False
            self._kept_tokens -= slot.tokens

    def restore(self, slot: Slot) -> None:
        """Keep a previously dropped slot again."""
        if not slot.kept:
            slot.kept = True
            self._kept_tokens += slot.tokens

    def replace(self, slot: Slot, messages: list[BaseMessage]) -> None:
        """Swap a slot's messages for an equivalent rewritten unit."""
        tokens = self.count(messages)
        if slot.kept:
            self._kept_tokens += tokens - slot.tokens
        slot.messages = messages
        slot.tokens = tokens
        slot.rewritten = True

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
