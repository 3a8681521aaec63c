"""Structural validation of a message history, in both directions.

:func:`validate_history` raises :class:`~langchain_tokenopt.errors.InvalidHistoryError`
listing every problem; :func:`find_problems` returns them. Checked:

* every ``ToolMessage`` answers a call of the ``AIMessage`` right before it (possibly after
  sibling ``ToolMessage``s): no orphan result, no duplicate answer;
* every ``tool_calls`` entry is answered before the next non-tool message: no unanswered call
  (invalid tool calls may stay unanswered: tool executors never run them);
* every tool call has an id;
* role order: system messages only at the start, and (``require_human_first``) the first
  non-system message is a human one.

Example:
    .. code-block:: python

        from langchain_tokenopt import validate_history

        validate_history(messages)  # raises InvalidHistoryError on an orphan ToolMessage
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_tokenopt.context.units import call_ids
from langchain_tokenopt.errors import InvalidHistoryError

__all__ = ["find_problems", "validate_history"]


def find_problems(
    messages: Sequence[BaseMessage],
    *,
    require_human_first: bool = True,
    system_first: bool = True,
) -> list[str]:
    """Return one line per structural problem of ``messages`` (empty when valid).

    Args:
        messages: The history, oldest first.
        require_human_first: Require the first non-system message to be a ``HumanMessage``.
        system_first: Require system messages to come before every other message.
    """
    problems: list[str] = []
    open_ai: AIMessage | None = None
    open_index = -1
    pending: set[str] = set()
    allowed: set[str] = set()
    answered: set[str] = set()
    seen_non_system = False

    def close(at: int) -> None:
        nonlocal open_ai, pending
        if open_ai is not None and pending:
            problems.append(
                f"message {open_index}: tool calls {sorted(pending)} are not answered "
                f"before message {at}"
            )
        open_ai = None
        pending = set()

    for i, msg in enumerate(messages):
        if not isinstance(msg, BaseMessage):
            problems.append(f"message {i}: not a BaseMessage ({type(msg).__name__})")
            continue
        if isinstance(msg, ToolMessage):
            if open_ai is None:
                problems.append(
                    f"message {i}: orphan ToolMessage (tool_call_id={msg.tool_call_id!r}) "
                    "does not follow an AIMessage with tool calls"
                )
            elif msg.tool_call_id not in allowed:
                problems.append(
                    f"message {i}: ToolMessage answers unknown tool_call_id {msg.tool_call_id!r}"
                )
            elif msg.tool_call_id in answered:
                problems.append(f"message {i}: tool_call_id {msg.tool_call_id!r} answered twice")
            else:
                answered.add(msg.tool_call_id)
                pending.discard(msg.tool_call_id)
            seen_non_system = True
            continue
        close(i)
        if isinstance(msg, SystemMessage):
            if seen_non_system and system_first:
                problems.append(f"message {i}: system message after the conversation started")
            continue
        if not seen_non_system and require_human_first and not isinstance(msg, HumanMessage):
            problems.append(
                f"message {i}: the conversation starts with a {msg.type} message, not a human one"
            )
        seen_non_system = True
        if isinstance(msg, AIMessage) and (msg.tool_calls or msg.invalid_tool_calls):
            if any(not c.get("id") for c in msg.tool_calls):
                problems.append(f"message {i}: a tool call has no id")
            open_ai = msg
            open_index = i
            pending = {str(c["id"]) for c in msg.tool_calls if c.get("id")}
            allowed = set(call_ids(msg))
            answered = set()
    close(len(messages))
    return problems


def validate_history(
    messages: Sequence[BaseMessage],
    *,
    require_human_first: bool = True,
    system_first: bool = True,
) -> list[BaseMessage]:
    """Check ``messages`` and return them as a list, or raise.

    Args:
        messages: The history, oldest first.
        require_human_first: Require the first non-system message to be a ``HumanMessage``.
        system_first: Require system messages to come before every other message.

    Returns:
        ``list(messages)`` when the history is valid.

    Raises:
        InvalidHistoryError: with one line per problem (``err.problems``); also when
            ``messages`` is not a sequence of messages (a str, ``None``, ...).

    Example:
        .. code-block:: python

            validate_history([HumanMessage("hi"), AIMessage("hello")])
    """
    if isinstance(messages, str | bytes | BaseMessage) or not isinstance(messages, Iterable):
        # one clear line (a 10 MB string would otherwise give one problem per character)
        raise InvalidHistoryError(
            [f"messages must be a sequence of BaseMessage, got {type(messages).__name__}"]
        )
    problems = find_problems(
        messages, require_human_first=require_human_first, system_first=system_first
    )
    if problems:
        raise InvalidHistoryError(problems)
    return list(messages)
