"""The optimizer options shared by the graph factory and the middleware.

:func:`~langchain_tokenopt.build_optimized_agent` and
:class:`~langchain_tokenopt.graph.middleware.TokenOptMiddleware` take the same steps and
budgets; both read them from one :class:`OptimizerOptions`, so their defaults cannot drift.
Each step is ``X | Literal[False] | None``: your component, ``False`` to switch the step off,
or ``None`` (the default) for the package's default component. Monitoring is on by default
in both (a :class:`~langchain_tokenopt.TokenOptCallbackHandler` with the SQLite store): pass
``monitor=False`` to switch it off.

Example:
    .. code-block:: python

        from langchain_tokenopt.graph.options import OptimizerOptions

        options = OptimizerOptions(cache=False, context_budget=2000)
        graph = build_optimized_agent(model, tools, options=options)
        middleware = TokenOptMiddleware(options=options)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Literal, TypedDict, Unpack

from langchain_core.caches import BaseCache

from langchain_tokenopt.compression.modular_prompt import PromptAssembler
from langchain_tokenopt.compression.query_aware import QueryAwareCompressor
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.graph.defaults import (
    DEFAULT_CONTEXT_BUDGET,
    DEFAULT_SYSTEM_BUDGET,
    DEFAULT_TOOL_MARGIN,
    check_compact_to,
    check_tool_margin,
)
from langchain_tokenopt.protocols import (
    HistoryOptimizer,
    PromptFitter,
    ResponseCache,
    StepMonitor,
    ToolSelectorLike,
)

__all__ = ["CacheOption", "CompressorOption", "OptimizerOptions", "OptimizerSettings"]

#: A response cache: ours, any LangChain ``BaseCache``, or any :class:`ResponseCache`.
CacheOption = BaseCache | ResponseCache
#: A system-prompt fitter: a callable, a ``PromptAssembler`` or a ``QueryAwareCompressor``.
CompressorOption = PromptFitter | PromptAssembler | QueryAwareCompressor


class OptimizerSettings(TypedDict, total=False):
    """The keyword form of :class:`OptimizerOptions` (what the factory and middleware accept).

    Example:
        .. code-block:: python

            settings: OptimizerSettings = {"cache": False, "context_budget": 2000}
            OptimizerOptions(**settings)
    """

    cache: CacheOption | Literal[False] | None
    tool_selector: ToolSelectorLike | Literal[False] | None
    compressor: CompressorOption | Literal[False] | None
    context_optimizer: HistoryOptimizer | Literal[False] | None
    monitor: StepMonitor | Literal[False] | None
    context_budget: int
    system_budget: int
    tool_margin: float | None
    cacheable_tools: Mapping[str, float] | None
    prefix_stable: bool | None
    compact_to: float | None


@dataclass(frozen=True, kw_only=True)
class OptimizerOptions:
    """The steps and budgets of the optimized agent (validated on construction).

    Args:
        cache: A LangChain ``BaseCache`` or a :class:`~langchain_tokenopt.protocols.ResponseCache`;
            ``None`` builds the default :class:`~langchain_tokenopt.SemanticCache` (embedded,
            user cache dir); ``False`` switches the response cache off.
        tool_selector: A :class:`~langchain_tokenopt.ToolSelector` or any
            :class:`~langchain_tokenopt.protocols.ToolSelectorLike`; ``None`` builds one over
            the tools; ``False`` binds every tool.
        compressor: How the system prompt is fitted: a
            :class:`~langchain_tokenopt.compression.module_fitter.ModuleFitter` or a
            ``PromptAssembler`` (for a ``ModularPrompt``), a ``QueryAwareCompressor``, any
            callable ``(system_prompt, question) -> str``; ``None`` picks the default for the
            prompt type with ``system_budget`` tokens; ``False`` sends the prompt as it is.
        context_optimizer: A ``Runnable`` over messages; ``None`` builds
            :class:`~langchain_tokenopt.ContextOptimizer` with ``context_budget`` tokens;
            ``False`` sends the whole history.
        monitor: A :class:`~langchain_tokenopt.TokenOptCallbackHandler` (any
            :class:`~langchain_tokenopt.protocols.StepMonitor`); ``None`` builds one with the
            default SQLite store; ``False`` switches monitoring off.
        context_budget: Token budget of the conversation sent to the model (default
            :data:`~langchain_tokenopt.graph.defaults.DEFAULT_CONTEXT_BUDGET`).
        system_budget: Token budget of the system prompt (default compressor).
        tool_margin: Bind only the retrieved tools within this retrieval-score gap of the
            best one; ``None`` binds the selector's top ``k`` (default
            :data:`~langchain_tokenopt.graph.defaults.DEFAULT_TOOL_MARGIN`).
        cacheable_tools: ``{tool name: lifetime in seconds}`` of read-only tools whose turns
            may be stored in the response cache; a turn that called any other tool is not.
        prefix_stable: Keep the request prefix stable for the provider's prompt cache;
            ``None`` turns it on for models whose provider caches prefixes.
        compact_to: In the prefix-stable mode, the history grows to
            ``context_budget / compact_to`` tokens between compactions; ``None`` takes the
            share where the provider's cache read and write prices balance
            (:func:`~langchain_tokenopt.graph.prefix.compaction_share`: Anthropic 0.36,
            OpenAI 0.59, Gemini 0.5, others 0.6).

    Raises:
        TokenOptConfigError: a step has the wrong type, a budget is not a positive int, or
            a number is out of range.

    Example:
        .. code-block:: python

            options = OptimizerOptions(monitor=False, tool_margin=None)
            options.with_settings(context_budget=2000).context_budget  # 2000
    """

    cache: CacheOption | Literal[False] | None = None
    tool_selector: ToolSelectorLike | Literal[False] | None = None
    compressor: CompressorOption | Literal[False] | None = None
    context_optimizer: HistoryOptimizer | Literal[False] | None = None
    monitor: StepMonitor | Literal[False] | None = None
    context_budget: int = DEFAULT_CONTEXT_BUDGET
    system_budget: int = DEFAULT_SYSTEM_BUDGET
    tool_margin: float | None = DEFAULT_TOOL_MARGIN
    cacheable_tools: Mapping[str, float] | None = None
    prefix_stable: bool | None = None
    compact_to: float | None = None

    def __post_init__(self) -> None:
        for name in ("context_budget", "system_budget"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                msg = f"{name} must be a positive int, got {value!r}"
                raise TokenOptConfigError(msg)
        object.__setattr__(self, "tool_margin", check_tool_margin(self.tool_margin))
        if self.compact_to is not None:
            object.__setattr__(self, "compact_to", check_compact_to(self.compact_to))
        if self.cacheable_tools is not None and not isinstance(self.cacheable_tools, Mapping):
            msg = f"cacheable_tools must map tool names to seconds, got {self.cacheable_tools!r}"
            raise TokenOptConfigError(msg)
        if self.prefix_stable is not None and not isinstance(self.prefix_stable, bool):
            msg = f"prefix_stable must be True, False or None, got {self.prefix_stable!r}"
            raise TokenOptConfigError(msg)
        _check_step("cache", self.cache, (BaseCache, ResponseCache), "a BaseCache, None or False")
        _check_step(
            "tool_selector", self.tool_selector, (ToolSelectorLike,), "have select(messages)"
        )
        _check_step(
            "compressor",
            self.compressor,
            (PromptAssembler, QueryAwareCompressor, PromptFitter),
            "a PromptAssembler, a QueryAwareCompressor or a callable",
        )
        _check_step(
            "context_optimizer",
            self.context_optimizer,
            (HistoryOptimizer,),
            "a Runnable over messages",
        )
        _check_step("monitor", self.monitor, (StepMonitor,), "a TokenOptCallbackHandler")

    def with_settings(self, **settings: Unpack[OptimizerSettings]) -> OptimizerOptions:
        """Return a copy with some settings replaced (validated again).

        Raises:
            TokenOptConfigError: an unknown setting or an invalid value.
        """
        known = {f.name for f in fields(self)}
        unknown = sorted(set(settings) - known)
        if unknown:
            msg = f"unknown optimizer settings {unknown}; known: {sorted(known)}"
            raise TokenOptConfigError(msg)
        return replace(self, **settings) if settings else self


def _check_step(name: str, value: object, kinds: tuple[type, ...], expected: str) -> None:
    # ``True`` is read as "the default" (what older code passed), like ``None``.
    if value is None or isinstance(value, (bool, *kinds)):
        return
    msg = f"{name} must be {expected}, got {type(value).__name__}"
    raise TokenOptConfigError(msg)
