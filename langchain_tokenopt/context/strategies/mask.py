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

from dataclasses import dataclass

from langchain_core.messages import BaseMessage, ToolMessage

from langchain_tokenopt.context._memo import memo
from langchain_tokenopt.context.facts import message_facts, message_text, ranked_facts
from langchain_tokenopt.context.strategies.base import Plan
from langchain_tokenopt.errors import TokenOptConfigError

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
        """Mask outputs oldest first, stopping as soon as the plan fits."""
        if plan.fits:
            return
        exchanges = [s for s in plan.slots if s.kept and s.unit.kind == "tool_exchange"]
        candidates = [
            s for s in exchanges[: max(0, len(exchanges) - self.keep_last)] if not s.protected
        ]
        if not candidates:
            return
        # Last position where each fact is mentioned: what later turns may refer to.
        last_seen: dict[str, int] = {}
        for slot in plan.slots:
            for msg in slot.unit.messages:
                last_seen.update(dict.fromkeys(message_facts(msg), slot.position))
        masked = 0
        for slot in candidates:
            new_messages: list[BaseMessage] = []
            changed = False
            for msg in slot.messages:
                if (
                    isinstance(msg, ToolMessage)
                    and plan.count([msg]) >= self.min_tokens
                    and not message_text(msg).startswith(MASK_PREFIX)
                ):
                    new_messages.append(self._masked(msg, last_seen, slot.position, plan))
                    changed = True
                else:
                    new_messages.append(msg)
            if changed:
                plan.replace(slot, new_messages)
                masked += 1
                if plan.fits:
                    break
        if masked:
            plan.notes.append(f"masked the outputs of {masked} old tool exchange(s)")

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

    def _placeholder(self, msg: ToolMessage, kept: tuple[str, ...], plan: Plan) -> str:
        size = plan.count([msg])
        name = msg.name or "tool"
        head = f"{MASK_PREFIX}: {name}, {size} tokens"
        if msg.status == "error":
            head += ", error"
        return f"{head}; ids/values: {', '.join(kept)}]" if kept else f"{head}]"
