"""Put the optimizer steps around the LLM node of an agent you already have.

LangChain v1's ``create_agent`` lets middleware wrap every model call. :class:`TokenOptMiddleware`
runs the same :class:`~langchain_tokenopt.graph.pipeline.OptimizerPipeline` as
:func:`~langchain_tokenopt.build_optimized_agent` there: a response-cache check at the start
of each user turn (a hit short-circuits the model), tool selection, system-prompt
compression and history optimization on every call, and a cache store of the final answer.
Requires the ``langchain`` package (``pip install "langchain-tokenopt[agents]"``).

Example:
    .. code-block:: python

        from langchain.agents import create_agent
        from langchain_tokenopt.graph.middleware import TokenOptMiddleware

        agent = create_agent(model, tools, system_prompt=prompt,
                             middleware=[TokenOptMiddleware(context_budget=3000)])
        agent.invoke({"messages": [("user", "Where is my order A-1001?")]},
                     {"metadata": {"tenant_id": "acme"}})
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, NotRequired

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool
from langgraph.types import Command

from langchain_tokenopt.context.compaction import DEFAULT_COMPACT_TO
from langchain_tokenopt.errors import MissingDependencyError, TokenOptConfigError
from langchain_tokenopt.graph.defaults import (
    DEFAULT_CONTEXT_BUDGET,
    DEFAULT_TOOL_MARGIN,
    caller_ids,
    check_compact_to,
    check_tool_margin,
    model_name,
    resolve_cache,
    resolve_compressor,
    resolve_context_optimizer,
    resolve_monitor,
    resolve_tool_selector,
    tool_name,
)
from langchain_tokenopt.graph.pipeline import CacheKeyParts, OptimizerPipeline
from langchain_tokenopt.graph.prefix import (
    cache_key_for,
    mark_breakpoints,
    prefix_caching_default,
)
from langchain_tokenopt.tokens import TokenCounter
from langchain_tokenopt.tools.selector import make_find_tools_tool
from langchain_tokenopt.tools.working_set import WORKING_SET_KEY

try:
    from langchain.agents.middleware import (
        AgentMiddleware,
        AgentState,
        ExtendedModelResponse,
        ModelRequest,
        ModelResponse,
    )
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("langchain (create_agent middleware)", extra="agents") from exc

__all__ = ["TokenOptMiddleware", "TokenOptState"]


class TokenOptState(AgentState):
    """The agent state with the thread's tool working set (kept across turns and restarts)."""

    tool_working_set: NotRequired[dict[str, Any]]
    """See :class:`~langchain_tokenopt.tools.working_set.ToolWorkingSet`."""
    prefix: NotRequired[dict[str, Any]]
    """Prefix-stable mode: the thread's fitted system prompt and compacted history view."""


def _ask_provider_to_cache(
    pipeline: OptimizerPipeline,
    request: ModelRequest,
    overrides: dict[str, Any],
    stable: int,
    config: dict[str, Any],
) -> None:
    """Anthropic breakpoints or an OpenAI ``prompt_cache_key``, into ``overrides``."""
    system = overrides.get("system_message", request.system_message)
    if pipeline.provider == "anthropic":
        messages = overrides.get("messages", list(request.messages))
        tools = overrides.get("tools", list(request.tools or []))
        system, messages, tools = mark_breakpoints(system, messages, tools, stable)
        overrides.update(system_message=system, messages=messages, tools=tools)
    elif pipeline.provider == "openai":
        text = _system_of(request)
        settings = {**request.model_settings, "prompt_cache_key": cache_key_for(config, text)}
        overrides["model_settings"] = settings


@dataclass
class _Prepared:
    """One model call, ready to run (or answered from the cache)."""

    pipeline: OptimizerPipeline
    hit: AIMessage | None
    request: ModelRequest
    key: CacheKeyParts | None
    scope: dict[str, str]
    updates: dict[str, Any] | None = None
    """State to keep: the tool working set, the prefix-stable mode's system and view."""


