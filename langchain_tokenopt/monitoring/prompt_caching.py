"""Price a thread's requests under each provider's prompt-caching rules (pure, no network).

A provider bills the part of a prompt that repeats a recently sent prefix at a fraction of
the input price. :func:`price_thread` replays the requests of one thread in order, finds for
each the longest prefix it shares with an earlier request whose cache entry is still alive,
and prices the request as the provider would:

* **Anthropic** (explicit): only prefixes that end at a ``cache_control`` breakpoint (at most
  4 per request) are written, at 1.25x input (2x with the 1-hour TTL); a read costs 0.1x.
  A breakpoint also finds an entry written by an earlier request up to 20 parts before it.
  No breakpoint, no caching.
* **OpenAI** (automatic): every prompt is cached; a later prompt reads the shared prefix from
  1,024 tokens, in 128-token steps, at the model's cached-input price; no write surcharge.
* **Gemini** (implicit): like OpenAI, token-exact, at the model's cached price; no write cost.

The rules are documented constants in :mod:`~langchain_tokenopt.monitoring.provider_rules`;
prices come from ``genai-prices`` through :class:`~langchain_tokenopt.monitoring.Pricer`, and
the multipliers fill in the cache rates it does not have. Requests are described by
:class:`RequestShape`: ordered parts, each a stable hash with its token count, so prefixes
are compared part by part (a part that changes ends the shared prefix, even if its first
tokens still match).

The model is an upper bound on what a provider serves: routing (OpenAI), eviction and
Gemini's best-effort implicit cache can miss where it hits.

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring import RequestShape, price_thread

        first = RequestShape(parts=[("system", 3000), ("q1", 50)], at=0, breakpoints=[0])
        second = RequestShape(parts=[("system", 3000), ("q2", 60)], at=60, breakpoints=[0])
        cost = price_thread([first, second], model="claude-sonnet-4-5", provider="anthropic")
        cost.prefix_reuse  # 3000 / 6110
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.monitoring.pricing import (
    ModelPrice,
    Pricer,
    cost_of_usage,
    effective_price,
)
from langchain_tokenopt.monitoring.provider_rules import (
    AnthropicTTL,
    CachingRules,
    caching_provider,
    caching_rules,
)
from langchain_tokenopt.monitoring.records import TokenUsage
from langchain_tokenopt.monitoring.request_shape import RequestShape

__all__ = ["RequestCost", "ThreadCost", "effective_price", "price_thread"]


@dataclass(frozen=True, slots=True)
class RequestCost:
    """What one request of the thread costs under the provider's caching rules.

    ``input_tokens == uncached_input_tokens + cache_read_tokens + cache_write_tokens``.

    Example:
        .. code-block:: python

            cost.requests[1].cache_read_tokens  # tokens read from the provider's cache
    """

    input_tokens: int
    """All prompt tokens."""
    uncached_input_tokens: int
    """Prompt tokens billed at the input price."""
    cache_read_tokens: int
    """Prompt tokens read from the cache."""
    cache_write_tokens: int
    """Prompt tokens written to the cache with a surcharge (Anthropic only)."""
    output_tokens: int
    """Completion tokens."""
    usd: float
    """Cost in USD with provider caching."""
    usd_without_caching: float
    """Cost in USD if every prompt token were billed at the input price."""
    full_price_units: float
    """``usd`` divided by the model's base input price per token (0 for a free model)."""

    @property
    def usage(self) -> TokenUsage:
        """The same counts in LangChain ``usage_metadata`` convention."""
        return TokenUsage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_read_tokens=self.cache_read_tokens,
            cache_creation_tokens=self.cache_write_tokens,
        )


@dataclass(frozen=True, slots=True)
class ThreadCost:
    """A thread priced under one provider's caching rules: per request and in total.

    Example:
        .. code-block:: python

            cost = price_thread(shapes, model="gpt-4.1", provider="openai")
            print(cost.usd, cost.usd_without_caching, f"{cost.prefix_reuse:.0%}")
    """

    model: str
    """The priced model."""
    rules: CachingRules
    """The caching rules applied."""
    price: ModelPrice
    """The prices applied, cache rates filled in from the rules where the table had none."""
    price_source: str
    """Where the base prices came from: ``user`` or ``genai-prices``."""
    requests: tuple[RequestCost, ...] = field(default=())
    """One record per request, in order."""

    @property
    def input_tokens(self) -> int:
        """All prompt tokens of the thread."""
        return sum(r.input_tokens for r in self.requests)

    @property
    def uncached_input_tokens(self) -> int:
        """Prompt tokens billed at the input price."""
        return sum(r.uncached_input_tokens for r in self.requests)

    @property
    def cache_read_tokens(self) -> int:
        """Prompt tokens read from the cache."""
        return sum(r.cache_read_tokens for r in self.requests)

    @property
    def cache_write_tokens(self) -> int:
        """Prompt tokens written to the cache with a surcharge."""
        return sum(r.cache_write_tokens for r in self.requests)

    @property
    def output_tokens(self) -> int:
        """Completion tokens of the thread."""
        return sum(r.output_tokens for r in self.requests)

    @property
    def usd(self) -> float:
        """Total USD with provider caching."""
        return sum(r.usd for r in self.requests)

    @property
    def usd_without_caching(self) -> float:
        """Total USD with every prompt token at the input price."""
        return sum(r.usd_without_caching for r in self.requests)

    @property
    def full_price_units(self) -> float:
        """Total USD divided by the base input price per token."""
        return sum(r.full_price_units for r in self.requests)

    @property
    def prefix_reuse(self) -> float:
        """Share of the prompt tokens read from the cache (0 for an empty thread)."""
        total = self.input_tokens
        return self.cache_read_tokens / total if total else 0.0


