"""Atomic units of a message history.

A *unit* is the smallest piece of history that can be dropped, masked or summarized without
breaking the conversation for a provider:

* a system message;
* a human message;
* an ``AIMessage`` without tool calls;
* a *tool exchange*: an ``AIMessage`` with ``tool_calls`` / ``invalid_tool_calls`` (any
  reasoning blocks live in its content, so they travel with it) together with **all** the
  ``ToolMessage``s that answer it; parallel calls stay together.

``langchain_core.messages.trim_messages`` cuts at message granularity and only repairs the
start of the window (``start_on``), so a cut can still leave an orphan ``ToolMessage`` or an
unanswered call in the middle or at the end of a history; that is why the unit split is
written here rather than borrowed.

Example:
    .. code-block:: python

        units = split_units(messages)
        [u.kind for u in units]  # ["system", "human", "tool_exchange", "ai"]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

__all__ = ["Unit", "UnitKind", "call_ids", "repair_history", "split_units"]

logger = logging.getLogger(__name__)

UnitKind = Literal["system", "human", "ai", "tool_exchange", "other"]


@dataclass(frozen=True)
class Unit:
    """An atomic run of messages that is kept or removed as a whole."""

    kind: UnitKind
    """What the unit is (see the module docstring)."""
    messages: tuple[BaseMessage, ...]
    """The messages of the unit, in order."""
    index: int
    """Position of the unit's first message in the input list."""
    answered: frozenset[str] = field(default_factory=frozenset)
    """Tool-call ids answered by a ``ToolMessage`` inside the unit."""

    @property
    def head(self) -> BaseMessage:
        """The first message of the unit."""
        return self.messages[0]


def call_ids(message: AIMessage) -> list[str]:
    """Return the ids of a message's tool calls and invalid tool calls, in order."""
    ids = [c.get("id") or "" for c in message.tool_calls]
    ids += [c.get("id") or "" for c in message.invalid_tool_calls]
    return [i for i in ids if i]


def _has_calls(message: BaseMessage) -> bool:
    return isinstance(message, AIMessage) and bool(message.tool_calls or message.invalid_tool_calls)


def split_units(messages: Sequence[BaseMessage]) -> list[Unit]:
    """Split a history into atomic units (no repair; orphans become ``other`` units).

    Args:
        messages: The history, oldest first.

    Returns:
        The units in order; concatenating their messages gives back ``messages``.
    """
    units: list[Unit] = []
    i = 0
    n = len(messages)
    while i < n:
        msg = messages[i]
        if _has_calls(msg):
            assert isinstance(msg, AIMessage)
            wanted = set(call_ids(msg))
            group: list[BaseMessage] = [msg]
            answered: set[str] = set()
            j = i + 1
            while j < n and isinstance(messages[j], ToolMessage):
                tool_msg = messages[j]
                assert isinstance(tool_msg, ToolMessage)
                if tool_msg.tool_call_id not in wanted or tool_msg.tool_call_id in answered:
                    break
                answered.add(tool_msg.tool_call_id)
                group.append(tool_msg)
                j += 1
            units.append(Unit("tool_exchange", tuple(group), i, frozenset(answered)))
            i = j
            continue
        kind: UnitKind
        if isinstance(msg, SystemMessage):
            kind = "system"
        elif isinstance(msg, HumanMessage):
            kind = "human"
        elif isinstance(msg, AIMessage):
            kind = "ai"
        else:
            kind = "other"
        units.append(Unit(kind, (msg,), i))
        i += 1
    return units


def repair_history(messages: Sequence[BaseMessage]) -> tuple[list[BaseMessage], list[str]]:
    """Make a history structurally valid by removing what cannot be paired.

    Orphan ``ToolMessage``s are dropped; tool calls without a result are removed from their
    ``AIMessage`` (a copy; an ``AIMessage`` left with neither text nor calls is dropped).
    Nothing is invented.

    Args:
        messages: The history, oldest first.

    Returns:
        ``(repaired, notes)``: the repaired list and one line per change made.
    """
    out: list[BaseMessage] = []
    notes: list[str] = []
    for unit in split_units(messages):
        if unit.kind == "other" and isinstance(unit.head, ToolMessage):
            tool_msg = unit.head
            notes.append(f"dropped orphan ToolMessage (tool_call_id={tool_msg.tool_call_id!r})")
            continue
        if unit.kind != "tool_exchange":
            out.extend(unit.messages)
            continue
        ai = unit.head
        assert isinstance(ai, AIMessage)
        calls = [c for c in ai.tool_calls if c.get("id") in unit.answered]
        # Invalid calls need no answer (ToolNode never executes them); keep them as they are.
        if len(calls) == len(ai.tool_calls) and all(c.get("id") for c in ai.tool_calls):
            out.extend(unit.messages)
            continue
        missing = [c.get("id") for c in ai.tool_calls if c.get("id") not in unit.answered]
        notes.append(f"removed unanswered tool calls {missing!r}")
        fixed = ai.model_copy(update={"tool_calls": calls})
        if not calls and not fixed.invalid_tool_calls and not fixed.text.strip():
            out.extend(unit.messages[1:])  # no answered ToolMessage can exist then
            continue
        out.append(fixed)
        out.extend(unit.messages[1:])
    return out, notes
