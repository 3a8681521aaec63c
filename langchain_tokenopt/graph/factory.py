"""``build_optimized_agent``: a LangGraph agent whose LLM node is wrapped by every optimizer.

Follow one user turn through the graph::

    START → cache_check ──hit──────────────────────────────────────────────→ END
                 │ miss
                 ▼
            select_tools → compress_prompt → optimize_context → call_model
                 ▲                                                  │
                 └──────────────── tools ◄──── tool calls ──────────┤
                                                                    ▼ final answer
                                                               cache_store → END

* ``cache_check`` looks the *unoptimized* request up in the response cache (tenant/user from
  ``config["metadata"]``); a hit is replayed as a token stream and ends the turn.
* ``select_tools`` binds the thread's tool working set (``tool_working_set`` in the state):
  the tools the task needs join it, and it stays bound through the loop and later turns.
* ``compress_prompt`` fits the system prompt to the question (modules or compression).
* ``optimize_context`` fits the conversation into the budget (kept in ``model_input``; the
  full history stays in ``messages``).
* ``call_model`` calls the model; ``cache_store`` stores the final answer, unless the turn
  called a tool that is not declared cacheable (``cacheable_tools``).

Each node is a ``RunnableCallable(sync, async)``: ``graph.invoke`` runs the sync forms,
``graph.ainvoke`` / ``astream`` the async ones, which await the cache's ``alookup_request`` /
``aupdate_request``, the selector's ``aselect``, the context optimizer's ``aoptimize`` and the
model's ``ainvoke``. Each reports tokens before/after and latency to the monitor and fails
open (see :mod:`langchain_tokenopt.graph.pipeline`).

Example:
    .. code-block:: python

        from langchain_tokenopt import build_optimized_agent
        from langchain_tokenopt.llms import LocalChatModel

        graph = build_optimized_agent(LocalChatModel(), tools=[]).compile()
        graph.invoke({"messages": [("user", "What is the capital of France?")]})
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, Unpack

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import merge_configs
from langchain_core.tools import BaseTool

# LangGraph's own node wrapper (what ``create_react_agent`` and langgraph-bigtool use): a
# node with a real sync and a real async form, each given the run's config.
from langgraph._internal._runnable import RunnableCallable
from langgraph.graph import END, START, StateGraph

from langchain_tokenopt.cache.keys import RequestKey
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.graph.defaults import (
    CALLER_KEYS,
    DEFAULT_TOOL_MARGIN,
    caller_ids,
    model_name,
    resolve_cache,
    resolve_monitor,
    tool_name,
)
from langchain_tokenopt.graph.options import OptimizerOptions, OptimizerSettings
from langchain_tokenopt.graph.pipeline import (
    OptimizerPipeline,
    ToolChoice,
    latest_human,
)
from langchain_tokenopt.graph.prefix import (
    cache_key_for,
    head_changed,
    head_key,
    mark_breakpoints,
)
from langchain_tokenopt.graph.prompt_step import prompt_question
from langchain_tokenopt.graph.replay import CachedAnswerModel
from langchain_tokenopt.graph.state import OptimizedAgentState, TurnState
from langchain_tokenopt.monitoring.reporting import StepRecorder
from langchain_tokenopt.protocols import CacheLayer, StepEvent
from langchain_tokenopt.tokens import TokenCounter
from langchain_tokenopt.tools.selector import ToolSelector
from langchain_tokenopt.tools.working_set import WORKING_SET_KEY

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_TOOL_MARGIN", "build_optimized_agent"]

Update = dict[str, Any]
"""A node's state update."""