class _PrefixCache:
    """The provider's cache entries, as a trie of part hashes with an expiry per node."""

    def __init__(self, rules: CachingRules) -> None:
        self._rules = rules
        self._nodes: dict[tuple[int, str], int] = {}
        self._expiry: dict[int, float] = {}

    def _path(self, shape: RequestShape) -> list[int]:
        path, node = [], 0
        for part_hash, _ in shape.parts:
            node = self._nodes.setdefault((node, part_hash), len(self._nodes) + 1)
            path.append(node)
        return path

    def _alive(self, node: int, now: float) -> bool:
        return self._expiry.get(node, float("-inf")) >= now

    def charge(self, shape: RequestShape) -> tuple[int, int]:
        """Replay one request: return ``(cache_read, cache_write)`` tokens, update entries."""
        rules, now = self._rules, shape.at
        path = self._path(shape)
        ends: list[int] = []
        total = 0
        for _, tokens in shape.parts:
            total += tokens
            ends.append(total)
        until = now + rules.lifetime_s
        if not rules.explicit_breakpoints:
            shared = 0
            for node, end in zip(path, ends, strict=True):
                if not self._alive(node, now):
                    break
                shared = end
            for node in path:  # every prompt is cached; an entry lives from its last use
                self._expiry[node] = until
            if shared < rules.min_prefix_tokens:
                return 0, 0
            step = rules.increment_tokens
            return rules.min_prefix_tokens + (shared - rules.min_prefix_tokens) // step * step, 0
        if rules.max_breakpoints is not None and len(shape.breakpoints) > rules.max_breakpoints:
            msg = (
                f"a request may carry at most {rules.max_breakpoints} breakpoints,"
                f" got {len(shape.breakpoints)}"
            )
            raise TokenOptConfigError(msg)
        marks = [b for b in shape.breakpoints if ends[b] >= rules.min_prefix_tokens]
        hit = -1
        for mark in marks:
            for i in range(mark, max(mark - rules.lookback_parts, 0) - 1, -1):
                if self._alive(path[i], now):
                    hit = max(hit, i)
                    break
        read = ends[hit] if hit >= 0 else 0
        if hit >= 0:
            self._expiry[path[hit]] = until
        for mark in marks:
            self._expiry[path[mark]] = until
        last = max(marks, default=-1)
        return read, (ends[last] - read if last > hit else 0)


def price_thread(
    requests: Iterable[RequestShape],
    *,
    model: str,
    provider: str | None = None,
    price: ModelPrice | None = None,
    pricer: Pricer | None = None,
    rules: CachingRules | None = None,
    ttl: AnthropicTTL = "5m",
) -> ThreadCost:
    """Price the requests of one thread, in order, under a provider's prompt-caching rules.

    Args:
        requests: The thread's requests, ``at`` non-decreasing.
        model: Model name, for the prices and the per-model minimum prefix.
        provider: ``anthropic``, ``openai`` or ``google`` (LangChain ``ls_provider`` names such
            as ``google_genai`` or ``azure_openai`` too); ``None`` guesses from ``model``.
        price: Prices to use instead of looking ``model`` up.
        pricer: Where to look prices up (default: a new :class:`Pricer` on ``genai-prices``).
        rules: Caching rules to use instead of :func:`caching_rules` for the provider.
        ttl: Anthropic cache lifetime, ``"5m"`` or ``"1h"``.

    Returns:
        The cost per request and in total.

    Raises:
        TokenOptConfigError: unknown provider or model price, more breakpoints than the
            provider allows, or requests out of time order.

    Example:
        .. code-block:: python

            shapes = [RequestShape.from_messages(m, tools=tools, at=t) for t, m in turns]
            price_thread(shapes, model="gpt-4o", provider="openai").full_price_units
    """
    if rules is None:
        rules = caching_rules(caching_provider(provider, model), model, ttl=ttl)
    source = "user"
    if price is None:
        found, source = (pricer or Pricer()).lookup(model, provider)
        if found is None:
            msg = f"no price is known for model {model!r}; pass price=ModelPrice(...)"
            raise TokenOptConfigError(msg)
        price = found
    billed = effective_price(price, rules)
    unit = price.input_per_mtok / 1_000_000
    cache = _PrefixCache(rules)
    out: list[RequestCost] = []
    last_at = float("-inf")
    for shape in requests:
        if shape.at < last_at:
            msg = f"requests must be in time order; got at={shape.at} after at={last_at}"
            raise TokenOptConfigError(msg)
        last_at = shape.at
        read, write = cache.charge(shape)
        usage = TokenUsage(
            input_tokens=shape.input_tokens,
            output_tokens=shape.output_tokens,
            cache_read_tokens=read,
            cache_creation_tokens=write,
        )
        usd = cost_of_usage(billed, usage)
        out.append(
            RequestCost(
                input_tokens=usage.input_tokens,
                uncached_input_tokens=usage.uncached_input_tokens,
                cache_read_tokens=read,
                cache_write_tokens=write,
                output_tokens=usage.output_tokens,
                usd=usd,
                usd_without_caching=cost_of_usage(billed, usage, prompt_cache=False),
                full_price_units=usd / unit if unit else 0.0,
            )
        )
    return ThreadCost(
        model=model, rules=rules, price=billed, price_source=source, requests=tuple(out)
    )
