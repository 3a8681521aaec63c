"""Price requests in USD: actual cost, cost without optimization, and savings per step.

Prices come from ``genai-prices``' bundled data (no network: the package's auto-update is
never started) unless a user price table overrides them. An unknown model is *unpriced*:
its USD fields stay ``None`` and it lowers the pricing-coverage figure; it is never $0.

Savings are attributed step by step, from the actual cost upwards:

1. ``prompt_cache``: provider cache reads / writes billed at the normal input rate instead;
2. ``compression``, ``context``, ``tool_selection``: the prompt tokens each step removed,
   added back at the normal input rate;
3. ``response_cache``: on a cache hit the actual cost is 0 and the whole counterfactual is
   the cache's saving.

So ``sum(savings) == counterfactual - actual`` for every priced request.

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring import ModelPrice, Pricer

        pricer = Pricer(overrides={"my-model": ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)})
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_tokenopt.errors import MissingDependencyError, TokenOptConfigError
from langchain_tokenopt.monitoring.records import CostBreakdown, RequestRecord, TokenUsage

logger = logging.getLogger(__name__)

__all__ = ["ModelPrice", "PriceTier", "Pricer", "cost_of_usage", "price_record"]

_MTOK = 1_000_000.0
# LangChain ``ls_provider`` values -> genai-prices provider ids.
_PROVIDER_ALIASES = {
    "google_genai": "google",
    "google_vertexai": "google",
    "vertexai": "google",
    "azure_openai": "azure",
    "bedrock": "aws",
    "amazon_bedrock": "aws",
    "mistralai": "mistral",
    "together": "together",
    "fireworks": "fireworks",
}


@dataclass(frozen=True, slots=True)
class PriceTier:
    """Rates that apply to a whole request once its prompt reaches ``threshold`` tokens.

    Example:
        .. code-block:: python

            PriceTier(threshold=128_000, input_per_mtok=2.5, output_per_mtok=10.0)
    """

    threshold: int
    """Prompt size (input tokens) from which these rates apply to all tokens."""
    input_per_mtok: float
    """USD per million uncached input tokens."""
    output_per_mtok: float
    """USD per million output tokens."""
    cache_read_per_mtok: float | None = None
    """USD per million cache-read tokens (``None``: the input rate)."""
    cache_write_per_mtok: float | None = None
    """USD per million cache-write tokens (``None``: the input rate)."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD prices of one model, per million tokens (a user price-table entry).

    Example:
        .. code-block:: python

            ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0, cache_read_per_mtok=0.3,
                       cache_write_per_mtok=3.75)
    """

    input_per_mtok: float
    """USD per million uncached input tokens."""
    output_per_mtok: float
    """USD per million output tokens."""
    cache_read_per_mtok: float | None = None
    """USD per million prompt-cache read tokens (``None``: the input rate)."""
    cache_write_per_mtok: float | None = None
    """USD per million prompt-cache write tokens (``None``: the input rate)."""
    tiers: tuple[PriceTier, ...] = ()
    """Cliff tiers by prompt size, ascending thresholds (optional)."""

    def __post_init__(self) -> None:
        rates = [self.input_per_mtok, self.output_per_mtok]
        rates += [r for r in (self.cache_read_per_mtok, self.cache_write_per_mtok) if r is not None]
        if any(r < 0 for r in rates):
            msg = "ModelPrice rates must be >= 0 USD per million tokens"
            raise TokenOptConfigError(msg)

    def rates_for(self, input_tokens: int) -> tuple[float, float, float, float]:
        """Per-token USD rates (input, output, cache_read, cache_write) for a prompt size."""
        inp, out = self.input_per_mtok, self.output_per_mtok
        read, write = self.cache_read_per_mtok, self.cache_write_per_mtok
        for tier in self.tiers:
            if input_tokens >= tier.threshold:
                inp, out = tier.input_per_mtok, tier.output_per_mtok
                read = tier.cache_read_per_mtok if tier.cache_read_per_mtok is not None else read
                write = (
                    tier.cache_write_per_mtok if tier.cache_write_per_mtok is not None else write
                )
        read = inp if read is None else read
        write = inp if write is None else write
        return inp / _MTOK, out / _MTOK, read / _MTOK, write / _MTOK


def cost_of_usage(price: ModelPrice, usage: TokenUsage, *, prompt_cache: bool = True) -> float:
    """USD cost of ``usage`` at ``price``.

    Args:
        price: The model's prices.
        usage: Token usage (``input_tokens`` includes cached tokens).
        prompt_cache: If ``False``, price cache reads / writes as normal input tokens.

    Returns:
        The cost in USD.
    """
    inp, out, read, write = price.rates_for(usage.input_tokens)
    if not prompt_cache:
        return usage.input_tokens * inp + usage.output_tokens * out
    return (
        usage.uncached_input_tokens * inp
        + usage.cache_read_tokens * read
        + usage.cache_creation_tokens * write
        + usage.output_tokens * out
    )


def price_record(record: RequestRecord, price: ModelPrice | None, source: str) -> CostBreakdown:
    """Compute actual, counterfactual and per-step savings for one record (pure).

    Args:
        record: The request.
        price: Its model's prices, or ``None`` when unknown.
        source: Where ``price`` came from (``user`` or ``genai-prices``).

    Returns:
        The breakdown; unpriced (all ``None``) when ``price`` or the usage is missing.
    """
    usage = record.usage
    if price is None or usage is None:
        return CostBreakdown(priced=False)
    savings: dict[str, float] = dict.fromkeys(
        ("response_cache", "tool_selection", "compression", "context", "prompt_cache"), 0.0
    )
    actual = cost_of_usage(price, usage)
    no_prompt_cache = cost_of_usage(price, usage, prompt_cache=False)
    savings["prompt_cache"] = no_prompt_cache - actual
    running_input = usage.input_tokens
    previous = no_prompt_cache
    for name in ("compression", "context", "tool_selection"):
        removed = sum(e.tokens_saved for e in record.steps if e.step == name)
        if not removed:
            continue
        running_input += removed
        grown = TokenUsage(input_tokens=running_input, output_tokens=usage.output_tokens)
        cost = cost_of_usage(price, grown, prompt_cache=False)
        savings[name] = cost - previous
        previous = cost
    counterfactual = previous
    if not record.llm_called:
        # Answered from the response cache: nothing was paid, the cache saved everything.
        savings = dict.fromkeys(savings, 0.0)
        savings["response_cache"] = counterfactual
        actual = 0.0
    return CostBreakdown(
        priced=True,
        actual_usd=actual,
        counterfactual_usd=counterfactual,
        savings_usd=savings,
        price_source=source,
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _from_genai(model_price: Any) -> ModelPrice:
    """Convert a ``genai_prices`` ``ModelPrice`` (Decimals or tiered) into ours."""
    units = {
        "input": getattr(model_price, "input_mtok", None),
        "output": getattr(model_price, "output_mtok", None),
        "cache_read": getattr(model_price, "cache_read_mtok", None),
        "cache_write": getattr(model_price, "cache_write_mtok", None),
    }
    base: dict[str, float | None] = {}
    thresholds: set[int] = set()
    for key, value in units.items():
        if value is not None and hasattr(value, "base"):
            base[key] = float(value.base)
            thresholds.update(int(t.start) for t in value.tiers)
        else:
            base[key] = _float(value)

    def at(key: str, threshold: int) -> float | None:
        value = units[key]
        if value is None or not hasattr(value, "base"):
            return base[key]
        rate = float(value.base)
        for tier in value.tiers:
            if threshold >= tier.start:
                rate = float(tier.price)
        return rate

    tiers = tuple(
        PriceTier(
            threshold=t,
            input_per_mtok=at("input", t) or 0.0,
            output_per_mtok=at("output", t) or 0.0,
            cache_read_per_mtok=at("cache_read", t),
            cache_write_per_mtok=at("cache_write", t),
        )
        for t in sorted(thresholds)
    )
    return ModelPrice(
        input_per_mtok=base["input"] or 0.0,
        output_per_mtok=base["output"] or 0.0,
        cache_read_per_mtok=base["cache_read"],
        cache_write_per_mtok=base["cache_write"],
        tiers=tiers,
    )


class Pricer:
    """Find a model's prices (user table first, then ``genai-prices``) and price records.

    Lookups are cached per (model, provider). Thread-safe.

    Args:
        overrides: Price table keyed by model name or ``"provider:model"``; wins over
            ``genai-prices``.
        use_genai_prices: Look models up in ``genai-prices``' bundled data (extra
            ``monitoring``). With ``False`` only ``overrides`` are priced. Without the
            extra installed, the first lookup logs one warning naming it and the pricer
            goes on with ``overrides`` only.

    Example:
        .. code-block:: python

            free = ModelPrice(input_per_mtok=0.0, output_per_mtok=0.0)
            pricer = Pricer(overrides={"local-smollm2": free})
            cost = pricer.price(record)
    """

    def __init__(
        self,
        *,
        overrides: Mapping[str, ModelPrice] | None = None,
        use_genai_prices: bool = True,
    ) -> None:
        table = dict(overrides or {})
        for key, value in table.items():
            if not isinstance(value, ModelPrice):
                msg = f"overrides[{key!r}] must be a ModelPrice, got {type(value).__name__}"
                raise TokenOptConfigError(msg)
        self._overrides = table
        self._use_genai = use_genai_prices
        self._cache: dict[tuple[str, str | None], tuple[ModelPrice | None, str]] = {}
        self._lock = threading.Lock()

    def lookup(
        self, model: str | None, provider: str | None = None
    ) -> tuple[ModelPrice | None, str]:
        """Return ``(price or None, source)`` for a model."""
        if not model:
            return None, "unpriced"
        key = (model, provider)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        found = self._lookup_uncached(model, provider)
        with self._lock:
            self._cache[key] = found
        return found

    def _lookup_uncached(self, model: str, provider: str | None) -> tuple[ModelPrice | None, str]:
        for name in (f"{provider}:{model}" if provider else None, model):
            if name is not None and name in self._overrides:
                return self._overrides[name], "user"
        if not self._use_genai:
            return None, "unpriced"
        try:
            from genai_prices import Usage, calc_price
        except ImportError:
            self._genai_missing()
            return None, "unpriced"
        provider_id = _PROVIDER_ALIASES.get(provider or "", provider)
        for pid in (provider_id, None) if provider_id else (None,):
            try:
                result = calc_price(Usage(input_tokens=1, output_tokens=1), model, provider_id=pid)
                return _from_genai(result.model_price), "genai-prices"
            except LookupError:
                continue
            except Exception:  # pricing must never break monitoring
                logger.debug("genai-prices failed for %s/%s", pid, model, exc_info=True)
        return None, "unpriced"

    def _genai_missing(self) -> None:
        """Price from ``overrides`` only from now on, saying so once (not per record)."""
        with self._lock:
            if not self._use_genai:
                return
            self._use_genai = False
        logger.warning(
            "tokenopt monitoring: %s; costs are left unpriced except for models in"
            " Pricer(overrides=...)",
            MissingDependencyError("genai-prices", extra="monitoring"),
        )

    def price(self, record: RequestRecord) -> CostBreakdown:
        """Price one record (see :func:`price_record`)."""
        price, source = self.lookup(record.model, record.provider)
        return price_record(record, price, source)
