"""Describe a request as the prompt-cache model sees it: ordered parts with stable hashes.

Example:
    .. code-block:: python

        from langchain_core.messages import HumanMessage, SystemMessage
        from langchain_tokenopt.monitoring import RequestShape

        shape = RequestShape.from_messages([SystemMessage("Be brief."), HumanMessage("Hi")])
        shape.input_tokens  # the same as TokenCounter().count_messages(...)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage

from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tokens import (
    REPLY_PRIMING,
    TOOLS_ARRAY_OVERHEAD,
    TokenCounter,
    get_token_counter,
    tool_schema_json,
)

__all__ = ["RequestShape"]


@dataclass(frozen=True, slots=True)
class RequestShape:
    """One request as the cost model sees it: ordered parts, each a stable hash and its tokens.

    Lists are accepted and stored as tuples; negative breakpoint indices count from the end.

    Example:
        .. code-block:: python

            RequestShape(parts=[("tools:v1", 900), ("system", 1500), ("m1", 40)],
                         output_tokens=120, at=12.5, breakpoints=[1])
    """

    parts: tuple[tuple[str, int], ...]
    """``(hash, tokens)`` per part, in the order the provider serializes them."""
    output_tokens: int = 0
    """Completion tokens of the request."""
    at: float = 0.0
    """When it was sent, in seconds (any origin; non-decreasing within a thread)."""
    breakpoints: tuple[int, ...] = ()
    """Indices of the parts that end with a ``cache_control`` breakpoint (Anthropic only)."""

    def __post_init__(self) -> None:
        parts = tuple((str(h), int(n)) for h, n in self.parts)
        if any(n < 0 for _, n in parts) or self.output_tokens < 0:
            msg = "RequestShape token counts must be >= 0"
            raise TokenOptConfigError(msg)
        marks = sorted({i + len(parts) if i < 0 else i for i in self.breakpoints})
        if any(not 0 <= i < len(parts) for i in marks):
            msg = (
                f"RequestShape.breakpoints must index parts (0..{len(parts) - 1}),"
                f" got {self.breakpoints}"
            )
            raise TokenOptConfigError(msg)
        object.__setattr__(self, "parts", parts)
        object.__setattr__(self, "breakpoints", tuple(marks))

    @property
    def input_tokens(self) -> int:
        """All prompt tokens of the request."""
        return sum(n for _, n in self.parts)

    @classmethod
    def from_messages(
        cls,
        messages: Sequence[BaseMessage],
        *,
        tools: Sequence[Any] = (),
        counter: TokenCounter | None = None,
        output_tokens: int = 0,
        at: float = 0.0,
        breakpoints: Sequence[int] | None = None,
    ) -> RequestShape:
        """Describe a LangChain request: tools, then system messages, then the others.

        That is the order providers serialize a prompt in. Each tool and each message is one
        part, hashed from its serialized content (``cache_control`` markers and message ids
        left out, a string content taken as one text block); the reply priming is a last
        part, so the parts add up to
        ``counter.count_tools(tools) + counter.count_messages(messages)``.

        Args:
            messages: The request's messages.
            tools: The bound tools (anything ``convert_to_openai_tool`` accepts).
            counter: A :class:`~langchain_tokenopt.tokens.TokenCounter` (default: the shared
                ``o200k_base`` one).
            output_tokens: Completion tokens of the request.
            at: When it was sent, in seconds.
            breakpoints: Part indices with a breakpoint. ``None`` reads them from the request:
                tool dicts with a ``cache_control`` key and messages with a content block
                that has one.

        Returns:
            The request's shape.

        Example:
            .. code-block:: python

                shape = RequestShape.from_messages([SystemMessage(p), HumanMessage(q)], tools=tools)
        """
        counter = counter if counter is not None else get_token_counter()
        schemas = [tool_schema_json(_strip_cache_control(t)) for t in tools]
        tool_tokens = counter.count_batch(schemas) if schemas else []
        parts = [
            (_digest("tool", s), n + (TOOLS_ARRAY_OVERHEAD if i == 0 else 0))
            for i, (s, n) in enumerate(zip(schemas, tool_tokens, strict=True))
        ]
        marks = [i for i, t in enumerate(tools) if isinstance(t, dict) and "cache_control" in t]
        ordered = [m for m in messages if m.type == "system"]
        ordered += [m for m in messages if m.type != "system"]
        for message, tokens in zip(ordered, counter.count_each(ordered), strict=True):
            if _has_cache_control(message.content):
                marks.append(len(parts))
            parts.append((_digest("message", _serialize(message)), tokens))
        if ordered:
            parts.append(("reply-priming", REPLY_PRIMING))
        chosen = marks if breakpoints is None else list(breakpoints)
        return cls(
            parts=tuple(parts), output_tokens=output_tokens, at=at, breakpoints=tuple(chosen)
        )


def _digest(kind: str, text: str) -> str:
    return f"{kind}:{hashlib.blake2b(text.encode('utf-8'), digest_size=16).hexdigest()}"


def _strip_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip_cache_control(v) for v in value]
    return value


def _has_cache_control(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(b, dict) and "cache_control" in b for b in content
    )


def _blocks(content: Any) -> Any:
    """A string content is one text block to the provider: hash both forms alike."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [{"type": "text", "text": b} if isinstance(b, str) else b for b in content]


def _serialize(message: BaseMessage) -> str:
    """What the provider receives of a message (no LangChain id), as canonical JSON."""
    body: dict[str, Any] = {
        "type": message.type,
        "content": _strip_cache_control(_blocks(message.content)),
        "name": getattr(message, "name", None),
        "tool_calls": [
            {"name": c.get("name"), "args": c.get("args"), "id": c.get("id")}
            for c in getattr(message, "tool_calls", None) or []
        ],
        "tool_call_id": getattr(message, "tool_call_id", None),
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, default=str)
