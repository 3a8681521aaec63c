"""Keep the request prefix cacheable: which providers cache prefixes, and how to ask them.

Anthropic, OpenAI and Gemini bill a re-sent request prefix at a fraction of the input
price. A request is serialized tools first, then the system prompt, then the messages, so
the prefix-stable mode (``prefix_stable=True`` in :func:`~langchain_tokenopt.build_optimized_agent`
and :class:`~langchain_tokenopt.graph.middleware.TokenOptMiddleware`) keeps each of those
stable within a thread (append-only tool working set, the system prompt fitted once per
thread, history compacted in steps) and this module asks the provider to cache them:

* **Anthropic** reads ``cache_control`` breakpoints (at most 4): on the last tool, on the
  system prompt, at the end of the compacted history and on the newest message
  (langchain-anthropic passes content blocks' ``cache_control`` through).
* **OpenAI** caches prefixes on its own; a stable ``prompt_cache_key`` per thread routes the
  thread's calls to the same cache.
* **Gemini** caches implicitly; nothing to add.

Example:
    .. code-block:: python

        from langchain_tokenopt.graph.prefix import provider_of

        provider_of(ChatAnthropic(model="claude-sonnet-4-5"))  # "anthropic"
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langchain_core.messages import BaseMessage, SystemMessage

__all__ = [
    "EPHEMERAL",
    "Provider",
    "cache_key_for",
    "mark_breakpoints",
    "prefix_caching_default",
    "provider_of",
]

Provider = Literal["anthropic", "openai", "google"]

#: Anthropic's breakpoint value (5-minute lifetime, refreshed on each read).
EPHEMERAL: dict[str, str] = {"type": "ephemeral"}

_BY_CLASS: tuple[tuple[str, Provider], ...] = (
    ("anthropic", "anthropic"),
    ("claude", "anthropic"),
    ("openai", "openai"),
    ("gemini", "google"),
    ("googlegenai", "google"),
    ("vertex", "google"),
)


def provider_of(model: Any) -> Provider | None:
    """The provider whose prompt cache a chat model talks to, from its class (or ``None``)."""
    cls = type(model)
    name = f"{cls.__module__}.{cls.__qualname__}".lower()
    for needle, provider in _BY_CLASS:
        if needle in name:
            return provider
    return None


def prefix_caching_default(model: Any) -> bool:
    """Whether the prefix-stable mode is on by default: the provider caches prefixes."""
    return provider_of(model) is not None


def cache_key_for(config: Mapping[str, Any] | None, fallback: str = "") -> str:
    """A stable per-thread ``prompt_cache_key``: the thread id, else a digest of ``fallback``."""
    configurable = (config or {}).get("configurable") or {}
    thread = configurable.get("thread_id") if isinstance(configurable, Mapping) else None
    if thread:
        return f"tokenopt-{thread}"[:64]
    return "tokenopt-" + hashlib.sha256(fallback.encode()).hexdigest()[:24]


def _with_breakpoint(message: BaseMessage) -> BaseMessage:
    """A copy of ``message`` whose last content block carries a cache breakpoint."""
    content = message.content
    blocks: list[Any]
    if isinstance(content, str):
        if not content:
            return message
        blocks = [{"type": "text", "text": content}]
    else:
        blocks = [dict(b) if isinstance(b, Mapping) else b for b in content]
    for i in range(len(blocks) - 1, -1, -1):
        block = blocks[i]
        if isinstance(block, dict) and block.get("type") in ("text", "tool_result", "image"):
            blocks[i] = {**block, "cache_control": dict(EPHEMERAL)}
            return message.model_copy(update={"content": blocks})
    return message


def _anthropic_tool(tool: Any) -> dict[str, Any]:
    """The tool as an Anthropic tool dict with a breakpoint (the whole tools block caches)."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    spec = convert_to_openai_tool(tool)["function"]
    return {
        "name": spec["name"],
        "description": spec.get("description") or spec["name"],
        "input_schema": spec.get("parameters") or {"type": "object", "properties": {}},
        "cache_control": dict(EPHEMERAL),
    }


def mark_breakpoints(
    system: SystemMessage | None,
    messages: Sequence[BaseMessage],
    tools: Sequence[Any],
    stable_messages: int,
) -> tuple[SystemMessage | None, list[BaseMessage], list[Any]]:
    """Place Anthropic ``cache_control`` breakpoints on a request (copies, inputs untouched).

    Breakpoints go on the last tool, the system prompt, the last message of the stable
    (compacted) history and the newest message: four at most, as Anthropic allows.

    Args:
        system: The system message, or ``None``.
        messages: The messages after the system prompt.
        tools: The tools to bind (the last one is converted to Anthropic's dict format).
        stable_messages: How many leading ``messages`` form the compacted, stable history.
    """
    out_tools = list(tools)
    if out_tools:
        out_tools[-1] = _anthropic_tool(out_tools[-1])
    out_system = _with_breakpoint(system) if system is not None else None
    out = list(messages)
    marks = {len(out) - 1}
    if 0 < stable_messages <= len(out):
        marks.add(stable_messages - 1)
    for i in sorted(m for m in marks if m >= 0):
        out[i] = _with_breakpoint(out[i])
    assert out_system is None or isinstance(out_system, SystemMessage)
    return out_system, out, out_tools
