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

import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NotRequired, Unpack

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool
from langgraph.types import Command

from langchain_tokenopt.cache.keys import RequestKey
from langchain_tokenopt.errors import MissingDependencyError, TokenOptConfigError
from langchain_tokenopt.graph.defaults import (
    caller_ids,
    model_name,
    resolve_cache,
    resolve_monitor,
    tool_name,
)
from langchain_tokenopt.graph.options import OptimizerOptions, OptimizerSettings
from langchain_tokenopt.graph.pipeline import OptimizerPipeline, ToolChoice
from langchain_tokenopt.graph.prefix import (
    cache_key_for,
    head_changed,
    head_key,
    mark_breakpoints,
)
from langchain_tokenopt.graph.prompt_step import prompt_question
from langchain_tokenopt.monitoring.reporting import StepRecorder
from langchain_tokenopt.tokens import TokenCounter
from langchain_tokenopt.tools.selector import ToolSelector, make_find_tools_tool
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


def _head(call: _Call, choice: ToolChoice | None, text: str | None) -> str:
    """The digest of what this call sends before its history (bound tools, system prompt)."""
    names = choice.names if choice is not None else [tool_name(t) for t in call.request.tools or []]
    return head_key(names, text if text is not None else _system_of(call.request))


@dataclass
class _Prepared:
    """One model call, ready to run (or answered from the cache)."""

    pipeline: OptimizerPipeline
    hit: AIMessage | None
    request: ModelRequest
    key: RequestKey | None
    updates: dict[str, Any] | None = None
    """State to keep: the tool working set, the prefix-stable mode's system and view."""


@dataclass
class _Call:
    """A model call being optimized: what every step reads."""

    pipeline: OptimizerPipeline
    request: ModelRequest
    recorder: StepRecorder
    scope: dict[str, str]
    messages: list[BaseMessage]
    turn: list[BaseMessage] | None
    state: dict[str, Any]
    question: str

    @property
    def first(self) -> bool:
        """Whether this is the first model call of a user turn (the cache is checked)."""
        return self.turn is not None and self.turn is self.messages

    @property
    def key(self) -> RequestKey | None:
        return None if self.turn is None else self.pipeline.cache_key(self.turn, self.scope)


