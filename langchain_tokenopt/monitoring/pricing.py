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

Those savings are against a user who does **not** cache prompts. Against one who does
(``net_savings_usd``, the *cached baseline*), each step's saving is net of the provider cache
reads its rewrite destroyed. The unoptimized agent sends the same tools, system prompt and
history prefix on every call, so a caching provider would read them from its cache (the
baseline is taken warm: every prompt token a step received is a cache read, which makes the
net saving a lower bound). For a step that received ``before`` tokens and passed on
``after``, of which the request actually read the share ``r = cache_read / input`` from the
provider's cache::

    lost_reads = after * (1 - r)          # sent tokens billed in full that the baseline read
    net = (before - after) * read_rate - lost_reads * (input_rate - read_rate)

``read_rate`` is the provider's cache-read price (``effective_price``); it applies only to a
provider with prompt caching (:func:`~langchain_tokenopt.monitoring.caching_provider`) and a
prompt of at least its minimum cacheable length, else ``net == gross``. On a response-cache
hit the net saving is the warm cached cost of the whole request. The net savings add up to
``counterfactual_cached_usd - actual_usd``.

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring import ModelPrice, Pricer

        pricer = Pricer(overrides={"my-model": ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)})
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from langchain_tokenopt.errors import MissingDependencyError, TokenOptConfigError
from langchain_tokenopt.monitoring.provider_rules import (
    CachingRules,
    caching_provider,
    caching_rules,
)
from langchain_tokenopt.monitoring.records import CostBreakdown, RequestRecord, TokenUsage

logger = logging.getLogger(__name__)

__all__ = [
    "NET_SAVINGS_KEYS",
    "ModelPrice",
    "PriceTier",
    "Pricer",
    "cost_of_usage",
    "effective_price",
    "price_record",
    "rules_for",
]

#: Keys of :attr:`CostBreakdown.net_savings_usd` (savings against the cached baseline).
NET_SAVINGS_KEYS = ("response_cache", "tool_selection", "compression", "context")
_REWRITING_STEPS = ("compression", "context", "tool_selection")

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


def _fill(rate: float | None, input_rate: float, multiplier: float) -> float:
    return input_rate * multiplier if rate is None else rate


def effective_price(price: ModelPrice, rules: CachingRules) -> ModelPrice:
    """``price`` with its cache rates filled in from ``rules`` where the table has none.

    Example:
        .. code-block:: python

            billed = effective_price(ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0),
                                     caching_rules("anthropic", "claude-sonnet-4-5"))
            billed.cache_read_per_mtok  # 0.3
    """

    def write(rate: float | None, input_rate: float) -> float:
        table = rate if rules.table_write_price else None
        return _fill(table, input_rate, rules.write_multiplier)

    tiers = tuple(
        replace(
            t,
            cache_read_per_mtok=_fill(
                t.cache_read_per_mtok, t.input_per_mtok, rules.read_multiplier
            ),
            cache_write_per_mtok=write(t.cache_write_per_mtok, t.input_per_mtok),
        )
        for t in price.tiers
    )
    return ModelPrice(
        input_per_mtok=price.input_per_mtok,
        output_per_mtok=price.output_per_mtok,
        cache_read_per_mtok=_fill(
            price.cache_read_per_mtok, price.input_per_mtok, rules.read_multiplier
        ),
        cache_write_per_mtok=write(price.cache_write_per_mtok, price.input_per_mtok),
        tiers=tiers,
    )


def rules_for(model: str | None, provider: str | None) -> CachingRules | None:
    """The prompt-caching rules of a model's provider, or ``None`` when it has none.

    Example:
        .. code-block:: python

            rules_for("gpt-4o", "openai").min_prefix_tokens  # 1024
            rules_for("local-smollm2", None)  # None
    """
    if not model:
        return None
    try:
        return caching_rules(caching_provider(provider, model), model)
    except TokenOptConfigError:
        return None


