"""Strategy (a): mask old tool outputs, keeping the tool name and the ids later turns use.

Published evidence (observation masking in agent trajectories) finds that replacing old tool
outputs by a placeholder halves cost without the quality loss of LLM summaries. The
placeholder here keeps the tool name, the size of what was removed and the fact-like strings
(ids, numbers, dates) of the output, those referred to by later messages first.

Example:
    .. code-block:: python

        ContextOptimizer(max_tokens=2000, strategies=[MaskToolOutputs(keep_last=3)])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage

from langchain_tokenopt.context._memo import count_text, memo
from langchain_tokenopt.context.facts import call_facts, message_facts, message_text, ranked_facts
from langchain_tokenopt.context.strategies.base import Plan, Slot
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tokens import MESSAGE_OVERHEAD

__all__ = ["MASK_PREFIX", "MaskToolOutputs"]

#: Start of every placeholder (so masked outputs are recognisable).
MASK_PREFIX = "[tool output masked"


@dataclass(frozen=True)
class MaskToolOutputs:
    """Replace old tool outputs by placeholders, oldest first, until the plan fits.

    Args:
        keep_last: The newest ``keep_last`` tool exchanges keep their outputs (the newest
            unit of the history always does).
        min_tokens: Outputs of fewer tokens are left alone (masking would not pay).
        max_facts: At most this many ids / values are kept per placeholder.
    """

    keep_last: int = 1
    """Newest tool exchanges never masked (the newest unit is never masked either)."""
    min_tokens: int = 40
    """Outputs smaller than this are not masked."""
    max_facts: int = 16
    """Ids / values kept in one placeholder."""

    def __post_init__(self) -> None:
        for name in ("keep_last", "min_tokens", "max_facts"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                msg = f"MaskToolOutputs.{name} must be an int >= 0, got {value!r}"
                raise TokenOptConfigError(msg)

    def apply(self, plan: Plan) -> None:
        """Mask outputs oldest first, stopping as soon as the plan fits.

        Each rewrite is deferred (:meth:`Plan.defer`) with a lower bound of its tokens, so
        on a long thread only the masked units that stay in the window are ever built, and
        the later mentions are scanned only down to the oldest unit built.
        """
        if plan.fits:
            return
        exchanges = [s for s in plan.slots if s.kept and s.unit.kind == "tool_exchange"]
        candidates = [
            s for s in exchanges[: max(0, len(exchanges) - self.keep_last)] if not s.protected
        ]
        if not candidates:
            return
        later = _LaterMentions(plan.slots)
        masked = 0
        for slot in candidates:
            if slot._uncounted:  # far back in a long history: decide only if it is ever read
                if any(self._maskable(m) for m in slot.messages):
                    build = self._lazy_builder(slot.messages, slot.position, later, plan)
                    plan.defer(slot, build, 0)
                    masked += 1
                    if plan.fits:
                        break
                continue
            targets = [
                i
                for i, msg in enumerate(slot.messages)
                if isinstance(msg, ToolMessage)
                and plan.count([msg]) >= self.min_tokens
                and not message_text(msg).startswith(MASK_PREFIX)
            ]
            if not targets:
                continue
            original = slot.messages
            bound = plan.count([m for i, m in enumerate(original) if i not in targets])
            bound += sum(
                _MIN_MESSAGE_TOKENS + count_text(plan.counter, self._head(original[i], plan))
                for i in targets
            )
            plan.defer(slot, self._builder(original, targets, slot.position, later, plan), bound)
            masked += 1
            if plan.fits:
                break
        if masked:
            plan.notes.append(f"masked the outputs of {masked} old tool exchange(s)")

    @staticmethod
    def _maskable(msg: BaseMessage) -> bool:
        return isinstance(msg, ToolMessage) and not message_text(msg).startswith(MASK_PREFIX)

    def _lazy_builder(
        self, original: list[BaseMessage], position: int, later: _LaterMentions, plan: Plan
    ) -> Callable[[], list[BaseMessage]]:
        def build() -> list[BaseMessage]:
            targets = [
                i
                for i, msg in enumerate(original)
                if self._maskable(msg) and plan.count([msg]) >= self.min_tokens
            ]
            return self._builder(original, targets, position, later, plan)()

        return build

    def _builder(
        self,
        original: list[BaseMessage],
        targets: list[int],
        position: int,
        later: _LaterMentions,
        plan: Plan,
    ) -> Callable[[], list[BaseMessage]]:
        def build() -> list[BaseMessage]:
            last_seen = later.down_to(position + 1)
            out = list(original)
            for i in targets:
                msg = original[i]
                assert isinstance(msg, ToolMessage)
                out[i] = self._masked(msg, last_seen, position, plan)
            return out

        return build

    def _masked(
        self, msg: ToolMessage, last_seen: dict[str, int], position: int, plan: Plan
    ) -> ToolMessage:
        facts = message_facts(msg)
        ranked = memo("ranked", msg, lambda: tuple(ranked_facts(facts)))
        referenced = [f for f in ranked if last_seen.get(f, -1) > position]
        others = [f for f in ranked if last_seen.get(f, -1) <= position]
        kept = tuple((referenced + others)[: self.max_facts])
        # Memoized per (message, kept facts): the same copy is reused every turn, so its
        # token count is memoized too.
        return memo(
            f"mask:{self.max_facts}:{hash(kept)}",
            msg,
            lambda: msg.model_copy(update={"content": self._placeholder(msg, kept, plan)}),
        )

    @staticmethod
    def _head(msg: BaseMessage, plan: Plan) -> str:
        assert isinstance(msg, ToolMessage)
        size = plan.count([msg])
        head = f"{MASK_PREFIX}: {msg.name or 'tool'}, {size} tokens"
        return head + ", error" if msg.status == "error" else head

    def _placeholder(self, msg: ToolMessage, kept: tuple[str, ...], plan: Plan) -> str:
        head = self._head(msg, plan)
        return f"{head}; ids/values: {', '.join(kept)}]" if kept else f"{head}]"


# A message's tokens are at least its overhead plus one for the role; the placeholder's
# content starts with its head (the head ends in a word and the rest starts with
# punctuation, so the head's tokens are a lower bound of the content's).
_MIN_MESSAGE_TOKENS = MESSAGE_OVERHEAD + 1


class _LaterMentions:
    """Last position where each fact is mentioned, scanned lazily from the newest unit down.

    ``down_to(p)`` guarantees every slot at position >= ``p`` has been scanned; scanning
    further down only adds facts first seen at lower positions, so the answer to "is this
    fact mentioned after position p" stays exact. Tool outputs and tool-call arguments are
    scanned for facts; prose (user and assistant text) is read as its words, which a fact
    matches when the prose mentions it (a cheaper read than the fact scan).
    """

    def __init__(self, slots: list[Slot]) -> None:
        self._slots = slots
        self._next = len(slots) - 1
        self.last_seen: dict[str, int] = {}

    def down_to(self, position: int) -> dict[str, int]:
        seen = self.last_seen
        while self._next >= 0 and self._slots[self._next].position >= position:
            slot = self._slots[self._next]
            for msg in slot.unit.messages:
                # Only what no newer message mentions (set difference and update run in C).
                seen.update(dict.fromkeys(mentions(msg).difference(seen), slot.position))
            self._next -= 1
        return seen


# Characters no fact ends with or contains (in prose) become spaces; ". ", ", " and ": "
# end a word too, so a word is what a fact in that place would be.
_WORD_BREAKS = MappingProxyType(str.maketrans(dict.fromkeys("\"'`{}[]()<>|*;!?\n\r\t", " ")))


def mentions(msg: BaseMessage) -> frozenset[str]:
    """Return what a later message can refer back to, memoized per message.

    The facts of tool outputs and tool calls, and the words of prose (stripped of trailing
    punctuation).
    """
    return memo("mentions", msg, lambda: _mentions(msg))


def _mentions(msg: BaseMessage) -> frozenset[str]:
    if isinstance(msg, ToolMessage | SystemMessage):
        return frozenset(message_facts(msg))
    text = (message_text(msg, with_calls=False) + " ").translate(_WORD_BREAKS)
    words = text.replace(". ", " ").replace(", ", " ").replace(": ", " ").split()
    if isinstance(msg, AIMessage) and (msg.tool_calls or msg.invalid_tool_calls):
        return frozenset(words).union(call_facts(msg))
    return frozenset(words)