class TokenOptMiddleware(AgentMiddleware[TokenOptState, Any, Any]):
    """Optimize every model call of a ``create_agent`` agent (see the module docstring).

    The thread's tool working set lives in the agent state (``tool_working_set``), so it
    survives checkpoints; the ``find_tools`` meta-tool is registered with the agent, and the
    tools it loads join the working set.

    Args:
        cache: ``BaseCache``, ``True`` (default :class:`~langchain_tokenopt.SemanticCache`)
            or ``False``.
        tool_selector: ``True`` builds a :class:`~langchain_tokenopt.ToolSelector` over the
            agent's tools on first use; ``False`` keeps every tool; or your own selector.
        compressor: System-prompt compressor (as in ``build_optimized_agent``) or ``False``.
        context_optimizer: ``Runnable`` over messages, ``True`` for the default, or ``False``.
        monitor: :class:`~langchain_tokenopt.TokenOptCallbackHandler`, ``True`` or ``False``.
        context_budget: History budget of the default context optimizer.
        system_budget: System-prompt budget of the default compressor.
        tool_margin: Bind only the selected tools within this retrieval-score gap of the
            best one (as in ``build_optimized_agent``); ``None`` keeps the selector's top ``k``.
        cacheable_tools: ``{tool name: lifetime in seconds}`` of read-only tools whose turns
            may be stored (as in ``build_optimized_agent``); a turn that called any other
            tool is never stored.
        prefix_stable: Keep the request prefix stable for the provider's prompt cache (as
            in ``build_optimized_agent``); ``None`` turns it on for models whose provider
            caches prefixes.
        compact_to: In the prefix-stable mode, the history grows to
            ``context_budget / compact_to`` tokens between compactions.
    """

    state_schema = TokenOptState

    def __init__(
        self,
        *,
        cache: Any = True,
        tool_selector: Any = True,
        compressor: Any = True,
        context_optimizer: Any = True,
        monitor: Any = False,
        context_budget: int = DEFAULT_CONTEXT_BUDGET,
        system_budget: int = 1000,
        tool_margin: float | None = DEFAULT_TOOL_MARGIN,
        cacheable_tools: Mapping[str, float] | None = None,
        prefix_stable: bool | None = None,
        compact_to: float = DEFAULT_COMPACT_TO,
    ) -> None:
        super().__init__()
        margin = check_tool_margin(tool_margin)
        if cacheable_tools is not None and not isinstance(cacheable_tools, Mapping):
            msg = f"cacheable_tools must map tool names to seconds, got {cacheable_tools!r}"
            raise TokenOptConfigError(msg)
        self._settings = {
            "cache": resolve_cache(cache),
            "selector": tool_selector,
            "compressor": compressor,
            "context": context_optimizer,
            "monitor": resolve_monitor(monitor),
            "context_budget": context_budget,
            "system_budget": system_budget,
            "tool_margin": margin,
            "cacheable_tools": cacheable_tools,
            "prefix_stable": prefix_stable,
            "compact_to": check_compact_to(compact_to),
        }
        self._pipelines: dict[tuple[int, str, tuple[str, ...]], OptimizerPipeline] = {}
        self._latest: OptimizerPipeline | None = None
        self._lock = threading.Lock()
        self._find_tool = make_find_tools_tool(self._find_tools, self._afind_tools)
        # The meta-tool is registered with the agent, so its tool node runs it.
        selects = tool_selector is not False and tool_selector is not None
        self.tools: list[BaseTool] = [self._find_tool] if selects else []

    # ------------------------------------------------------------------ find_tools
    def _find_selector(self) -> Any:
        with self._lock:
            pipeline = self._latest
        return None if pipeline is None else pipeline.tool_selector

    def _find_tools(self, query: str) -> str:
        selector = self._find_selector()
        if selector is None or not hasattr(selector, "find_tools_tool"):
            return "No tool catalog is available to search."
        return str(selector.find_tools_tool.invoke({"query": query}))

    async def _afind_tools(self, query: str) -> str:
        selector = self._find_selector()
        if selector is None or not hasattr(selector, "find_tools_tool"):
            return "No tool catalog is available to search."
        return str(await selector.find_tools_tool.ainvoke({"query": query}))

    # ------------------------------------------------------------------ pipeline per model
    def _pipeline(self, request: ModelRequest) -> OptimizerPipeline:
        system = _system_of(request)
        tools = [t for t in request.tools or [] if t is not self._find_tool]
        key = (id(request.model), system, tuple(sorted(tool_name(t) for t in tools)))
        with self._lock:
            found = self._pipelines.get(key)
            if found is not None:
                self._latest = found
                return found
        s = self._settings
        counter = TokenCounter(model_name(request.model))
        pipeline = OptimizerPipeline(
            model=request.model,
            tools=tools,
            system_prompt=system or None,
            cache=s["cache"],
            tool_selector=resolve_tool_selector(s["selector"], tools, counter),
            prompt_compressor=resolve_compressor(
                s["compressor"], system or None, s["system_budget"], counter
            ),
            context_optimizer=resolve_context_optimizer(s["context"], s["context_budget"], counter),
            monitor=s["monitor"],
            counter=counter,
            tool_margin=s["tool_margin"],
            cacheable_tools=s["cacheable_tools"],
            prefix_stable=(
                prefix_caching_default(request.model)
                if s["prefix_stable"] is None
                else bool(s["prefix_stable"])
            ),
            compact_to=s["compact_to"],
        )
        with self._lock:
            self._latest = self._pipelines.setdefault(key, pipeline)
            return self._latest

    def _prepare(self, request: ModelRequest) -> _Prepared:
        pipeline = self._pipeline(request)
        config = _current_config()
        scope = caller_ids(config)
        recorder = pipeline.recorder(uuid.uuid4().hex, config)
        messages: list[BaseMessage] = list(request.messages)
        turn = _turn_messages(messages)
        key: CacheKeyParts | None = None
        if turn is not None and turn is messages:  # first model call of a user turn
            key = pipeline.cache_key(turn)
            answer, _layer = pipeline.lookup(turn, recorder, scope)
            if answer is not None:
                hit = answer.model_copy(update={"id": None})
                return _Prepared(pipeline, hit, request, None, scope)
        elif turn is not None:
            key = pipeline.cache_key(turn)
        registered = {tool_name(t): t for t in request.tools or []}
        state: dict[str, Any] = dict(request.state) if isinstance(request.state, dict) else {}
        overrides: dict[str, Any] = {}
        updates: dict[str, Any] = {}
        if pipeline.tool_selector is not None:
            choice = pipeline.select_tools(messages, recorder, state.get(WORKING_SET_KEY))
            overrides["tools"] = [registered[n] for n in choice.names if n in registered]
            if choice.working_set is not None:
                updates[WORKING_SET_KEY] = choice.working_set
        human = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
        question = human.text if human is not None else ""
        prefix: dict[str, Any] = dict(state.get("prefix") or {})
        if pipeline.prompt_compressor is not None:
            text = pipeline.system_text(question, recorder, prefix.get("system"))
            overrides["system_message"] = SystemMessage(text)
            prefix["system"] = text
        stable = 0
        if pipeline.context_optimizer is not None:
            view, kept, stable = pipeline.stable_history(messages, recorder, prefix.get("context"))
            overrides["messages"] = view
            prefix["context"] = kept
        if pipeline.prefix_stable:
            updates["prefix"] = prefix
            _ask_provider_to_cache(pipeline, request, overrides, stable, _current_config())
        optimized = request.override(**overrides)
        return _Prepared(pipeline, None, optimized, key, scope, updates)

    @staticmethod
    def _finish(prepared: _Prepared, original: ModelRequest, response: Any) -> Any:
        """Store a final answer (when its tools allow it) and keep the working set."""
        inner = response.model_response if isinstance(response, ExtendedModelResponse) else response
        result = getattr(inner, "result", None)
        message = result[-1] if result else inner
        if prepared.key is not None and isinstance(message, AIMessage) and not message.tool_calls:
            messages = list(original.messages)
            prepared.pipeline.store(prepared.key, message, prepared.scope, messages)
        if not prepared.updates or isinstance(response, ExtendedModelResponse):
            return response  # an inner middleware's own command is left as it is
        if isinstance(response, AIMessage):
            response = ModelResponse(result=[response])
        command: Command[Any] = Command(update=dict(prepared.updates))
        return ExtendedModelResponse(model_response=response, command=command)

    # ------------------------------------------------------------------ middleware hooks
    def wrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], ModelResponse],
    ) -> ModelResponse | AIMessage | ExtendedModelResponse:
        """Cache check, optimize the request, call the model, store the answer."""
        prepared = self._prepare(request)
        if prepared.hit is not None:
            return prepared.hit
        return self._finish(prepared, request, handler(prepared.request))

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> ModelResponse | AIMessage | ExtendedModelResponse:
        """Async form: the CPU-bound steps run in a worker thread."""
        prepared = await asyncio.to_thread(self._prepare, request)
        if prepared.hit is not None:
            return prepared.hit
        response = await handler(prepared.request)
        return await asyncio.to_thread(self._finish, prepared, request, response)


def _current_config() -> dict[str, Any]:
    try:
        from langgraph.config import get_config

        return dict(get_config())
    except RuntimeError:  # outside a runnable context
        return {}


def _system_of(request: Any) -> str:
    message = getattr(request, "system_message", None)
    if message is None:
        return ""
    return message.content if isinstance(message.content, str) else message.text


def _turn_messages(messages: list[BaseMessage]) -> list[BaseMessage] | None:
    """Return the messages up to the newest human one: the cache key of the turn.

    The list itself is returned when the newest message is human (the turn's first call).
    """
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return messages if i == len(messages) - 1 else messages[: i + 1]
    return None
