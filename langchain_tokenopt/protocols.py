"""The typed seams between the optimized agent and its steps.

The graph (:func:`~langchain_tokenopt.build_optimized_agent`) and the middleware
(:class:`~langchain_tokenopt.graph.middleware.TokenOptMiddleware`) call their steps only
through these protocols, so a step can be replaced by any object of the right shape, and a
type checker says when one is not. The components implement them without importing this
module (structural typing); this module imports no component at run time, so anything can
import it without pulling in the graph.

* :class:`ResponseCache`: look a request up by its typed key, store an answer (sync and
  async); :class:`~langchain_tokenopt.SemanticCache` is one, and the graph wraps a plain
  LangChain ``BaseCache`` into one.
* :class:`ToolSelectorLike`: choose the tools of a model call
  (:class:`~langchain_tokenopt.ToolSelector` is one).
* :class:`PromptFitter`: ``(system_prompt, question) -> str``
  (:class:`~langchain_tokenopt.compression.module_fitter.ModuleFitter` is one).
* :class:`HistoryOptimizer`: a runnable over messages
  (:class:`~langchain_tokenopt.ContextOptimizer` is one).
* :class:`StepMonitor`: receives step reports and cache hits
  (:class:`~langchain_tokenopt.TokenOptCallbackHandler` is one).
* :class:`StepEvent`: what one step did to one request (the record every step reports,
  through :class:`~langchain_tokenopt.monitoring.StepRecorder`).

Example:
    .. code-block:: python

        from langchain_tokenopt.protocols import PromptFitter

        def first_paragraph(system_prompt: object, question: str) -> str:
            return str(system_prompt)[:2000]

        fitter: PromptFitter = first_paragraph
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    Literal,
    NotRequired,
    Protocol,
    TypedDict,
    Unpack,
    get_args,
    runtime_checkable,
)

from langchain_tokenopt.errors import TokenOptConfigError

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langchain_core.outputs import Generation

    from langchain_tokenopt.cache.keys import RequestKey
    from langchain_tokenopt.tools.records import ToolSelection

__all__ = [
    "CACHE_LAYERS",
    "STEP_NAMES",
    "CacheAnswer",
    "CacheHitReport",
    "CacheLayer",
    "HistoryOptimizer",
    "PromptFitter",
    "ResponseCache",
    "StepEvent",
    "StepMonitor",
    "StepName",
    "ToolSelectorLike",
]

#: Which path of the response cache answered: the exact fast path or the vector search.
CacheLayer = Literal["exact", "semantic"]
#: The optimizer steps a request can pass through.
StepName = Literal["cache", "tool_selection", "compression", "context"]

#: The optimizer steps a request can pass through, in pipeline order.
STEP_NAMES: tuple[StepName, ...] = get_args(StepName)
#: The response-cache layers.
CACHE_LAYERS: tuple[CacheLayer, ...] = get_args(CacheLayer)


@dataclass(frozen=True, slots=True)
class StepEvent:
    """What one optimizer step did to one request (reported by the graph node that ran it).

    Example:
        .. code-block:: python

            StepEvent(step="tool_selection", tokens_before=5000, tokens_after=900,
                      latency_ms=4.0, tools_bound=3, tools_catalog=40)
    """

    step: StepName
    """Which optimizer step ran: ``cache``, ``tool_selection``, ``compression`` or ``context``."""
    tokens_before: int
    """Prompt tokens this step received (for ``cache``: the prompt looked up)."""
    tokens_after: int
    """Prompt tokens it passed on (for a ``cache`` hit: 0, nothing goes to the model)."""
    latency_ms: float = 0.0
    """Wall time the step took, in milliseconds (optimizer overhead)."""
    error: str | None = None
    """Exception type name when the step failed open and passed the request through."""
    cache_hit: bool | None = None
    """For ``cache`` steps: whether the lookup hit."""
    cache_layer: CacheLayer | None = None
    """For ``cache`` hits: ``exact`` or ``semantic``."""
    tools_bound: int | None = None
    """For ``tool_selection``: tools bound to the model after selection."""
    tools_catalog: int | None = None
    """For ``tool_selection``: size of the whole tool catalog."""

    def __post_init__(self) -> None:
        if self.step not in STEP_NAMES:
            msg = f"StepEvent.step must be one of {STEP_NAMES}, got {self.step!r}"
            raise TokenOptConfigError(msg)
        if self.tokens_before < 0 or self.tokens_after < 0:
            msg = "StepEvent token counts must be >= 0"
            raise TokenOptConfigError(msg)
        if self.cache_layer is not None and self.cache_layer not in CACHE_LAYERS:
            msg = f"StepEvent.cache_layer must be one of {CACHE_LAYERS} or None"
            raise TokenOptConfigError(msg)

    @property
    def tokens_saved(self) -> int:
        """Prompt tokens removed by this step (never negative)."""
        return max(0, self.tokens_before - self.tokens_after)


@dataclass(frozen=True, kw_only=True)
class CacheAnswer:
    """What a :class:`ResponseCache` found for one request.

    Example:
        .. code-block:: python

            answer = cache.lookup_request(key)
            if answer.generations:
                print(answer.layer, answer.generations[0].text)
    """

    generations: list[Generation] | None = None
    """The cached generations, or ``None`` on a miss."""
    layer: CacheLayer | None = None
    """The path that served them (``None`` on a miss)."""


@runtime_checkable
class ResponseCache(Protocol):
    """A response cache addressed by a typed :class:`~langchain_tokenopt.cache.keys.RequestKey`.

    ``update_request`` returns whether the answer was accepted: a cache that cannot give one
    entry its own lifetime refuses an answer that needs one (``ttl`` set).

    Example:
        .. code-block:: python

            from langchain_tokenopt import SemanticCache
            from langchain_tokenopt.protocols import ResponseCache

            cache: ResponseCache = SemanticCache()
    """

    def lookup_request(self, key: RequestKey, /) -> CacheAnswer:
        """Return the cached answer for ``key`` (a miss has ``generations=None``)."""
        ...

    async def alookup_request(self, key: RequestKey, /) -> CacheAnswer:
        """Async :meth:`lookup_request`."""
        ...

    def update_request(
        self, key: RequestKey, generations: Sequence[Generation], /, *, ttl: float | None = None
    ) -> bool:
        """Store ``generations`` for ``key``; return whether the cache accepted them."""
        ...

    async def aupdate_request(
        self, key: RequestKey, generations: Sequence[Generation], /, *, ttl: float | None = None
    ) -> bool:
        """Async :meth:`update_request`."""
        ...


@runtime_checkable
class ToolSelectorLike(Protocol):
    """Chooses the tools bound to the next model call of a conversation.

    A :class:`~langchain_tokenopt.ToolSelector` also keeps the thread's working set and
    trims by score itself; any other selector's choice is trimmed with
    :func:`~langchain_tokenopt.tools.margin.trim_by_margin`.

    Example:
        .. code-block:: python

            from langchain_tokenopt.protocols import ToolSelectorLike

            selector: ToolSelectorLike = ToolSelector.from_tools(tools)
    """

    def select(self, conversation: list[BaseMessage], /) -> ToolSelection:
        """Return the tools to bind for the conversation's next model call."""
        ...


