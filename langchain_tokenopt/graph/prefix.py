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
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langchain_core.messages import BaseMessage, SystemMessage

from langchain_tokenopt.context.compaction import DEFAULT_COMPACT_TO

__all__ = [
    "EPHEMERAL",
    "Provider",
    "cache_key_for",
    "compaction_share",
    "head_changed",
    "head_key",
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


#: A call adds about this share of the history budget (tau-bench airline: 300-400 tokens a
#: call at the 3,000-token default budget); it sets how far a view may grow.
GROWTH_PER_CALL = 1 / 8


def compaction_share(provider: Provider | None) -> float:
    """The default ``compact_to`` for a provider: where its read and write prices balance.

    A compaction brings the history view to the budget ``B`` and re-writes it to the cache;
    the next calls append ``g`` tokens each, written once and read back at the read price
    after. Growing the view to ``L`` costs about ``w*B*g/(L-B) + r*(B+L)/2`` per call (the
    compaction's write spread over the calls until the next, plus the reads), lowest at
    ``L = B + sqrt(2*w*g*B/r)``. With ``g = B/8`` (:data:`GROWTH_PER_CALL`) the share
    ``B/L`` is ``1 / (1 + sqrt(w / (4*r)))``: Anthropic (reads 0.1x, writes 1.25x) 0.36, Gemini
    (0.25x) 0.5, OpenAI (0.5x) 0.59; a model without prefix caching gets
    :data:`~langchain_tokenopt.context.compaction.DEFAULT_COMPACT_TO`.

    Example:
        .. code-block:: python

            compaction_share("anthropic")  # 0.36
    """
    if provider is None:
        return DEFAULT_COMPACT_TO
    from langchain_tokenopt.monitoring.provider_rules import caching_rules

    rules = caching_rules(provider, "")
    write, read = rules.write_multiplier, rules.read_multiplier
    return round(1 / (1 + math.sqrt(2 * GROWTH_PER_CALL * write / read)), 2)


def head_key(tool_names: Sequence[str], system: str | None) -> str:
    """A digest of what a request sends before its history: the bound tools and the system prompt.

    Two calls of a thread with the same key can share a cached prefix into the history; a new
    key means the provider re-reads everything after the first change (tools come first).

    Example:
        .. code-block:: python

            head_key(["search_flights", "find_tools"], "You are an airline agent.")
    """
    digest = hashlib.sha256()
    for name in tool_names:
        digest.update(name.encode() + b"\x00")
    digest.update(b"\x01" + (system or "").encode())
    return digest.hexdigest()[:24]


def head_changed(kept: Mapping[str, Any], head: str) -> bool:
    """Whether ``head`` differs from the one the thread's previous call kept (``"head"``)."""
    before = kept.get("head")
    return before is not None and before != head


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