class TokenOptMiddleware(AgentMiddleware[TokenOptState, Any, Any]):
    """Optimize every model call of a ``create_agent`` agent (see the module docstring).

    The thread's tool working set lives in the agent state (``tool_working_set``), so it
    survives checkpoints; the ``find_tools`` meta-tool is registered with the agent, and the
    tools it loads join the working set. ``ainvoke`` / ``astream`` run the async forms of
    every step (the cache's ``alookup_request``, the selector's ``aselect``, ...).

    Args:
        options: The optimizer steps and budgets
            (:class:`~langchain_tokenopt.graph.options.OptimizerOptions`, the same defaults
            as :func:`~langchain_tokenopt.build_optimized_agent`; monitoring is on unless
            ``monitor=False``).
        **settings: Any field of ``OptimizerOptions`` (overrides ``options``): ``cache``,
            ``tool_selector``, ``compressor``, ``context_optimizer``, ``monitor`` (each:
            your component, ``False`` for off, ``None`` for the default),
            ``context_budget``, ``system_budget``, ``tool_margin``, ``cacheable_tools``,
            ``prefix_stable``, ``compact_to``.

    Raises:
        TokenOptConfigError: a setting is invalid.

    Example:
        .. code-block:: python

            middleware = TokenOptMiddleware(cache=False, context_budget=3000)
            agent = create_agent(model, tools, middleware=[middleware])
    """

    state_schema = TokenOptState

    def __init__(
        self, *, options: OptimizerOptions | None = None, **settings: Unpack[OptimizerSettings]
    ) -> None:
        super().__init__()
        if options is not None and not isinstance(options, OptimizerOptions):
            msg = f"options must be an OptimizerOptions, got {type(options).__name__}"
            raise TokenOptConfigError(msg)
        self.options = (options or OptimizerOptions()).with_settings(**settings)
        self._cache = resolve_cache(self.options.cache)
        self._monitor = resolve_monitor(self.options.monitor)
        self._pipelines: dict[tuple[int, str, tuple[str, ...]], OptimizerPipeline] = {}
        self._latest: OptimizerPipeline | None = None
        self._lock = threading.Lock()
        self._find_tool = make_find_tools_tool(self._find_tools, self._afind_tools)
        # The meta-tool is registered with the agent, so its tool node runs it.
        selects = self.options.tool_selector is not False
        self.tools: list[BaseTool] = [self._find_tool] if selects else []

    # ------------------------------------------------------------------ find_tools
    def _find_selector(self) -> ToolSelector | None:
        with self._lock:
            pipeline = self._latest
        selector = None if pipeline is None else pipeline.tool_selector
        return selector if isinstance(selector, ToolSelector) else None

    def _find_tools(self, query: str) -> str:
        selector = self._find_selector()
        if selector is None:
            return "No tool catalog is available to search."
        return str(selector.find_tools_tool.invoke({"query": query}))

    async def _afind_tools(self, query: str) -> str:
        selector = self._find_selector()
        if selector is None:
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
        pipeline = OptimizerPipeline.from_options(
            self.options,
            model=request.model,
            tools=tools,
            system_prompt=system or None,
            counter=TokenCounter(model_name(request.model)),
            cache=self._cache,
            monitor=self._monitor,
        )
        with self._lock:
            self._latest = self._pipelines.setdefault(key, pipeline)
            return self._latest

    def _begin(self, request: ModelRequest) -> _Call:
        pipeline = self._pipeline(request)
        config = _current_config()
        messages: list[BaseMessage] = list(request.messages)
        return _Call(
            pipeline=pipeline,
            request=request,
            recorder=pipeline.recorder(uuid.uuid4().hex, config),
            scope=caller_ids(config),
            messages=messages,
            turn=_turn_messages(messages),
            state=dict(request.state) if isinstance(request.state, dict) else {},
            question=prompt_question(messages),
        )

    def _hit(self, call: _Call, answer: AIMessage) -> _Prepared:
        return _Prepared(call.pipeline, answer.model_copy(update={"id": None}), call.request, None)

    @staticmethod
    def _assemble(
        call: _Call,
        choice: ToolChoice | None,
        text: str | None,
        history: tuple[list[BaseMessage], Any, int] | None,
        head: str,
    ) -> _Prepared:
        """The optimized request and the state to keep, from the steps' results."""
        pipeline, request = call.pipeline, call.request
        registered = {tool_name(t): t for t in request.tools or []}
        overrides: dict[str, Any] = {}
        updates: dict[str, Any] = {}
        if choice is not None:
            overrides["tools"] = [registered[n] for n in choice.names if n in registered]
            if choice.working_set is not None:
                updates[WORKING_SET_KEY] = choice.working_set
        prefix: dict[str, Any] = dict(call.state.get("prefix") or {})
        if text is not None:
            overrides["system_message"] = SystemMessage(text)
            prefix["system"] = text
        stable = 0
        if history is not None:
            view, kept, stable = history
            overrides["messages"] = view
            prefix["context"] = kept
        prefix["head"] = head
        if pipeline.prefix_stable:
            updates["prefix"] = prefix
            _ask_provider_to_cache(pipeline, request, overrides, stable, _current_config())
        return _Prepared(pipeline, None, request.override(**overrides), call.key, updates)

    def _prepare(self, request: ModelRequest) -> _Prepared:
        call = self._begin(request)
        pipeline, recorder = call.pipeline, call.recorder
        if call.first and call.turn is not None:
            answer, _layer = pipeline.lookup(call.turn, recorder, call.scope)
            if answer is not None:
                return self._hit(call, answer)
        prefix: dict[str, Any] = dict(call.state.get("prefix") or {})
        choice = text = history = None
        if pipeline.tool_selector is not None:
            choice = pipeline.select_tools(call.messages, recorder, call.state.get(WORKING_SET_KEY))
        if pipeline.prompt_compressor is not None:
            text = pipeline.system_text(call.question, recorder, prefix.get("system"))
        head = _head(call, choice, text)
        if pipeline.context_optimizer is not None:
            history = pipeline.stable_history(
                call.messages,
                recorder,
                prefix.get("context"),
                prefix_broken=head_changed(prefix, head),
            )
        return self._assemble(call, choice, text, history, head)

    async def _aprepare(self, request: ModelRequest) -> _Prepared:
        call = self._begin(request)
        pipeline, recorder = call.pipeline, call.recorder
        if call.first and call.turn is not None:
            answer, _layer = await pipeline.alookup(call.turn, recorder, call.scope)
            if answer is not None:
                return self._hit(call, answer)
        prefix: dict[str, Any] = dict(call.state.get("prefix") or {})
        choice = text = history = None
        if pipeline.tool_selector is not None:
            choice = await pipeline.aselect_tools(
                call.messages, recorder, call.state.get(WORKING_SET_KEY)
            )
        if pipeline.prompt_compressor is not None:
            text = await pipeline.asystem_text(call.question, recorder, prefix.get("system"))
        head = _head(call, choice, text)
        if pipeline.context_optimizer is not None:
            history = await pipeline.astable_history(
                call.messages,
                recorder,
                prefix.get("context"),
                prefix_broken=head_changed(prefix, head),
            )
        return self._assemble(call, choice, text, history, head)

    @staticmethod
    def _final_answer(prepared: _Prepared, response: Any) -> AIMessage | None:
        """The final answer to store, or None (a tool call, a hit, no key)."""
        inner = response.model_response if isinstance(response, ExtendedModelResponse) else response
        result = getattr(inner, "result", None)
        message = result[-1] if result else inner
        if prepared.key is not None and isinstance(message, AIMessage) and not message.tool_calls:
            return message
        return None

    @staticmethod
    def _with_updates(
        prepared: _Prepared, response: ModelResponse | AIMessage | ExtendedModelResponse
    ) -> ModelResponse | AIMessage | ExtendedModelResponse:
        """Keep the working set / prefix in the state with the model's response."""
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
        response = handler(prepared.request)
        answer = self._final_answer(prepared, response)
        if answer is not None and prepared.key is not None:
            prepared.pipeline.store(prepared.key, answer, list(request.messages))
        return self._with_updates(prepared, response)

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> ModelResponse | AIMessage | ExtendedModelResponse:
        """Async form: every step awaits its component's async method, then the model."""
        prepared = await self._aprepare(request)
        if prepared.hit is not None:
            return prepared.hit
        response = await handler(prepared.request)
        answer = self._final_answer(prepared, response)
        if answer is not None and prepared.key is not None:
            await prepared.pipeline.astore(prepared.key, answer, list(request.messages))
        return self._with_updates(prepared, response)


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