@runtime_checkable
class PromptFitter(Protocol):
    """Fits the system prompt to one question: ``(system_prompt, question) -> str``.

    Example:
        .. code-block:: python

            from langchain_tokenopt.protocols import PromptFitter

            fitter: PromptFitter = lambda prompt, question: str(prompt)[:2000]
    """

    def __call__(self, system_prompt: Any, question: str, /) -> str:
        """Return the system prompt to send for ``question``."""
        ...


@runtime_checkable
class HistoryOptimizer(Protocol):
    """Turns the conversation into the view sent to the model (any ``Runnable`` over messages).

    Example:
        .. code-block:: python

            from langchain_tokenopt.protocols import HistoryOptimizer

            optimizer: HistoryOptimizer = ContextOptimizer(max_tokens=3000)
    """

    def invoke(self, messages: list[BaseMessage], /) -> Any:
        """Return the optimized messages."""
        ...

    async def ainvoke(self, messages: list[BaseMessage], /) -> Any:
        """Async :meth:`invoke`."""
        ...


class CacheHitReport(TypedDict):
    """What a :class:`StepMonitor` records of a request the response cache answered.

    The keywords of ``record_cache_hit`` (the monitor's, the step recorder's ``cache_hit``).

    Example:
        .. code-block:: python

            hit: CacheHitReport = {"layer": "exact", "prompt_tokens": 900, "output_tokens": 20}
            monitor.record_cache_hit("request-1", **hit)
    """

    layer: CacheLayer | None
    """Which path answered (``exact`` or ``semantic``; ``None``: a cache that does not say)."""
    prompt_tokens: int
    """Tokens of the prompt that was looked up."""
    output_tokens: int
    """Tokens of the cached answer (what the model would have produced)."""
    lookup_latency_ms: NotRequired[float]
    """Cache lookup time in milliseconds (default 0)."""
    model: NotRequired[str | None]
    """Model that would have been called (for the counterfactual cost)."""
    provider: NotRequired[str | None]
    """Its provider."""
    tenant_id: NotRequired[str | None]
    """Tenant, if known."""
    user_id: NotRequired[str | None]
    """User, if known."""


@runtime_checkable
class StepMonitor(Protocol):
    """Receives the figures of every optimizer step and of every cache hit.

    Example:
        .. code-block:: python

            from langchain_tokenopt.protocols import StepMonitor

            monitor: StepMonitor = TokenOptCallbackHandler()
    """

    def record_step(self, request_id: str, event: StepEvent) -> None:
        """Attach one optimizer step's figures to request ``request_id``."""
        ...

    def record_cache_hit(self, request_id: str, **hit: Unpack[CacheHitReport]) -> Any:
        """Record a request answered from the response cache (:class:`CacheHitReport`)."""
        ...