def build_optimized_agent(
    model: BaseChatModel,
    tools: Sequence[BaseTool | Callable[..., Any] | dict[str, Any]] = (),
    *,
    system_prompt: Any = None,
    options: OptimizerOptions | None = None,
    token_model: str | None = None,
    cache_scope_by: Sequence[Literal["tenant_id", "user_id"]] = ("tenant_id", "user_id"),
    **settings: Unpack[OptimizerSettings],
) -> StateGraph[OptimizedAgentState]:
    """Build an agent graph with cache, tool selection, compression and context steps.

    Every optimizer has a working default; pass ``False`` to switch a step off, or your own
    configured component to replace it. The steps and budgets are those of
    :class:`~langchain_tokenopt.graph.options.OptimizerOptions`, shared with
    :class:`~langchain_tokenopt.graph.middleware.TokenOptMiddleware` (same defaults): give
    them as ``options=`` or as keywords (keywords override ``options``).

    Args:
        model: The chat model (``BaseChatModel``) the agent calls.
        tools: The whole tool catalog: ``BaseTool``s or functions (executed by the graph)
            and schema-only dicts (bound, but a call to one ends the turn so the caller can
            run it).
        system_prompt: A string, a :class:`~langchain_tokenopt.ModularPrompt` or None.
        options: The optimizer steps and budgets (default: ``OptimizerOptions()``).
        token_model: Model name that picks the tokenizer for the figures (defaults to the
            chat model's name).
        cache_scope_by: Which ``config["metadata"]`` ids confine cache entries. The default
            keeps answers per tenant *and* user; ``("tenant_id",)`` shares answers between
            the users of a tenant (right for FAQ-like traffic, wrong where answers hold one
            user's data).
        **settings: Any field of :class:`~langchain_tokenopt.graph.options.OptimizerOptions`:
            ``cache``, ``tool_selector``, ``compressor``, ``context_optimizer``, ``monitor``
            (each: your component, ``False`` for off, ``None`` for the default),
            ``context_budget``, ``system_budget``, ``tool_margin``, ``cacheable_tools``,
            ``prefix_stable``, ``compact_to``.

    Returns:
        The uncompiled ``StateGraph`` over :class:`OptimizedAgentState`: call
        ``.compile(checkpointer=..., store=...)`` yourself.

    Raises:
        TokenOptConfigError: an argument has the wrong type or a budget is not positive.

    Example:
        .. code-block:: python

            graph = build_optimized_agent(model, tools, cache=False, context_budget=2000)
            await graph.compile().ainvoke({"messages": [("user", "Where is my order?")]})
    """
    if not isinstance(model, BaseChatModel):
        msg = f"model must be a LangChain BaseChatModel, got {type(model).__name__}"
        raise TokenOptConfigError(msg)
    if options is not None and not isinstance(options, OptimizerOptions):
        msg = f"options must be an OptimizerOptions, got {type(options).__name__}"
        raise TokenOptConfigError(msg)
    opts = (options or OptimizerOptions()).with_settings(**settings)
    scope_keys = tuple(cache_scope_by)
    if not scope_keys or any(k not in CALLER_KEYS for k in scope_keys):
        msg = f"cache_scope_by must be a non-empty subset of {CALLER_KEYS}, got {cache_scope_by!r}"
        raise TokenOptConfigError(msg)
    if tools is None or isinstance(tools, str | bytes | dict) or not hasattr(tools, "__iter__"):
        msg = f"tools must be a sequence of tools, got {type(tools).__name__}"
        raise TokenOptConfigError(msg)
    catalog = list(tools)
    for tool in catalog:
        if not (isinstance(tool, BaseTool | dict) or callable(tool)):
            msg = f"tools must be BaseTool, callables or dict schemas, got {type(tool).__name__}"
            raise TokenOptConfigError(msg)
    counter = TokenCounter(token_model or model_name(model))
    pipeline = OptimizerPipeline.from_options(
        opts,
        model=model,
        tools=catalog,
        system_prompt=system_prompt,
        counter=counter,
        cache=resolve_cache(opts.cache),
        monitor=resolve_monitor(opts.monitor),
    )
    return _AgentGraph(pipeline, model, catalog, model_name(model), scope_keys).build()