def _net_savings(
    record: RequestRecord, price: ModelPrice, rules: CachingRules | None
) -> dict[str, float]:
    """Savings per step against the warm cached baseline (see the module docstring)."""
    usage = record.usage
    assert usage is not None
    net = dict.fromkeys(NET_SAVINGS_KEYS, 0.0)
    cf_input = record.counterfactual_input_tokens()
    cacheable = rules is not None and cf_input >= rules.min_prefix_tokens
    billed = effective_price(price, rules) if rules is not None else price
    inp, out, read, _ = billed.rates_for(cf_input)
    read = read if cacheable else inp
    if not record.llm_called:
        net["response_cache"] = cf_input * read + usage.output_tokens * out
        return net
    share = usage.cache_read_tokens / usage.input_tokens if usage.input_tokens else 0.0
    for event in record.steps:
        if event.step not in _REWRITING_STEPS:
            continue
        lost_reads = event.tokens_after * (1.0 - share)
        net[event.step] += event.tokens_saved * read - lost_reads * (inp - read)
    return net


def price_record(
    record: RequestRecord,
    price: ModelPrice | None,
    source: str,
    *,
    rules: CachingRules | None = None,
    priced_as: str | None = None,
) -> CostBreakdown:
    """Compute actual, counterfactual and per-step savings for one record (pure).

    Args:
        record: The request.
        price: Its model's prices, or ``None`` when unknown.
        source: Where ``price`` came from (``user`` or ``genai-prices``).
        rules: The provider's prompt-caching rules, for the savings against the cached
            baseline (``None``: a provider without prompt caching, net equals gross).
        priced_as: The hosted model ``price`` belongs to, when not the record's own.

    Returns:
        The breakdown; unpriced (all ``None``) when ``price`` or the usage is missing.

    Example:
        .. code-block:: python

            price = ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0)
            cost = price_record(record, price, "user",
                                rules=caching_rules("anthropic", "claude-sonnet-4-5"))
            cost.savings_usd["compression"], cost.net_savings_usd["compression"]
    """
    usage = record.usage
    if price is None or usage is None:
        return CostBreakdown(priced=False, priced_as=priced_as)
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
    net = _net_savings(record, price, rules)
    return CostBreakdown(
        priced=True,
        actual_usd=actual,
        counterfactual_usd=counterfactual,
        savings_usd=savings,
        price_source=source,
        counterfactual_cached_usd=actual + sum(net.values()),
        net_savings_usd=net,
        priced_as=priced_as,
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

    def require(self, model: str) -> ModelPrice:
        """Return ``model``'s prices, or raise when neither table knows it.

        Args:
            model: A model name, e.g. ``"claude-sonnet-4-5"``.

        Returns:
            Its prices.

        Raises:
            TokenOptConfigError: No price is known for ``model`` (or ``genai-prices`` is not
                installed and ``overrides`` lack it).
        """
        if not isinstance(model, str) or not model.strip():
            msg = f"a model name to price as must be a non-empty string, got {model!r}"
            raise TokenOptConfigError(msg)
        price, _ = self.lookup(model)
        if price is None:
            where = "genai-prices' data" if self._use_genai else "Pricer(overrides=...)"
            msg = (
                f"no price is known for model {model!r} in {where}; use a hosted model name"
                " genai-prices knows, e.g. 'claude-sonnet-4-5', 'gpt-4o' or 'gpt-4.1'"
            )
            raise TokenOptConfigError(msg)
        return price

    def price(self, record: RequestRecord) -> CostBreakdown:
        """Price one record (see :func:`price_record`).

        A record with :attr:`~RequestRecord.price_as` is priced as that model, under its
        provider's caching rules (guessed from the name).
        """
        if record.price_as:
            price, source = self.lookup(record.price_as)
            rules = rules_for(record.price_as, None)
            return price_record(record, price, source, rules=rules, priced_as=record.price_as)
        price, source = self.lookup(record.model, record.provider)
        return price_record(record, price, source, rules=rules_for(record.model, record.provider))

    def price_as(self, records: list[RequestRecord], model: str) -> list[RequestRecord]:
        """``records`` re-priced as hosted ``model`` (their stored costs replaced).

        Args:
            records: The records.
            model: A model name this pricer knows (checked first).

        Returns:
            New records with ``price_as=model`` and the cost at its prices.

        Raises:
            TokenOptConfigError: ``model`` has no known price.
        """
        self.require(model)
        out = []
        for record in records:
            as_model = replace(record, price_as=model, cost=None)
            out.append(replace(as_model, cost=self.price(as_model)))
        return out
