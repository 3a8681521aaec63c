"""Resolve the optimizer arguments of the graph factory and the middleware.

``None`` means "build the default", ``False`` means "switch the step off" (``True`` is read
as ``None``), and an object is validated and used as given. Shared by
:func:`~langchain_tokenopt.build_optimized_agent` and
:class:`~langchain_tokenopt.graph.middleware.TokenOptMiddleware`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from langchain_core.caches import BaseCache
from langchain_core.language_models import BaseChatModel
from langchain_core.outputs import Generation

from langchain_tokenopt.cache.keys import RequestKey
from langchain_tokenopt.compression.modular_prompt import ModularPrompt, PromptAssembler
from langchain_tokenopt.compression.query_aware import QueryAwareCompressor
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.protocols import (
    CacheAnswer,
    HistoryOptimizer,
    PromptFitter,
    ResponseCache,
    StepMonitor,
    ToolSelectorLike,
)
from langchain_tokenopt.tokens import TokenCounter

__all__ = [
    "CALLER_KEYS",
    "AGENT_RECENT_SHARE",
    "DEFAULT_CONTEXT_BUDGET",
    "DEFAULT_SYSTEM_BUDGET",
    "DEFAULT_TOOL_MARGIN",
    "LangChainResponseCache",
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

T = TypeVar("T")

#: Gap in retrieval score (the tool retriever's second-stage probability that a tool is
#: needed) to the best retrieved tool within which tools stay bound. Chosen on the BFCL dev
#: split (``python -m bench e2e tool-margin``) as the smallest margin that keeps
#: 98 % of the top 5's recall: 0.848 of 0.864 with 3.8 instead of 5 tools bound; 0.65 would
#: keep 0.834 (96.5 %) with 3.4. With ``rerank=False`` the scores are fused scores, on another
#: scale: run the sweep with such a retriever before choosing a margin for it.
DEFAULT_TOOL_MARGIN = 0.7

#: History budget of the default context optimizer. Chosen with ``python -m bench agent`` on
#: the tau-bench and ToolTalk dev splits: after >= 25k tokens of earlier conversation, 2,000
#: tokens kept the next call's argument values on 0.87 / 0.83 of calls, 3,000 on 0.93 / 0.87,
#: still sending over 90 % fewer tokens than the full request.
DEFAULT_CONTEXT_BUDGET = 3000

#: Share of the summary's room that the newest summaries keep whole in an agent loop (see
#: ``HierarchicalSummary.recent_share``): they hold the open task's earlier lookups, which
#: its next call reads. Chosen with ``python -m bench agent --split dev --first-trial
#: --only tau --settings long``: argument values kept on 0.970 of calls instead of 0.966
#: (0.985 instead of 0.974 in the prefix-stable mode). A plain ``ContextOptimizer`` keeps
#: 0, which holds more facts of the whole history at tight budgets (the context bench).
AGENT_RECENT_SHARE = 0.5

#: System-prompt budget of the default compressor (tokens).
DEFAULT_SYSTEM_BUDGET = 1000


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


class LangChainResponseCache:
    """A LangChain ``BaseCache`` seen as a :class:`~langchain_tokenopt.protocols.ResponseCache`.

    The request's key is passed as LangChain's ``(prompt, llm_string)`` pair (``llm_string``
    an opaque name of the model and tools). Such a cache gives no entry its own lifetime,
    so an answer that needs one (``ttl`` set) is refused, and every hit counts as exact.

    Example:
        .. code-block:: python

            from langchain_core.caches import InMemoryCache

            cache = LangChainResponseCache(InMemoryCache())
            cache.lookup_request(key).generations
    """

    def __init__(self, cache: BaseCache) -> None:
        if not isinstance(cache, BaseCache):
            msg = f"cache must be a BaseCache, got {type(cache).__name__}"
            raise TokenOptConfigError(msg)
        self.cache = cache

    def lookup_request(self, key: RequestKey, /) -> CacheAnswer:
        """Look ``key`` up with ``BaseCache.lookup``."""
        return _plain_answer(self.cache.lookup(key.prompt, key.llm_string))

    async def alookup_request(self, key: RequestKey, /) -> CacheAnswer:
        """Look ``key`` up with ``BaseCache.alookup``."""
        return _plain_answer(await self.cache.alookup(key.prompt, key.llm_string))

    def update_request(
        self, key: RequestKey, generations: Sequence[Generation], /, *, ttl: float | None = None
    ) -> bool:
        """Store with ``BaseCache.update``; refuse an answer that needs its own lifetime."""
        if ttl is not None:
            return False
        self.cache.update(key.prompt, key.llm_string, list(generations))
        return True

    async def aupdate_request(
        self, key: RequestKey, generations: Sequence[Generation], /, *, ttl: float | None = None
    ) -> bool:
        """Store with ``BaseCache.aupdate``; refuse an answer that needs its own lifetime."""
        if ttl is not None:
            return False
        await self.cache.aupdate(key.prompt, key.llm_string, list(generations))
        return True


def _plain_answer(generations: Sequence[Generation] | None) -> CacheAnswer:
    if not generations:
        return CacheAnswer()
    return CacheAnswer(generations=list(generations), layer="exact")


def resolve_cache(cache: BaseCache | ResponseCache | bool | None) -> ResponseCache | None:
    """Return the response cache: ``None`` → default :class:`SemanticCache`, ``False`` → off.

    A plain LangChain ``BaseCache`` is wrapped in :class:`LangChainResponseCache`.
    """
    if cache is None or cache is True:
        from langchain_tokenopt.cache import SemanticCache

        return SemanticCache()
    if cache is False:
        return None
    if isinstance(cache, ResponseCache):
        return cache
    if isinstance(cache, BaseCache):
        return LangChainResponseCache(cache)
    msg = f"cache must be a BaseCache, None or False, got {type(cache).__name__}"
    raise TokenOptConfigError(msg)


def resolve_tool_selector(
    selector: ToolSelectorLike | bool | None, tools: list[Any], counter: TokenCounter
) -> ToolSelectorLike | None:
    """Return the tool selector: ``None`` → a ``ToolSelector`` over ``tools``, ``False`` → off."""

    def default() -> ToolSelectorLike | None:
        if not tools:
            return None
        from langchain_tokenopt.tools import ToolSelector

        return ToolSelector.from_tools(tools)

    return _resolve(selector, default, ToolSelectorLike, "tool_selector must have select(messages)")


def resolve_compressor(
    compressor: PromptFitter | PromptAssembler | QueryAwareCompressor | bool | None,
    system_prompt: Any,
    budget: int,
    counter: TokenCounter,
) -> PromptFitter | None:
    """Return ``(system_prompt, question) -> str`` that fits the system prompt, or None.

    ``None`` picks a :class:`~langchain_tokenopt.compression.module_fitter.ModuleFitter` for
    a ``ModularPrompt`` (core modules whole, the answering sentences of the others) and a
    ``QueryAwareCompressor`` for a plain string, both with ``budget`` tokens.
    """
    if compressor is False or system_prompt is None:
        return None
    if compressor is None or compressor is True:
        if isinstance(system_prompt, ModularPrompt):
            from langchain_tokenopt.compression.module_fitter import ModuleFitter
            from langchain_tokenopt.errors import MissingDependencyError

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
    if isinstance(compressor, PromptFitter):
        return compressor
    kinds = "a PromptAssembler, a QueryAwareCompressor or a callable"
    msg = f"compressor must be {kinds}, got {type(compressor).__name__}"
    raise TokenOptConfigError(msg)


def resolve_context_optimizer(
    optimizer: HistoryOptimizer | bool | None, budget: int, counter: TokenCounter
) -> HistoryOptimizer | None:
    """Return the history optimizer: ``None`` → an agent-loop ``ContextOptimizer``.

    The default masks old tool outputs and summarizes what falls out of the window, the
    newest summaries keeping their words up to :data:`AGENT_RECENT_SHARE` of the room.
    """

    def default() -> HistoryOptimizer:
        from langchain_tokenopt.context import (
            ContextOptimizer,
            HierarchicalSummary,
            MaskToolOutputs,
        )

        return ContextOptimizer(
            max_tokens=budget,
            counter=counter,
            strategies=[MaskToolOutputs(), HierarchicalSummary(recent_share=AGENT_RECENT_SHARE)],
        )

    return _resolve(
        optimizer, default, HistoryOptimizer, "context_optimizer must be a Runnable over messages"
    )


def resolve_monitor(monitor: StepMonitor | bool | None) -> StepMonitor | None:
    """Return the monitor: ``None`` → ``TokenOptCallbackHandler()`` (SQLite store)."""

    def default() -> StepMonitor:
        from langchain_tokenopt.monitoring import TokenOptCallbackHandler

        return TokenOptCallbackHandler()

    return _resolve(monitor, default, StepMonitor, "monitor must be a TokenOptCallbackHandler")


def _resolve(
    option: Any, default: Callable[[], T | None], kind: type[Any], wanted: str
) -> T | None:
    """The rule of every step option: ``None`` / ``True`` → ``default()``, ``False`` → off.

    Any other value must be an instance of ``kind`` (``wanted`` says what is allowed).
    """
    if option is None or option is True:
        return default()
    if option is False:
        return None
    if not isinstance(option, kind):
        msg = f"{wanted}, got {type(option).__name__}"
        raise TokenOptConfigError(msg)
    return cast(T, option)


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
