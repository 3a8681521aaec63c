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
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from langchain_tokenopt.errors import MissingDependencyError
from langchain_tokenopt.graph.defaults import (
    DEFAULT_TOOL_MARGIN,
    caller_ids,
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
from langchain_tokenopt.tokens import TokenCounter

try:
    from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("langchain (create_agent middleware)", extra="agents") from exc

__all__ = ["TokenOptMiddleware"]

# (pipeline, cached answer or None, optimized request, cache key of the turn, tenant scope)
_Prepared = tuple[
    OptimizerPipeline, AIMessage | None, ModelRequest, CacheKeyParts | None, dict[str, str]
]


class TokenOptMiddleware(AgentMiddleware):
    """Optimize every model call of a ``create_agent`` agent (see the module docstring).

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
    """

    def __init__(
        self,
        *,
        cache: Any = True,
        tool_selector: Any = True,
        compressor: Any = True,
        context_optimizer: Any = True,
        monitor: Any = False,
        context_budget: int = 2000,
        system_budget: int = 1000,
        tool_margin: float | None = DEFAULT_TOOL_MARGIN,
    ) -> None:
        super().__init__()
        margin = check_tool_margin(tool_margin)
        self._settings = {
            "cache": resolve_cache(cache),
            "selector": tool_selector,
            "compressor": compressor,
            "context": context_optimizer,
            "monitor": resolve_monitor(monitor),
            "context_budget": context_budget,
            "system_budget": system_budget,
            "tool_margin": margin,
        }
        self._pipelines: dict[tuple[int, str, tuple[str, ...]], OptimizerPipeline] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ pipeline per model
    def _pipeline(self, request: ModelRequest) -> OptimizerPipeline:
        system = _system_of(request)
        tools = list(request.tools or [])
        key = (id(request.model), system, tuple(sorted(tool_name(t) for t in tools)))
        with self._lock:
            found = self._pipelines.get(key)
            if found is not None:
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
        )
        with self._lock:
            return self._pipelines.setdefault(key, pipeline)

    def _prepare(
        self,
        request: ModelRequest,
    ) -> tuple[
        OptimizerPipeline, AIMessage | None, ModelRequest, CacheKeyParts | None, dict[str, str]
    ]:
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
                return pipeline, answer.model_copy(update={"id": None}), request, None, scope
        elif turn is not None:
            key = pipeline.cache_key(turn)
        registered = {tool_name(t) for t in request.tools or []}
        overrides: dict[str, Any] = {}
        if pipeline.tool_selector is not None:
            tools, _names = pipeline.select_tools(messages, recorder)
            overrides["tools"] = [t for t in tools if tool_name(t) in registered]
        human = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
        question = human.text if human is not None else ""
        if pipeline.prompt_compressor is not None:
            overrides["system_message"] = SystemMessage(pipeline.system_text(question, recorder))
        if pipeline.context_optimizer is not None:
            overrides["messages"] = pipeline.history(messages, recorder)
        return pipeline, None, request.override(**overrides), key, scope

    @staticmethod
    def _finish(
        pipeline: OptimizerPipeline,
        response: Any,
        key: CacheKeyParts | None,
        scope: dict[str, str],
    ) -> Any:
        result = getattr(response, "result", None)
        message = result[-1] if result else response
        if key is not None and isinstance(message, AIMessage) and not message.tool_calls:
            pipeline.store(key, message, scope)
        return response

    # ------------------------------------------------------------------ middleware hooks
    def wrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], ModelResponse],
    ) -> ModelResponse | AIMessage:
        """Cache check, optimize the request, call the model, store the answer."""
        pipeline, hit, optimized, key, scope = self._prepare(request)
        if hit is not None:
            return hit
        return self._finish(pipeline, handler(optimized), key, scope)

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> ModelResponse | AIMessage:
        """Async form: the CPU-bound steps run in a worker thread."""
        pipeline, hit, optimized, key, scope = await asyncio.to_thread(self._prepare, request)
        if hit is not None:
            return hit
        response = await handler(optimized)
        return await asyncio.to_thread(self._finish, pipeline, response, key, scope)


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