class _AgentGraph:
    """The nodes of one agent: a sync and an async form each, sharing their logic."""

    def __init__(
        self,
        pipeline: OptimizerPipeline,
        model: BaseChatModel,
        tools: list[Any],
        name: str,
        scope_keys: tuple[str, ...],
    ) -> None:
        self.pipeline = pipeline
        self.scope_keys = scope_keys
        self.model = model
        self.model_name = name
        self.executable = [t for t in tools if not isinstance(t, dict)]
        self.by_name: dict[str, Any] = {tool_name(t): t for t in tools}
        selector = pipeline.tool_selector
        # The selector's ``find_tools`` meta-tool must be executable by the tools node.
        self.meta_tools: list[BaseTool] = (
            [selector.find_tools_tool]
            if isinstance(selector, ToolSelector) and selector.find_tools_enabled
            else []
        )
        for tool in self.meta_tools:
            self.by_name[tool_name(tool)] = tool

    # ------------------------------------------------------------------ helpers
    def _cache_scope(self, config: RunnableConfig) -> dict[str, str]:
        return {k: v for k, v in caller_ids(config).items() if k in self.scope_keys}

    def _recorder(self, turn: TurnState, config: RunnableConfig) -> StepRecorder:
        return self.pipeline.recorder(turn.get("request_id") or uuid.uuid4().hex, config)

    # ------------------------------------------------------------------ cache_check
    def _new_turn(self, state: OptimizedAgentState, config: RunnableConfig) -> _Lookup:
        messages: list[BaseMessage] = list(state.get("messages") or [])
        human = latest_human(messages)
        request_id = uuid.uuid4().hex
        turn: TurnState = {
            "turn_id": (human.id or "") if human is not None else "",
            "request_id": request_id,
            "cache_hit": False,
            "steps": [],
        }
        if human is None or self.pipeline.cache is None:
            return _Lookup(messages, turn, None)
        recorder = self.pipeline.recorder(request_id, config)
        turn["cache_prompt"] = self.pipeline.cache_key(messages).prompt
        return _Lookup(messages, turn, recorder)

    def _hit_update(
        self,
        replayed: BaseMessage,
        layer: CacheLayer | None,
        found: _Lookup,
        config: RunnableConfig,
    ) -> Update:
        turn = found.turn
        turn["cache_hit"] = True
        recorder = self.pipeline.recorder(turn["request_id"], config)
        output_tokens = self.pipeline.counter.count(_text(replayed))
        ids = caller_ids(config)
        recorder.cache_hit(
            layer=layer,
            prompt_tokens=found.prompt_tokens,
            output_tokens=output_tokens,
            model=self.model_name,
            tenant_id=ids.get("tenant_id"),
            user_id=ids.get("user_id"),
        )
        return {"messages": [replayed], "turn": turn}

    def cache_check(self, state: OptimizedAgentState, config: RunnableConfig) -> Update:
        found = self._new_turn(state, config)
        if found.recorder is None:
            return {"turn": found.turn}
        answer, layer = self.pipeline.lookup(
            found.messages, found.recorder, self._cache_scope(config)
        )
        found.record()
        if answer is None:
            return {"turn": found.turn}
        replayed = CachedAnswerModel(answer=_fresh(answer)).invoke(found.messages, config)
        return self._hit_update(replayed, layer, found, config)

    async def acache_check(self, state: OptimizedAgentState, config: RunnableConfig) -> Update:
        found = self._new_turn(state, config)
        if found.recorder is None:
            return {"turn": found.turn}
        answer, layer = await self.pipeline.alookup(
            found.messages, found.recorder, self._cache_scope(config)
        )
        found.record()
        if answer is None:
            return {"turn": found.turn}
        replayed = await CachedAnswerModel(answer=_fresh(answer)).ainvoke(found.messages, config)
        return self._hit_update(replayed, layer, found, config)

    @staticmethod
    def after_cache(state: OptimizedAgentState) -> Literal["select_tools", "__end__"]:
        return "__end__" if _turn(state).get("cache_hit") else "select_tools"

    # ------------------------------------------------------------------ select_tools
    def _selection_turn(self, state: OptimizedAgentState) -> TurnState:
        turn = _turn(state)
        if turn.get("steps") is None or turn.get("calls"):
            # A new pass through the tool loop is a new model request, with its own steps.
            turn["request_id"] = uuid.uuid4().hex
            turn["steps"] = []
        return turn

    def _selected(self, turn: TurnState, recorder: StepRecorder, choice: ToolChoice) -> Update:
        for tool in choice.tools:
            self.by_name.setdefault(tool_name(tool), tool)
        turn["tools"] = choice.names
        _add_steps(turn, recorder)
        update: Update = {"turn": turn}
        if choice.working_set is not None:
            update[WORKING_SET_KEY] = choice.working_set
        return update

    def select_tools(self, state: OptimizedAgentState, config: RunnableConfig) -> Update:
        turn = self._selection_turn(state)
        recorder = self._recorder(turn, config)
        choice = self.pipeline.select_tools(
            list(state.get("messages") or []), recorder, state.get("tool_working_set")
        )
        return self._selected(turn, recorder, choice)

    async def aselect_tools(self, state: OptimizedAgentState, config: RunnableConfig) -> Update:
        turn = self._selection_turn(state)
        recorder = self._recorder(turn, config)
        choice = await self.pipeline.aselect_tools(
            list(state.get("messages") or []), recorder, state.get("tool_working_set")
        )
        return self._selected(turn, recorder, choice)

    # ------------------------------------------------------------------ compress_prompt
    @staticmethod
    def _question(state: OptimizedAgentState) -> str:
        return prompt_question(list(state.get("messages") or []))

    def _compressed(self, state: OptimizedAgentState, recorder: StepRecorder, text: str) -> Update:
        turn = _turn(state)
        turn["system_prompt"] = text
        _add_steps(turn, recorder)
        if not self.pipeline.prefix_stable:
            return {"turn": turn}
        return {"turn": turn, "prefix": {**(state.get("prefix") or {}), "system": text}}

    def compress_prompt(self, state: OptimizedAgentState, config: RunnableConfig) -> Update:
        recorder = self._recorder(_turn(state), config)
        kept = (state.get("prefix") or {}).get("system")
        text = self.pipeline.system_text(self._question(state), recorder, kept)
        return self._compressed(state, recorder, text)

    async def acompress_prompt(self, state: OptimizedAgentState, config: RunnableConfig) -> Update:
        recorder = self._recorder(_turn(state), config)
        kept = (state.get("prefix") or {}).get("system")
        text = await self.pipeline.asystem_text(self._question(state), recorder, kept)
        return self._compressed(state, recorder, text)

    # ------------------------------------------------------------------ optimize_context
    def _optimized(
        self,
        state: OptimizedAgentState,
        recorder: StepRecorder,
        view: list[BaseMessage],
        kept: Any = None,
        stable: int = 0,
    ) -> Update:
        turn = _turn(state)
        if not self.pipeline.prefix_stable:
            _add_steps(turn, recorder)
            return {"model_input": view, "turn": turn}
        turn["stable_messages"] = stable
        _add_steps(turn, recorder)
        prefix = {**(state.get("prefix") or {}), "context": kept, "head": _head(turn)}
        return {"model_input": view, "prefix": prefix, "turn": turn}

    def optimize_context(self, state: OptimizedAgentState, config: RunnableConfig) -> Update:
        messages = list(state.get("messages") or [])
        recorder = self._recorder(_turn(state), config)
        if not self.pipeline.prefix_stable:
            return self._optimized(state, recorder, self.pipeline.history(messages, recorder))
        kept, broken = _kept_view(state)
        view, new, stable = self.pipeline.stable_history(
            messages, recorder, kept, prefix_broken=broken
        )
        return self._optimized(state, recorder, view, new, stable)

    async def aoptimize_context(self, state: OptimizedAgentState, config: RunnableConfig) -> Update:
        messages = list(state.get("messages") or [])
        recorder = self._recorder(_turn(state), config)
        if not self.pipeline.prefix_stable:
            view = await self.pipeline.ahistory(messages, recorder)
            return self._optimized(state, recorder, view)
        kept, broken = _kept_view(state)
        view, new, stable = await self.pipeline.astable_history(
            messages, recorder, kept, prefix_broken=broken
        )
        return self._optimized(state, recorder, view, new, stable)

    # ------------------------------------------------------------------ call_model
    def _model_call(
        self, state: OptimizedAgentState, config: RunnableConfig
    ) -> tuple[Runnable[LanguageModelInput, Any], list[BaseMessage], RunnableConfig]:
        turn = _turn(state)
        tools = [self.by_name[n] for n in turn.get("tools", []) if n in self.by_name]
        system = turn.get("system_prompt") or ""
        view: list[BaseMessage] = list(state.get("model_input") or state.get("messages") or [])
        system_message = SystemMessage(system) if system else None
        provider = self.pipeline.provider if self.pipeline.prefix_stable else None
        if provider == "anthropic":
            stable = int(turn.get("stable_messages") or 0)
            system_message, view, tools = mark_breakpoints(system_message, view, tools, stable)
        bound: Runnable[LanguageModelInput, Any] = (
            self.model.bind_tools(tools) if tools else self.model
        )
        if provider == "openai":
            bound = bound.bind(prompt_cache_key=cache_key_for(config, system))
        messages: list[BaseMessage] = [system_message] if system_message is not None else []
        messages += view
        request_id = turn.get("request_id") or uuid.uuid4().hex
        call_config = merge_configs(config, self.pipeline.model_config(config, request_id))
        return bound, messages, call_config

    def call_model(self, state: OptimizedAgentState, config: RunnableConfig) -> Update:
        bound, messages, call_config = self._model_call(state, config)
        return {"messages": [bound.invoke(messages, call_config)], "turn": _count_call(state)}

    async def acall_model(self, state: OptimizedAgentState, config: RunnableConfig) -> Update:
        bound, messages, call_config = self._model_call(state, config)
        response = await bound.ainvoke(messages, call_config)
        return {"messages": [response], "turn": _count_call(state)}

    def after_model(self, state: OptimizedAgentState) -> Literal["tools", "cache_store", "__end__"]:
        last = _last(state)
        if isinstance(last, AIMessage) and last.tool_calls:
            runnable = {tool_name(t) for t in [*self.executable, *self.meta_tools]}
            if all(call["name"] in runnable for call in last.tool_calls):
                return "tools"
            return "__end__"  # a schema-only tool: the caller runs it
        return "cache_store"

    # ------------------------------------------------------------------ cache_store
    def _to_store(
        self, state: OptimizedAgentState, config: RunnableConfig
    ) -> tuple[RequestKey, AIMessage, list[BaseMessage]] | None:
        turn = _turn(state)
        last, prompt = _last(state), turn.get("cache_prompt")
        if not isinstance(last, AIMessage) or not prompt or turn.get("cache_hit"):
            return None
        messages: list[BaseMessage] = list(state.get("messages") or [])
        key = self.pipeline.cache_key_of(prompt, self._cache_scope(config))
        return key, last, messages

    def cache_store(self, state: OptimizedAgentState, config: RunnableConfig) -> Update:
        found = self._to_store(state, config)
        if found is not None:
            self.pipeline.store(*found)
        return {}

    async def acache_store(self, state: OptimizedAgentState, config: RunnableConfig) -> Update:
        found = self._to_store(state, config)
        if found is not None:
            await self.pipeline.astore(*found)
        return {}

    # ------------------------------------------------------------------ wiring
    def build(self) -> StateGraph[OptimizedAgentState]:
        graph = StateGraph(OptimizedAgentState)

        def node(
            name: str,
            sync: Callable[[OptimizedAgentState, RunnableConfig], Update],
            async_: Callable[[OptimizedAgentState, RunnableConfig], Awaitable[Update]],
        ) -> None:
            graph.add_node(name, RunnableCallable(sync, async_, name=name))

        node("cache_check", self.cache_check, self.acache_check)
        node("select_tools", self.select_tools, self.aselect_tools)
        node("compress_prompt", self.compress_prompt, self.acompress_prompt)
        node("optimize_context", self.optimize_context, self.aoptimize_context)
        node("call_model", self.call_model, self.acall_model)
        node("cache_store", self.cache_store, self.acache_store)
        graph.add_edge(START, "cache_check")
        graph.add_conditional_edges("cache_check", self.after_cache, ["select_tools", END])
        graph.add_edge("select_tools", "compress_prompt")
        graph.add_edge("compress_prompt", "optimize_context")
        graph.add_edge("optimize_context", "call_model")
        graph.add_conditional_edges("call_model", self.after_model, ["tools", "cache_store", END])
        graph.add_edge("cache_store", END)
        if self.executable or self.meta_tools:
            from langgraph.prebuilt import ToolNode

            graph.add_node("tools", ToolNode([*self.executable, *self.meta_tools]))
            graph.add_edge("tools", "select_tools")
        else:
            node("tools", _no_tools, _ano_tools)
            graph.add_edge("tools", END)
        return graph


