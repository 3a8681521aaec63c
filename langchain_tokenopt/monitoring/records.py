"""Typed records the monitoring handler writes: one :class:`RequestRecord` per LLM request.

Token conventions follow LangChain's ``usage_metadata``: ``input_tokens`` is the *whole*
prompt, cached parts included; ``cache_read_tokens`` and ``cache_creation_tokens`` are
subsets of it, and ``reasoning_tokens`` is a subset of ``output_tokens``. Nothing is ever
added twice: uncached prompt tokens are ``input_tokens - cache_read - cache_creation``.

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring import StepEvent

        event = StepEvent(step="compression", tokens_before=1200, tokens_after=400, latency_ms=3.1)
        assert event.tokens_saved == 800
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from langchain_tokenopt.protocols import CACHE_LAYERS, STEP_NAMES, CacheLayer, StepEvent, StepName

__all__ = [
    "CACHE_LAYERS",
    "SAVINGS_KEYS",
    "STEP_NAMES",
    "CacheLayer",
    "CostBreakdown",
    "RequestRecord",
    "SavingsKey",
    "StepEvent",
    "StepName",
    "TokenUsage",
    "record_from_dict",
    "record_from_json",
    "record_to_dict",
    "record_to_json",
]

SavingsKey = Literal["response_cache", "tool_selection", "compression", "context", "prompt_cache"]

#: The keys of :attr:`CostBreakdown.savings_usd` (and of token savings in summaries).
SAVINGS_KEYS: tuple[SavingsKey, ...] = get_args(SavingsKey)


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Token usage reported by the provider, in LangChain ``usage_metadata`` convention.

    Example:
        .. code-block:: python

            u = TokenUsage(input_tokens=1000, output_tokens=50, cache_read_tokens=800)
            assert u.uncached_input_tokens == 200 and u.total_tokens == 1050
    """

    input_tokens: int = 0
    """All prompt tokens, cached ones included."""
    output_tokens: int = 0
    """All completion tokens, reasoning included."""
    cache_read_tokens: int = 0
    """Prompt tokens read from the provider's prompt cache (subset of ``input_tokens``)."""
    cache_creation_tokens: int = 0
    """Prompt tokens written to the provider's prompt cache (subset of ``input_tokens``)."""
    reasoning_tokens: int = 0
    """Reasoning tokens (subset of ``output_tokens``)."""

    @property
    def uncached_input_tokens(self) -> int:
        """Prompt tokens billed at the normal input rate."""
        return max(0, self.input_tokens - self.cache_read_tokens - self.cache_creation_tokens)

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens (cached tokens counted once, inside input)."""
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Cost of one request in USD, priced off the request path by the store's writer.

    Example:
        .. code-block:: python

            CostBreakdown(priced=False)  # unknown model: no figures, never $0
    """

    priced: bool
    """Whether a price was found; ``False`` means every USD field is ``None``."""
    actual_usd: float | None = None
    """What the request cost (0 for a response-cache hit)."""
    counterfactual_usd: float | None = None
    """What it would have cost with no optimization at all."""
    savings_usd: dict[str, float] = field(default_factory=dict)
    """Savings per :data:`SAVINGS_KEYS` entry; they add up to counterfactual - actual."""
    price_source: str | None = None
    """``user`` (price-table override) or ``genai-prices``."""
    counterfactual_cached_usd: float | None = None
    """What the unoptimized request would have cost a user who already has the provider's
    prompt caching, with a warm cache (see :func:`~langchain_tokenopt.monitoring.price_record`);
    equal to ``counterfactual_usd`` for a provider without prompt caching."""
    net_savings_usd: dict[str, float] = field(default_factory=dict)
    """Savings per step against that cached baseline: each step's saving net of the provider
    cache reads its rewrite destroyed (may be negative). Keys: ``response_cache``,
    ``tool_selection``, ``compression``, ``context``; they add up to
    ``counterfactual_cached_usd - actual_usd``."""
    priced_as: str | None = None
    """The hosted model whose prices were applied when it is not the record's own model
    (``TokenOptCallbackHandler(price_as=...)``)."""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One LLM request as seen by :class:`~langchain_tokenopt.monitoring.TokenOptCallbackHandler`.

    Example:
        .. code-block:: python

            from langchain_tokenopt.monitoring import MemoryMetricsStore, TokenOptCallbackHandler

            handler = TokenOptCallbackHandler(store=MemoryMetricsStore())
            # model.invoke("hi", config={"callbacks": [handler]})
            records = handler.store.records()
    """

    request_id: str
    """The graph's ``tokenopt_request_id`` if given, else the LangChain run id."""
    timestamp: float
    """Unix time (seconds) when the request finished."""
    model: str | None = None
    """Model name as reported by the chat model (``ls_model_name`` / response metadata)."""
    provider: str | None = None
    """Provider (``ls_provider``), e.g. ``openai``, ``anthropic``."""
    tenant_id: str | None = None
    """``metadata["tenant_id"]`` of the run."""
    user_id: str | None = None
    """``metadata["user_id"]`` of the run."""
    steps: tuple[StepEvent, ...] = ()
    """Optimizer steps reported for this request, in the order they were reported."""
    usage: TokenUsage | None = None
    """Provider usage; ``None`` when unavailable (then ``usage_available`` is ``False``).

    For a response-cache hit: the usage the cached answer had, i.e. what the call would
    have used (nothing was paid; see :attr:`llm_called`)."""
    usage_available: bool = False
    """``False`` when the model (e.g. a stream without ``stream_usage``) reported no usage."""
    llm_called: bool = True
    """``False`` when the response came from the response cache."""
    cache_hit: bool = False
    """Whether the response cache answered the request."""
    cache_layer: CacheLayer | None = None
    """Which cache layer hit: ``exact`` or ``semantic``."""
    tools_bound: int | None = None
    """Tools bound to the model for this call."""
    tools_catalog: int | None = None
    """Size of the tool catalog before selection."""
    llm_latency_ms: float = 0.0
    """Model call (or cache lookup inside the model) wall time, milliseconds."""
    optimizer_latency_ms: float = 0.0
    """Sum of the steps' latencies, milliseconds."""
    latency_ms: float = 0.0
    """End to end: ``llm_latency_ms + optimizer_latency_ms``."""
    ttft_ms: float | None = None
    """Time to first streamed token, milliseconds (streams only)."""
    streamed: bool = False
    """Whether tokens were streamed."""
    error_type: str | None = None
    """Exception type name when the model call failed."""
    cost: CostBreakdown | None = None
    """Filled in by the store's writer thread (off the request path)."""
    price_as: str | None = None
    """Hosted model to price this request as (a local model has no price), set by
    ``TokenOptCallbackHandler(price_as=...)``; ``None``: priced as :attr:`model`."""

    def step(self, name: StepName) -> StepEvent | None:
        """Return the last reported event of step ``name``, or ``None``."""
        for event in reversed(self.steps):
            if event.step == name:
                return event
        return None

    def tokens_saved_by_step(self) -> dict[str, int]:
        """Prompt tokens saved per step (``cache`` counts the whole request on a hit)."""
        saved: dict[str, int] = dict.fromkeys(STEP_NAMES, 0)
        for event in self.steps:
            if event.step != "cache":
                saved[event.step] += event.tokens_saved
        if self.cache_hit:
            saved["cache"] = self.counterfactual_tokens()
        return saved

    def counterfactual_input_tokens(self) -> int:
        """Prompt tokens the model would have seen with no optimizer step."""
        reduced = sum(e.tokens_saved for e in self.steps if e.step != "cache")
        if self.usage is not None:
            return self.usage.input_tokens + reduced
        cache = self.step("cache")
        return (cache.tokens_before if cache is not None else 0) + reduced

    def counterfactual_tokens(self) -> int:
        """Input plus output tokens with no optimization (0 when unknown)."""
        output = self.usage.output_tokens if self.usage is not None else 0
        return self.counterfactual_input_tokens() + output

    def actual_tokens(self) -> int:
        """Tokens actually sent to and produced by the model (0 for a cache hit)."""
        if not self.llm_called or self.usage is None:
            return 0
        return self.usage.total_tokens


