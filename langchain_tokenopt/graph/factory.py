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

Each node has a sync and an async form, reports tokens before/after and latency to the
monitor, and fails open (see :mod:`langchain_tokenopt.graph.pipeline`).

Example:
    .. code-block:: python

        from langchain_tokenopt import build_optimized_agent
        from langchain_tokenopt.llms import LocalChatModel

        graph = build_optimized_agent(LocalChatModel(), tools=[]).compile()
        graph.invoke({"messages": [("user", "What is the capital of France?")]})
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from langchain_core.caches import BaseCache
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.runnables.config import merge_configs
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph

from langchain_tokenopt.context.compaction import DEFAULT_COMPACT_TO
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.graph.defaults import (
    CALLER_KEYS,
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
from langchain_tokenopt.graph.pipeline import (
    CacheKeyParts,
    OptimizerPipeline,
    StepRecorder,
    latest_human,
)
from langchain_tokenopt.graph.prefix import (
    cache_key_for,
    mark_breakpoints,
    prefix_caching_default,
)
from langchain_tokenopt.graph.replay import CachedAnswerModel
from langchain_tokenopt.graph.state import OptimizedAgentState, TurnState
from langchain_tokenopt.tokens import TokenCounter
from langchain_tokenopt.tools.working_set import WORKING_SET_KEY

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_TOOL_MARGIN", "build_optimized_agent"]


def build_optimized_agent(
    model: BaseChatModel,
    tools: Sequence[BaseTool | Callable[..., Any] | dict[str, Any]] = (),
    *,
    system_prompt: Any = None,
    cache: BaseCache | bool | None = True,
    tool_selector: Any = True,
    compressor: Any = True,
    context_optimizer: Any = True,
    monitor: Any = True,
    context_budget: int = DEFAULT_CONTEXT_BUDGET,
    system_budget: int = 1000,
    token_model: str | None = None,
    cache_scope_by: Sequence[Literal["tenant_id", "user_id"]] = ("tenant_id", "user_id"),
    tool_margin: float | None = DEFAULT_TOOL_MARGIN,
    cacheable_tools: Mapping[str, float] | None = None,
    prefix_stable: bool | None = None,
    compact_to: float = DEFAULT_COMPACT_TO,
) -> StateGraph:
    """Build an agent graph with cache, tool selection, compression and context steps.

    Every optimizer has a working default; pass ``False`` (or ``None``) to switch a step
    off, or your own configured component to replace it.

    Args:
        model: The chat model (``BaseChatModel``) the agent calls.
        tools: The whole tool catalog: ``BaseTool``s or functions (executed by the graph)
            and schema-only dicts (bound, but a call to one ends the turn so the caller can
            run it).
        system_prompt: A string, a :class:`~langchain_tokenopt.ModularPrompt` or None.
        cache: A ``BaseCache``; ``True`` builds the default
            :class:`~langchain_tokenopt.SemanticCache` (embedded, user cache dir).
        tool_selector: A :class:`~langchain_tokenopt.ToolSelector`; ``True`` builds one over
            ``tools``; ``False`` binds every tool.
        compressor: How the system prompt is fitted: a
            :class:`~langchain_tokenopt.graph.ModuleFitter` or a ``PromptAssembler`` (for a
            ``ModularPrompt``), a ``QueryAwareCompressor``, any callable
            ``(system_prompt, question) -> str``; ``True`` picks the default for the prompt
            type with ``system_budget`` tokens (``ModuleFitter`` for a ``ModularPrompt``:
            core modules whole, then the sentences of the other modules that answer the
            question).
        context_optimizer: A ``Runnable`` over messages; ``True`` builds
            :class:`~langchain_tokenopt.ContextOptimizer` with ``context_budget`` tokens.
        monitor: A :class:`~langchain_tokenopt.TokenOptCallbackHandler`; ``True`` builds one
            with the default SQLite store.
        context_budget: Token budget of the conversation sent to the model (default
            context optimizer; default :data:`DEFAULT_CONTEXT_BUDGET`, chosen with
            ``bench/agent_bench.py`` so the next call keeps the values it needs).
        system_budget: Token budget of the system prompt (default compressor). A
            ``ModularPrompt``'s core modules must fit it.
        token_model: Model name that picks the tokenizer for the figures (defaults to the
            chat model's name).
        cache_scope_by: Which ``config["metadata"]`` ids confine cache entries. The default
            keeps answers per tenant *and* user; ``("tenant_id",)`` shares answers between
            the users of a tenant (right for FAQ-like traffic, wrong where answers hold one
            user's data).
        tool_margin: With the default tool selector, bind only the retrieved tools whose
            score (the retriever's probability that the tool is needed) is within this gap
            of the best one (``find_tools`` stays bound to load the rest); ``None`` binds the
            selector's top ``k``. The default was chosen on the BFCL dev split
            (``bench/e2e_bench.py --tool-margin-sweep``).
        cacheable_tools: ``{tool name: lifetime in seconds}`` of read-only tools whose
            results may be served again for that long (a tool's ``cache_ttl`` metadata
            declares it too). A turn that called any other tool is never stored in the
            response cache, so a booking is never replayed without booking.
        prefix_stable: Keep the request prefix stable for the provider's prompt cache
            (system prompt fitted once per thread, history compacted in steps, Anthropic
            breakpoints / an OpenAI ``prompt_cache_key``); ``None`` (default) turns it on
            for models whose provider caches prefixes (Anthropic, OpenAI, Gemini).
        compact_to: In the prefix-stable mode, a compaction brings the history to
            ``context_budget`` and the next calls append to it until it reaches
            ``context_budget / compact_to`` tokens.

    Returns:
        The uncompiled ``StateGraph`` over :class:`OptimizedAgentState`: call
        ``.compile(checkpointer=..., store=...)`` yourself.

    Raises:
        TokenOptConfigError: an argument has the wrong type or a budget is not positive.
    """
    if not isinstance(model, BaseChatModel):
        msg = f"model must be a LangChain BaseChatModel, got {type(model).__name__}"
        raise TokenOptConfigError(msg)
    scope_keys = tuple(cache_scope_by)
    if not scope_keys or any(k not in CALLER_KEYS for k in scope_keys):
        msg = f"cache_scope_by must be a non-empty subset of {CALLER_KEYS}, got {cache_scope_by!r}"
        raise TokenOptConfigError(msg)
    for name, value in (("context_budget", context_budget), ("system_budget", system_budget)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            msg = f"{name} must be a positive int, got {value!r}"
            raise TokenOptConfigError(msg)
    margin = check_tool_margin(tool_margin)
    if tools is None or isinstance(tools, str | bytes | dict) or not hasattr(tools, "__iter__"):
        msg = f"tools must be a sequence of tools, got {type(tools).__name__}"
        raise TokenOptConfigError(msg)
    catalog = list(tools)
    for tool in catalog:
        if not (isinstance(tool, BaseTool | dict) or callable(tool)):
            msg = f"tools must be BaseTool, callables or dict schemas, got {type(tool).__name__}"
            raise TokenOptConfigError(msg)
    counter = TokenCounter(token_model or model_name(model))
    pipeline = OptimizerPipeline(
        model=model,
        tools=catalog,
        system_prompt=system_prompt,
        cache=resolve_cache(cache),
        tool_selector=resolve_tool_selector(tool_selector, catalog, counter),
        prompt_compressor=resolve_compressor(compressor, system_prompt, system_budget, counter),
        context_optimizer=resolve_context_optimizer(context_optimizer, context_budget, counter),
        monitor=resolve_monitor(monitor),
        counter=counter,
        tool_margin=margin,
        cacheable_tools=cacheable_tools,
        prefix_stable=prefix_caching_default(model) if prefix_stable is None else prefix_stable,
        compact_to=check_compact_to(compact_to),
    )
    return _AgentGraph(pipeline, model, catalog, model_name(model), scope_keys).build()


class _AgentGraph:
    """The nodes of one agent; sync and async forms share every line of logic."""

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
        meta = getattr(selector, "find_tools_tool", None) if selector is not None else None
        enabled = getattr(selector, "find_tools_enabled", False)
        self.meta_tools: list[BaseTool] = [meta] if isinstance(meta, BaseTool) and enabled else []
        for tool in self.meta_tools:
            self.by_name[tool_name(tool)] = tool

    # ------------------------------------------------------------------ helpers
    def _cache_scope(self, config: RunnableConfig) -> dict[str, str]:
        return {k: v for k, v in caller_ids(config).items() if k in self.scope_keys}

    def _recorder(self, state: OptimizedAgentState, config: RunnableConfig) -> StepRecorder:
        turn = state.get("turn") or {}
        return self.pipeline.recorder(turn.get("request_id") or uuid.uuid4().hex, config)

    # ------------------------------------------------------------------ cache_check
    def _lookup(
        self, state: OptimizedAgentState, config: RunnableConfig
    ) -> tuple[AIMessage | None, str | None, TurnState, int]:
        messages = list(state.get("messages") or [])
        human = latest_human(messages)
        request_id = uuid.uuid4().hex
        turn: TurnState = {
            "turn_id": (human.id or "") if human is not None else "",
            "request_id": request_id,
            "cache_hit": False,
            "steps": [],
        }
        if human is None or self.pipeline.cache is None:
            return None, None, turn, 0
        recorder = self.pipeline.recorder(request_id, config)
        scope = self._cache_scope(config)
        key = self.pipeline.cache_key(messages)
        turn["cache_prompt"], turn["cache_llm_string"] = key.prompt, key.llm_string
        answer, layer = self.pipeline.lookup(messages, recorder, scope)
        turn["steps"] = [_event_dict(e) for e in recorder.events]
        prompt_tokens = recorder.events[-1].tokens_before if recorder.events else 0
        return answer, layer, turn, prompt_tokens

    def _hit_update(
        self,
        replayed: BaseMessage,
        layer: str | None,
        turn: TurnState,
        prompt_tokens: int,
        config: RunnableConfig,
    ) -> dict[str, Any]:
        turn["cache_hit"] = True
        recorder = self.pipeline.recorder(turn["request_id"], config)
        output_tokens = self.pipeline.counter.count(_text(replayed))
        ids = caller_ids(config)
        for monitor in recorder.monitors:
            try:
                monitor.record_cache_hit(
                    turn["request_id"],
                    layer=layer,
                    prompt_tokens=prompt_tokens,
                    output_tokens=output_tokens,
                    model=self.model_name,
                    tenant_id=ids.get("tenant_id"),
                    user_id=ids.get("user_id"),
                )
            except Exception as exc:  # noqa: BLE001 - monitoring never breaks a request
                logger.warning("tokenopt monitor failed on a cache hit: %s", type(exc).__name__)
        return {"messages": [replayed], "turn": turn}

    def cache_check(self, state: OptimizedAgentState, config: RunnableConfig) -> dict[str, Any]:
        answer, layer, turn, tokens = self._lookup(state, config)
        if answer is None:
            return {"turn": turn}
        replay = CachedAnswerModel(answer=_fresh(answer))
        replayed = replay.invoke(list(state.get("messages") or []), config)
        return self._hit_update(replayed, layer, turn, tokens, config)

    async def acache_check(
        self, state: OptimizedAgentState, config: RunnableConfig
    ) -> dict[str, Any]:
        answer, layer, turn, tokens = await asyncio.to_thread(self._lookup, state, config)
        if answer is None:
            return {"turn": turn}
        replay = CachedAnswerModel(answer=_fresh(answer))
        replayed = await replay.ainvoke(list(state.get("messages") or []), config)
        return self._hit_update(replayed, layer, turn, tokens, config)

    @staticmethod
    def after_cache(state: OptimizedAgentState) -> Literal["select_tools", "__end__"]:
        return "__end__" if (state.get("turn") or {}).get("cache_hit") else "select_tools"

    # ------------------------------------------------------------------ select_tools
    def select_tools(self, state: OptimizedAgentState, config: RunnableConfig) -> dict[str, Any]:
        turn: TurnState = dict(state.get("turn") or {})  # type: ignore[assignment]
        if turn.get("steps") is None or _called(state):
            # A new pass through the tool loop is a new model request, with its own steps.
            turn["request_id"] = uuid.uuid4().hex
            turn["steps"] = []
        recorder = self.pipeline.recorder(turn.get("request_id") or uuid.uuid4().hex, config)
        choice = self.pipeline.select_tools(
            list(state.get("messages") or []), recorder, state.get(WORKING_SET_KEY)
        )
        for tool in choice.tools:
            self.by_name.setdefault(tool_name(tool), tool)
        turn["tools"] = choice.names
        _add_steps(turn, recorder)
        update: dict[str, Any] = {"turn": turn}
        if choice.working_set is not None:
            update[WORKING_SET_KEY] = choice.working_set
        return update

    # ------------------------------------------------------------------ compress_prompt
    def compress_prompt(self, state: OptimizedAgentState, config: RunnableConfig) -> dict[str, Any]:
        turn: TurnState = dict(state.get("turn") or {})  # type: ignore[assignment]
        human = latest_human(list(state.get("messages") or []))
        question = _text(human) if human is not None else ""
        prefix = dict(state.get("prefix") or {})
        recorder = self._recorder(state, config)
        text = self.pipeline.system_text(question, recorder, prefix.get("system"))
        turn["system_prompt"] = text
        _add_steps(turn, recorder)
        if not self.pipeline.prefix_stable:
            return {"turn": turn}
        prefix["system"] = text
        return {"turn": turn, "prefix": prefix}

    # ------------------------------------------------------------------ optimize_context
    def optimize_context(
        self, state: OptimizedAgentState, config: RunnableConfig
    ) -> dict[str, Any]:
        messages = list(state.get("messages") or [])
        recorder = self._recorder(state, config)
        turn: TurnState = dict(state.get("turn") or {})  # type: ignore[assignment]
        if not self.pipeline.prefix_stable:
            view = self.pipeline.history(messages, recorder)
            _add_steps(turn, recorder)
            return {"model_input": view, "turn": turn}
        prefix = dict(state.get("prefix") or {})
        view, kept, stable = self.pipeline.stable_history(messages, recorder, prefix.get("context"))
        prefix["context"] = kept
        turn["stable_messages"] = stable
        _add_steps(turn, recorder)
        return {"model_input": view, "prefix": prefix, "turn": turn}

    # ------------------------------------------------------------------ call_model
    def _model_call(
        self, state: OptimizedAgentState, config: RunnableConfig
    ) -> tuple[Any, list[BaseMessage], RunnableConfig]:
        turn = state.get("turn") or {}
        tools = [self.by_name[n] for n in turn.get("tools", []) if n in self.by_name]
        system = turn.get("system_prompt") or ""
        view: list[BaseMessage] = list(state.get("model_input") or state.get("messages") or [])
        system_message = SystemMessage(system) if system else None
        provider = self.pipeline.provider if self.pipeline.prefix_stable else None
        if provider == "anthropic":
            stable = int(turn.get("stable_messages") or 0)
            system_message, view, tools = mark_breakpoints(system_message, view, tools, stable)
        bound: Any = self.model.bind_tools(tools) if tools else self.model
        if provider == "openai":
            bound = bound.bind(prompt_cache_key=cache_key_for(config, system))
        messages: list[BaseMessage] = [system_message] if system_message is not None else []
        messages += view
        request_id = turn.get("request_id") or uuid.uuid4().hex
        call_config = merge_configs(config, self.pipeline.model_config(config, request_id))  # type: ignore[arg-type]
        return bound, messages, call_config

    def call_model(self, state: OptimizedAgentState, config: RunnableConfig) -> dict[str, Any]:
        bound, messages, call_config = self._model_call(state, config)
        return {"messages": [bound.invoke(messages, call_config)], "turn": _count_call(state)}

    async def acall_model(
        self, state: OptimizedAgentState, config: RunnableConfig
    ) -> dict[str, Any]:
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
    def cache_store(self, state: OptimizedAgentState, config: RunnableConfig) -> dict[str, Any]:
        turn = state.get("turn") or {}
        last = _last(state)
        prompt, llm_string = turn.get("cache_prompt"), turn.get("cache_llm_string")
        if isinstance(last, AIMessage) and prompt and llm_string and not turn.get("cache_hit"):
            scope = self._cache_scope(config)
            messages = list(state.get("messages") or [])
            self.pipeline.store(CacheKeyParts(prompt, llm_string), last, scope, messages)
        return {}

    # ------------------------------------------------------------------ wiring
    def build(self) -> StateGraph:
        graph = StateGraph(OptimizedAgentState)

        def node(fn: Callable[..., Any], afn: Callable[..., Any] | None = None) -> Any:
            async def threaded(state: OptimizedAgentState, config: RunnableConfig) -> Any:
                return await asyncio.to_thread(fn, state, config)

            return RunnableLambda(fn, afunc=afn or threaded, name=fn.__name__)

        graph.add_node("cache_check", node(self.cache_check, self.acache_check))
        graph.add_node("select_tools", node(self.select_tools))
        graph.add_node("compress_prompt", node(self.compress_prompt))
        graph.add_node("optimize_context", node(self.optimize_context))
        graph.add_node("call_model", node(self.call_model, self.acall_model))
        graph.add_node("cache_store", node(self.cache_store))
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
            graph.add_node("tools", node(_no_tools))
            graph.add_edge("tools", END)
        return graph


# ---------------------------------------------------------------------- small helpers
def _no_tools(state: OptimizedAgentState, config: RunnableConfig) -> dict[str, Any]:
    return {}


def _text(message: BaseMessage) -> str:
    return message.content if isinstance(message.content, str) else message.text


def _fresh(answer: AIMessage) -> AIMessage:
    """A copy of a cached answer with a new id (ids are unique within a conversation)."""
    return answer.model_copy(update={"id": f"tokenopt-cache-{uuid.uuid4().hex}"})


def _event_dict(event: Any) -> dict[str, Any]:
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


def _called(state: OptimizedAgentState) -> bool:
    return bool((state.get("turn") or {}).get("calls"))


def _count_call(state: OptimizedAgentState) -> TurnState:
    turn: dict[str, Any] = dict(state.get("turn") or {})
    turn["calls"] = int(turn.get("calls") or 0) + 1
    return turn  # type: ignore[return-value]