class _Lookup:
    """A turn's cache check in progress: its messages, its turn state and its recorder."""

    def __init__(
        self, messages: list[BaseMessage], turn: TurnState, recorder: StepRecorder | None
    ) -> None:
        self.messages, self.turn, self.recorder = messages, turn, recorder
        self.prompt_tokens = 0

    def record(self) -> None:
        """Keep the lookup's step report in the turn (and its prompt tokens)."""
        events = self.recorder.events if self.recorder is not None else []
        self.turn["steps"] = [_event_dict(e) for e in events]
        self.prompt_tokens = events[-1].tokens_before if events else 0


# ---------------------------------------------------------------------- small helpers
def _no_tools(state: OptimizedAgentState, config: RunnableConfig) -> Update:
    return {}


async def _ano_tools(state: OptimizedAgentState, config: RunnableConfig) -> Update:
    return {}


def _turn(state: OptimizedAgentState) -> TurnState:
    """A copy of the state's turn (a node returns a new one, never edits the state's)."""
    turn = state.get("turn")
    return TurnState() if turn is None else turn.copy()


def _head(turn: TurnState) -> str:
    """The digest of what this call sends before its history (bound tools, system prompt)."""
    return head_key(turn.get("tools") or [], turn.get("system_prompt"))


def _kept_view(state: OptimizedAgentState) -> tuple[Any, bool]:
    """The history view kept by the previous call, and whether this call's head changed."""
    prefix = state.get("prefix") or {}
    return prefix.get("context"), head_changed(prefix, _head(_turn(state)))


def _text(message: BaseMessage) -> str:
    return message.content if isinstance(message.content, str) else message.text


def _fresh(answer: AIMessage) -> AIMessage:
    """A copy of a cached answer with a new id (ids are unique within a conversation)."""
    return answer.model_copy(update={"id": f"tokenopt-cache-{uuid.uuid4().hex}"})


def _event_dict(event: StepEvent) -> dict[str, Any]:
    return {
        "step": event.step,
        "tokens_before": event.tokens_before,
        "tokens_after": event.tokens_after,
        "latency_ms": event.latency_ms,
        "error": event.error,
    }


def _add_steps(turn: TurnState, recorder: StepRecorder) -> None:
    """Append the recorder's step reports to the turn's (the current request's steps)."""
    turn["steps"] = [*(turn.get("steps") or []), *(_event_dict(e) for e in recorder.events)]


def _last(state: OptimizedAgentState) -> BaseMessage | None:
    messages = state.get("messages") or []
    return messages[-1] if messages else None


def _count_call(state: OptimizedAgentState) -> TurnState:
    turn = _turn(state)
    turn["calls"] = turn.get("calls", 0) + 1
    return turn