def _plain(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


def record_to_dict(record: RequestRecord) -> dict[str, Any]:
    """Turn a record into plain JSON-able data (fast: no deep copy)."""
    data = _plain(record)
    data["steps"] = [_plain(step) for step in record.steps]
    data["usage"] = None if record.usage is None else _plain(record.usage)
    if record.cost is not None:
        cost = _plain(record.cost)
        cost["savings_usd"] = dict(record.cost.savings_usd)
        cost["net_savings_usd"] = dict(record.cost.net_savings_usd)
        data["cost"] = cost
    return data


def record_to_json(record: RequestRecord) -> str:
    """Serialize a record as compact JSON."""
    return json.dumps(record_to_dict(record), separators=(",", ":"))


def record_from_dict(data: dict[str, Any]) -> RequestRecord:
    """Rebuild a record from :func:`record_to_dict` output."""
    data = dict(data)
    data["steps"] = tuple(StepEvent(**s) for s in data.get("steps") or ())
    usage = data.get("usage")
    data["usage"] = TokenUsage(**usage) if usage else None
    cost = data.get("cost")
    data["cost"] = CostBreakdown(**cost) if cost else None
    return RequestRecord(**data)


def record_from_json(text: str | bytes) -> RequestRecord:
    """Parse a record serialized by :func:`record_to_json`."""
    return record_from_dict(json.loads(text))
