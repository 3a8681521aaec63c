"""The state of the optimized agent graph.

``messages`` is the full conversation (LangGraph's ``add_messages`` reducer), never rewritten
by the optimizers. Each model call gets an optimized *view* instead, kept in
``model_input``; ``turn`` carries what must stay stable inside one user turn (the cache key,
the tool selection) and the id that ties step reports to the monitoring record;
``tool_working_set`` holds the tools bound in the thread, so they stay bound across turns.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

__all__ = ["OptimizedAgentState", "TurnState"]


class TurnState(TypedDict, total=False):
    """What the graph remembers within one user turn (reset when a new human message arrives)."""

    turn_id: str
    """Id of the human message that opened the turn."""
    request_id: str
    """Id of the current model request (new for each pass through the tool loop)."""
    cache_prompt: str
    """Serialized unoptimized prompt (``RequestKey.prompt`` of the response-cache key; the
    model and tool catalog are the graph's own)."""
    cache_hit: bool
    """Whether the turn was answered from the response cache."""
    tools: list[str]
    """Names of the tools selected for this turn (stable inside the tool loop)."""
    system_prompt: str
    """The (possibly compressed) system prompt sent with this request."""
    steps: list[dict[str, Any]]
    """Step reports of the current request: step, tokens before/after, latency, error."""
    calls: int
    """Model calls made in this turn so far."""
    stable_messages: int
    """Leading messages of ``model_input`` that form the compacted, stable history
    (prefix-stable mode)."""


class OptimizedAgentState(TypedDict, total=False):
    """State of :func:`~langchain_tokenopt.graph.build_optimized_agent` graphs."""

    messages: Annotated[list[AnyMessage], add_messages]
    """The whole conversation (never trimmed by the optimizers)."""
    model_input: list[AnyMessage]
    """The optimized history sent to the model on the latest call (overwritten each call)."""
    turn: TurnState
    """Per-turn bookkeeping (see :class:`TurnState`)."""
    prefix: dict[str, Any]
    """Prefix-stable mode: the thread's fitted system prompt (``system``) and its compacted
    history view (``context``: a
    :class:`~langchain_tokenopt.context.compaction.CompactedView` state value)."""
    tool_working_set: dict[str, Any]
    """The thread's tool working set (see
    :class:`~langchain_tokenopt.tools.working_set.ToolWorkingSet`): the tools bound so far,
    kept across turns, checkpoints and restarts."""
