"""Which turns of a tool-using agent may be stored in the response cache, and for how long.

An answer that came after tool calls is only as good as what those tools returned: a
booking confirmation replayed without booking, or yesterday's weather served today, is a
wrong answer. So by default a turn whose answer came after tool calls is **not** stored.
A tool can be declared *cacheable* with a lifetime, in its metadata
(``@tool(metadata={"cache_ttl": 600})`` or ``{"metadata": {"cache_ttl": 600}}`` on a schema
dict) or with a ``cacheable_tools={"get_weather": 600}`` mapping; a turn that called only
cacheable tools is stored with the smallest lifetime among them. Anything that books,
cancels, sends or changes something must simply not be declared.

``find_tools`` (loading tool schemas) reads nothing the answer depends on and is ignored.

Example:
    .. code-block:: python

        from langchain_tokenopt.cache.tool_policy import cacheable_ttls, turn_store_decision

        ttls = cacheable_ttls(tools, {"get_weather": 600})
        decision = turn_store_decision(messages, ttls)
        decision.store, decision.ttl, decision.reason
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from langchain_tokenopt.errors import TokenOptConfigError

__all__ = [
    "CACHE_TTL_KEY",
    "NEUTRAL_TOOLS",
    "StoreDecision",
    "cacheable_ttls",
    "context_free_tools",
    "turn_store_decision",
]

#: Metadata key declaring a tool cacheable, with its lifetime in seconds.
CACHE_TTL_KEY = "cache_ttl"

#: Meta-tools whose calls never make a turn uncacheable (they load schemas, not data).
NEUTRAL_TOOLS = frozenset({"find_tools"})
_NEUTRAL = NEUTRAL_TOOLS


@dataclass(frozen=True)
class StoreDecision:
    """Whether a turn's final answer may be stored, and with which lifetime."""

    store: bool
    """True when the answer may be stored."""
    ttl: float | None
    """Lifetime in seconds for a turn that used cacheable tools; ``None`` leaves the
    cache's own default (a turn without tool calls)."""
    reason: str
    """Why, in words (for logs)."""
    tools: tuple[str, ...] = ()
    """The tools the turn called (meta-tools left out)."""


def _valid_ttl(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or not value > 0
    ):
        msg = f"the cache lifetime of tool {name!r} must be a positive number, got {value!r}"
        raise TokenOptConfigError(msg)
    return float(value)


def _tool_name(tool: Any) -> str:
    if isinstance(tool, Mapping):
        inner = tool.get("function", tool)
        return str(inner.get("name", "")) if isinstance(inner, Mapping) else ""
    return str(getattr(tool, "name", getattr(tool, "__name__", "")))


def _tool_metadata(tool: Any) -> Mapping[str, Any]:
    meta = tool.get("metadata") if isinstance(tool, Mapping) else getattr(tool, "metadata", None)
    return meta if isinstance(meta, Mapping) else {}


def cacheable_ttls(
    tools: Sequence[Any], cacheable_tools: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Return ``{tool name: lifetime}`` of the tools declared cacheable.

    Args:
        tools: The catalog (``BaseTool``s, functions or schema dicts); a ``cache_ttl`` in a
            tool's metadata declares it.
        cacheable_tools: Explicit declarations; they override the metadata.

    Raises:
        TokenOptConfigError: a lifetime is not a positive number, or the mapping is not one.
    """
    ttls: dict[str, float] = {}
    for tool in tools:
        meta = _tool_metadata(tool)
        if CACHE_TTL_KEY in meta and meta[CACHE_TTL_KEY] is not None:
            name = _tool_name(tool)
            ttls[name] = _valid_ttl(name, meta[CACHE_TTL_KEY])
    if cacheable_tools is not None:
        if not isinstance(cacheable_tools, Mapping):
            msg = (
                "cacheable_tools must map tool names to lifetimes in seconds, "
                f"got {type(cacheable_tools).__name__}"
            )
            raise TokenOptConfigError(msg)
        for name, ttl in cacheable_tools.items():
            ttls[str(name)] = _valid_ttl(str(name), ttl)
    return ttls


def context_free_tools(ttls: Mapping[str, float]) -> frozenset[str]:
    """Tools whose results do not make a conversation private to the response cache.

    The cacheable tools (``ttls``) and the meta-tools that load schemas
    (:data:`NEUTRAL_TOOLS`): what the graph hands the cache as
    :attr:`~langchain_tokenopt.cache.keys.RequestKey.cacheable_tools`, so a standalone
    question asked after turns that called only these is looked up across conversations
    (:meth:`~langchain_tokenopt.cache.standalone.StandalonePolicy.history_is_private`).

    Example:
        .. code-block:: python

            context_free_tools({"get_weather": 600})  # {"get_weather", "find_tools"}
    """
    return frozenset(ttls) | NEUTRAL_TOOLS


def _called(messages: Sequence[BaseMessage]) -> tuple[str, ...]:
    called: dict[str, None] = {}
    for message in messages:
        if isinstance(message, AIMessage):
            for call in [*message.tool_calls, *message.invalid_tool_calls]:
                name = str(call.get("name") or "")
                if name not in _NEUTRAL:
                    called.setdefault(name, None)
    return tuple(called)


def turn_store_decision(
    messages: Sequence[BaseMessage], ttls: Mapping[str, float]
) -> StoreDecision:
    """Decide whether the answer that ends ``messages`` may be stored.

    The turn is everything after the newest human message. No tool call: store with the
    cache's default lifetime. Only cacheable tools: store with the smallest of their
    lifetimes. Any other tool: do not store.

    Cacheable tools called in *earlier* turns bound the lifetime too: their results are in
    the conversation the answer was written from, and a standalone question may be looked
    up without that conversation (:func:`context_free_tools`), so the answer expires no
    later than the data it may repeat.
    """
    start = 0
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            start = i + 1
            break
    names = _called(messages[start:])
    earlier = [ttls[n] for n in _called(messages[:start]) if n in ttls]
    if not names:
        if earlier:
            ttl = min(earlier)
            return StoreDecision(
                True, ttl, f"no tool calls; earlier cacheable tools (lifetime {ttl:g} s)"
            )
        return StoreDecision(True, None, "no tool calls")
    blocking = [n for n in names if n not in ttls]
    if blocking:
        return StoreDecision(
            False, None, f"called tools not declared cacheable: {', '.join(blocking)}", names
        )
    ttl = min([*(ttls[n] for n in names), *earlier])
    return StoreDecision(True, ttl, f"only cacheable tools (lifetime {ttl:g} s)", names)
