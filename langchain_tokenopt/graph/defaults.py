"""Resolve the optimizer arguments of the graph factory and the middleware.

``True`` means "build the default", ``False`` / ``None`` means "switch the step off", and an
object is validated and used as given. Shared by :func:`~langchain_tokenopt.build_optimized_agent`
and :class:`~langchain_tokenopt.graph.middleware.TokenOptMiddleware`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.caches import BaseCache
from langchain_core.language_models import BaseChatModel

from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter

__all__ = [
    "CALLER_KEYS",
    "DEFAULT_CONTEXT_BUDGET",
    "DEFAULT_TOOL_MARGIN",
    "caller_ids",
    "check_compact_to",
    "check_tool_margin",
    "model_name",
    "resolve_cache",
    "resolve_compressor",
    "resolve_context_optimizer",
    "resolve_monitor",
    "resolve_tool_selector",
    "tool_name",
]


#: Gap in retrieval score (the tool retriever's second-stage probability that a tool is
#: needed) to the best retrieved tool within which tools stay bound. Chosen on the BFCL dev
#: split (``python bench/e2e_bench.py --tool-margin-sweep``) as the smallest margin that keeps
#: 98 % of the top 5's recall: 0.848 of 0.864 with 3.8 instead of 5 tools bound; 0.65 would
#: keep 0.834 (96.5 %) with 3.4. With ``rerank=False`` the scores are fused scores, on another
#: scale: run the sweep with such a retriever before choosing a margin for it.
DEFAULT_TOOL_MARGIN = 0.7

#: History budget of the default context optimizer. Chosen with ``bench/agent_bench.py`` on
#: the tau-bench and ToolTalk dev splits: after >= 25k tokens of earlier conversation, 2,000
#: tokens kept the next call's argument values on 0.87 / 0.83 of calls, 3,000 on 0.93 / 0.87,
#: still sending over 90 % fewer tokens than the full request.
DEFAULT_CONTEXT_BUDGET = 3000


def check_tool_margin(tool_margin: Any) -> float | None:
    """Return ``tool_margin`` as a float (or None), or raise :class:`TokenOptConfigError`."""
    if tool_margin is None:
        return None
    if (
        isinstance(tool_margin, bool)
        or not isinstance(tool_margin, int | float)
        or not 0 <= tool_margin <= 2
    ):
        msg = f"tool_margin must be a score gap in [0, 2] or None, got {tool_margin!r}"
        raise TokenOptConfigError(msg)
    return float(tool_margin)


def check_compact_to(compact_to: Any) -> float:
    """Return ``compact_to`` as a float in (0, 1], or raise :class:`TokenOptConfigError`."""
    if (
        isinstance(compact_to, bool)
        or not isinstance(compact_to, int | float)
        or not 0 < compact_to <= 1
    ):
        msg = f"compact_to must be a share of the history budget in (0, 1], got {compact_to!r}"
        raise TokenOptConfigError(msg)
    return float(compact_to)


def resolve_cache(cache: Any) -> Any:
    """Return the response cache: ``True`` → default :class:`SemanticCache`, falsy → None."""
    if cache is True:
        from langchain_tokenopt.cache import SemanticCache

        return SemanticCache()
    if cache is False or cache is None:
        return None
    if not isinstance(cache, BaseCache):
        msg = f"cache must be a BaseCache, True or False, got {type(cache).__name__}"
        raise TokenOptConfigError(msg)
    return cache


def resolve_tool_selector(selector: Any, tools: list[Any], counter: TokenCounter) -> Any:
    """Return the tool selector: ``True`` → a ``ToolSelector`` over ``tools``, falsy → None."""
    if selector is True:
        if not tools:
            return None
        from langchain_tokenopt.tools import ToolSelector

        return ToolSelector.from_tools(tools)
    if selector is False or selector is None:
        return None
    if not callable(getattr(selector, "select", None)):
        msg = f"tool_selector must have select(messages), got {type(selector).__name__}"
        raise TokenOptConfigError(msg)
    return selector


def resolve_compressor(
    compressor: Any, system_prompt: Any, budget: int, counter: TokenCounter
) -> Callable[[Any, str], str] | None:
    """Return ``(system_prompt, question) -> str`` that fits the system prompt, or None.

    ``True`` picks a :class:`~langchain_tokenopt.graph.system_prompt.ModuleFitter` for a
    ``ModularPrompt`` (core modules whole, the answering sentences of the others) and a
    ``QueryAwareCompressor`` for a plain string, both with ``budget`` tokens.
    """
    if compressor is False or compressor is None or system_prompt is None:
        return None
    from langchain_tokenopt.compression import (
        ModularPrompt,
        PromptAssembler,
        QueryAwareCompressor,
    )

    if compressor is True:
        if isinstance(system_prompt, ModularPrompt):
            from langchain_tokenopt.errors import MissingDependencyError
            from langchain_tokenopt.graph.system_prompt import ModuleFitter

            try:
                return ModuleFitter(system_prompt, budget_tokens=budget, token_counter=counter)
            except MissingDependencyError:  # no bm25s: whole modules only
                compressor = PromptAssembler(
                    system_prompt, budget_tokens=budget, token_counter=counter
                )
        else:
            compressor = QueryAwareCompressor(target_tokens=budget, token_counter=counter)
    if isinstance(compressor, PromptAssembler):
        assembler = compressor

        def assemble(prompt: Any, question: str) -> str:
            return str(assembler.invoke(question).text)

        return assemble
    if isinstance(compressor, QueryAwareCompressor):
        qac = compressor

        def compress(prompt: Any, question: str) -> str:
            text = prompt if isinstance(prompt, str) else str(prompt)
            return str(qac.invoke({"context": text, "question": question}).text)

        return compress
    if callable(compressor):
        return compressor
    kinds = "a PromptAssembler, a QueryAwareCompressor or a callable"
    msg = f"compressor must be {kinds}, got {type(compressor).__name__}"
    raise TokenOptConfigError(msg)


def resolve_context_optimizer(optimizer: Any, budget: int, counter: TokenCounter) -> Any:
    """Return the history optimizer: ``True`` → ``ContextOptimizer(max_tokens=budget)``."""
    if optimizer is True:
        from langchain_tokenopt.context import ContextOptimizer

        return ContextOptimizer(max_tokens=budget, counter=counter)
    if optimizer is False or optimizer is None:
        return None
    if not callable(getattr(optimizer, "invoke", None)):
        msg = f"context_optimizer must be a Runnable over messages, got {type(optimizer).__name__}"
        raise TokenOptConfigError(msg)
    return optimizer


def resolve_monitor(monitor: Any) -> Any:
    """Return the monitor: ``True`` → ``TokenOptCallbackHandler()`` (SQLite store)."""
    if monitor is True:
        from langchain_tokenopt.monitoring import TokenOptCallbackHandler

        return TokenOptCallbackHandler()
    if monitor is False or monitor is None:
        return None
    if not callable(getattr(monitor, "record_step", None)):
        msg = f"monitor must be a TokenOptCallbackHandler, got {type(monitor).__name__}"
        raise TokenOptConfigError(msg)
    return monitor


def model_name(model: BaseChatModel) -> str:
    """Return the model's name (``model_name`` / ``model`` / ``model_id``) or its class name."""
    for attr in ("model_name", "model", "model_id"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__


def tool_name(tool: Any) -> str:
    """Return the name of a ``BaseTool``, a function or an OpenAI-style tool dict."""
    if isinstance(tool, dict):
        return str(tool.get("function", tool).get("name", ""))
    return str(getattr(tool, "name", getattr(tool, "__name__", "")))


#: The ``config["metadata"]`` keys that identify the caller (tenant, then user).
CALLER_KEYS = ("tenant_id", "user_id")


def caller_ids(config: Mapping[str, Any] | None) -> dict[str, str]:
    """Return the tenant / user ids found in a ``RunnableConfig``'s metadata."""
    meta = (config or {}).get("metadata") or {}
    return {k: str(meta[k]) for k in CALLER_KEYS if meta.get(k)}
