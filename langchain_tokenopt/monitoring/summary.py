"""Summaries of request records: hit rates, tokens and USD saved per step, percentiles.

Everything here is a pure function over :class:`RequestRecord` lists, so the SQLite,
Redis and in-memory stores return identical summaries for identical records.

Definitions (per window):

* ``request_cache_hit_rate`` = cache hits / requests;
* ``token_cache_hit_rate`` = counterfactual tokens of hits / counterfactual tokens of all;
* ``prompt_cache_read_rate`` = provider cache-read tokens / input tokens of model calls;
* ``token_reduction`` = 1 - actual tokens / counterfactual tokens (token weighted) and
  ``average_reduction`` the mean of the per-request reductions, both over the requests whose
  usage is known: a model call that reported no usage (or zero tokens) would read as a 100 %
  reduction, so it is left out of every token figure and counted in ``usage_unavailable``;
* percentiles use linear interpolation between order statistics (numpy's default).

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring import summarize

        s = summarize(records, group_by=("model",))
        print(s.requests, s.cost.savings_usd, [g.key for g in s.groups])
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.monitoring.records import SAVINGS_KEYS, STEP_NAMES, RequestRecord

__all__ = [
    "GROUP_KEYS",
    "CostSummary",
    "GroupBy",
    "GroupKey",
    "GroupSummary",
    "LatencyStats",
    "Summary",
    "TokenTotals",
    "Window",
    "parse_window",
    "percentile",
    "summarize",
    "usage_known",
]

GroupKey = Literal["model", "provider", "tenant", "user", "cache_layer", "hour", "day"]
#: Allowed ``group_by`` entries.
GROUP_KEYS: tuple[GroupKey, ...] = get_args(GroupKey)
#: The keys a summary is grouped by, e.g. ``("model", "tenant")`` (``()``: no groups).
GroupBy = Sequence[GroupKey]
#: A time window: ``"24h"``, ``"7d"`` (see :func:`parse_window`), seconds, or ``None`` /
#: ``"all"`` for every record.
Window = str | float | None

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_WINDOW_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_window(window: Window) -> float | None:
    """Window length in seconds: ``"90s"``, ``"15m"``, ``"24h"``, ``"7d"``, ``"2w"``, a number.

    ``None``, ``"all"`` and ``""`` mean no limit (``None``).
    """
    if window is None:
        return None
    if isinstance(window, int | float):
        if window <= 0:
            msg = f"window must be > 0 seconds, got {window}"
            raise TokenOptConfigError(msg)
        return float(window)
    if window.strip().lower() in ("", "all"):
        return None
    match = _WINDOW_RE.match(window.lower())
    if match is None:
        msg = f"window must look like '90s', '15m', '24h', '7d', '2w' or 'all', got {window!r}"
        raise TokenOptConfigError(msg)
    return float(match.group(1)) * _UNITS[match.group(2)]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Latency percentiles in milliseconds (``None`` when there were no samples)."""

    count: int = 0
    """Number of samples."""
    p50: float | None = None
    """Median."""
    p95: float | None = None
    """95th percentile."""
    p99: float | None = None
    """99th percentile."""
    mean: float | None = None
    """Arithmetic mean."""

    @classmethod
    def of(cls, values: Sequence[float]) -> LatencyStats:
        """Compute the stats of ``values``."""
        if not values:
            return cls()
        return cls(
            count=len(values),
            p50=percentile(values, 50),
            p95=percentile(values, 95),
            p99=percentile(values, 99),
            mean=sum(values) / len(values),
        )


@dataclass(frozen=True, slots=True)
class TokenTotals:
    """Token sums over the model calls that reported usage."""

    input: int = 0
    """Prompt tokens sent (cached included)."""
    output: int = 0
    """Completion tokens."""
    cache_read: int = 0
    """Provider prompt-cache reads (inside ``input``)."""
    cache_creation: int = 0
    """Provider prompt-cache writes (inside ``input``)."""
    reasoning: int = 0
    """Reasoning tokens (inside ``output``)."""
    actual: int = 0
    """``input + output`` of calls that reached the model."""
    counterfactual: int = 0
    """Tokens all requests would have used with no optimization."""


@dataclass(frozen=True, slots=True)
class CostSummary:
    """USD totals over the *priced* requests only (``None`` when none was priced)."""

    actual_usd: float | None = None
    """What was paid."""
    counterfactual_usd: float | None = None
    """What the same requests would have cost with no optimization."""
    savings_usd: float | None = None
    """``counterfactual_usd - actual_usd``."""
    savings_by_step: dict[str, float] = field(default_factory=dict)
    """Savings per :data:`~langchain_tokenopt.monitoring.records.SAVINGS_KEYS` entry."""
    priced_requests: int = 0
    """Requests with a known price and usage."""
    pricing_coverage: float | None = None
    """``priced_requests / requests`` (``None`` with no requests)."""
    unpriced_models: tuple[str, ...] = ()
    """Models (or ``"<unknown>"``) that could not be priced."""
    counterfactual_cached_usd: float | None = None
    """What the same requests would have cost unoptimized *with* the provider's prompt
    caching (warm cache; the cached baseline, see
    :func:`~langchain_tokenopt.monitoring.price_record`)."""
    savings_vs_cached_usd: float | None = None
    """``counterfactual_cached_usd - actual_usd``: the saving against a user who caches."""
    net_savings_by_step: dict[str, float] = field(default_factory=dict)
    """Per step, the saving net of the provider cache reads its rewrite destroyed."""
    priced_as: tuple[str, ...] = ()
    """Hosted models the requests were priced as (``price_as``), if any."""


@dataclass(frozen=True, slots=True)
class Summary:
    """What a window of requests did, saved and cost.

    Example:
        .. code-block:: python

            s = handler.summary(window="24h", group_by=("tenant",))
            print(s.request_cache_hit_rate, s.latency.p95, s.cost.savings_by_step)
    """

    window: str | None
    """The window asked for (``None``: all stored records)."""
    requests: int = 0
    """Requests (model calls plus response-cache hits)."""
    llm_calls: int = 0
    """Requests that reached the model."""
    cache_hits: int = 0
    """Requests answered by the response cache."""
    cache_hits_by_layer: dict[str, int] = field(default_factory=dict)
    """Hits per cache layer (``exact`` / ``semantic`` / ``unknown``)."""
    request_cache_hit_rate: float | None = None
    """``cache_hits / requests``."""
    token_cache_hit_rate: float | None = None
    """Share of counterfactual tokens served by the response cache (known usage only)."""
    prompt_cache_read_rate: float | None = None
    """Provider cache-read tokens / input tokens of model calls."""
    tokens: TokenTotals = field(default_factory=TokenTotals)
    """Token sums."""
    tokens_saved_by_step: dict[str, int] = field(default_factory=dict)
    """Tokens removed per optimizer step (``cache``: whole requests served from cache)."""
    token_reduction: float | None = None
    """``1 - actual / counterfactual`` tokens, token weighted."""
    average_reduction: float | None = None
    """Mean per-request reduction."""
    latency: LatencyStats = field(default_factory=LatencyStats)
    """End-to-end latency (optimizer steps + model call), ms."""
    llm_latency: LatencyStats = field(default_factory=LatencyStats)
    """Model call (or in-model cache lookup) latency, ms."""
    optimizer_latency: LatencyStats = field(default_factory=LatencyStats)
    """Optimizer overhead per request (sum of its steps), ms."""
    cost: CostSummary = field(default_factory=CostSummary)
    """USD figures."""
    errors: dict[str, int] = field(default_factory=dict)
    """Failed model calls per exception type."""
    step_errors: dict[str, int] = field(default_factory=dict)
    """Steps that failed open, per step."""
    usage_unavailable: int = 0
    """Model calls that reported no usage (or zero tokens): left out of every token figure
    and reduction, never counted as 0 tokens."""
    groups: tuple[GroupSummary, ...] = ()
    """Per-group summaries when ``group_by`` was given, biggest first."""


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """The summary of one group, e.g. ``{"model": "gpt-4o", "tenant": "acme"}``."""

    key: dict[str, str | None]
    """Group values by ``group_by`` entry."""
    summary: Summary
    """That group's figures (with no nested groups)."""


def _group_value(record: RequestRecord, key: GroupKey) -> str | None:
    getters: dict[str, Callable[[RequestRecord], str | None]] = {
        "model": lambda r: r.model,
        "provider": lambda r: r.provider,
        "tenant": lambda r: r.tenant_id,
        "user": lambda r: r.user_id,
        "cache_layer": lambda r: r.cache_layer,
        "hour": lambda r: time.strftime("%Y-%m-%dT%H:00Z", time.gmtime(r.timestamp)),
        "day": lambda r: time.strftime("%Y-%m-%d", time.gmtime(r.timestamp)),
    }
    return getters[key](record)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def usage_known(record: RequestRecord) -> bool:
    """Whether ``record`` has usage that token figures can use.

    A response-cache hit carries the usage its answer had. A model call counts only when the
    model reported usage with at least one token: an empty report would make the request
    look 100 % reduced.
    """
    if record.usage is None:
        return False
    return not record.llm_called or record.usage.total_tokens > 0


def _summarize_flat(records: list[RequestRecord], window: str | None) -> Summary:
    requests = len(records)
    hits = [r for r in records if r.cache_hit]
    calls = [r for r in records if r.llm_called]
    # Token figures only over requests whose usage is known (never count a gap as 0).
    measured = [r for r in records if usage_known(r)]
    usage = [r.usage for r in measured if r.llm_called and r.usage is not None]
    tokens_in = sum(u.input_tokens for u in usage)
    cache_read = sum(u.cache_read_tokens for u in usage)
    counterfactual = [r.counterfactual_tokens() for r in measured]
    actual = [r.actual_tokens() for r in measured]
    cf_total, actual_total = sum(counterfactual), sum(actual)
    hit_cf = sum(r.counterfactual_tokens() for r in measured if r.cache_hit)
    saved: Counter[str] = Counter(dict.fromkeys(STEP_NAMES, 0))
    for r in records:
        saved.update(r.tokens_saved_by_step())
    reductions = [1 - a / c for a, c in zip(actual, counterfactual, strict=True) if c > 0]

    priced = [r for r in records if r.cost is not None and r.cost.priced]
    by_step: Counter[str] = Counter(dict.fromkeys(SAVINGS_KEYS, 0.0))
    for r in priced:
        if r.cost is not None:
            by_step.update(r.cost.savings_usd)
    cost_actual = sum(r.cost.actual_usd or 0.0 for r in priced if r.cost is not None)
    cost_cf = sum(r.cost.counterfactual_usd or 0.0 for r in priced if r.cost is not None)
    with_cached = [r.cost for r in priced if r.cost is not None and r.cost.net_savings_usd]
    net_by_step: Counter[str] = Counter()
    for c in with_cached:
        net_by_step.update(c.net_savings_usd)
    cost_cached = sum(c.counterfactual_cached_usd or 0.0 for c in with_cached)
    cached_actual = sum(c.actual_usd or 0.0 for c in with_cached)
    priced_as = sorted({r.cost.priced_as for r in priced if r.cost and r.cost.priced_as})
    unpriced = sorted(
        {r.model or "<unknown>" for r in records if r.cost is None or not r.cost.priced}
    )
    step_errors: Counter[str] = Counter(
        e.step for r in records for e in r.steps if e.error is not None
    )
    return Summary(
        window=window,
        requests=requests,
        llm_calls=len(calls),
        cache_hits=len(hits),
        cache_hits_by_layer=dict(Counter(r.cache_layer or "unknown" for r in hits)),
        request_cache_hit_rate=_ratio(len(hits), requests),
        token_cache_hit_rate=_ratio(hit_cf, cf_total),
        prompt_cache_read_rate=_ratio(cache_read, tokens_in),
        tokens=TokenTotals(
            input=tokens_in,
            output=sum(u.output_tokens for u in usage),
            cache_read=cache_read,
            cache_creation=sum(u.cache_creation_tokens for u in usage),
            reasoning=sum(u.reasoning_tokens for u in usage),
            actual=actual_total,
            counterfactual=cf_total,
        ),
        tokens_saved_by_step=dict(saved),
        token_reduction=_ratio(cf_total - actual_total, cf_total),
        average_reduction=_ratio(sum(reductions), len(reductions)),
        latency=LatencyStats.of([r.latency_ms for r in records if r.error_type is None]),
        llm_latency=LatencyStats.of([r.llm_latency_ms for r in records if r.error_type is None]),
        optimizer_latency=LatencyStats.of([r.optimizer_latency_ms for r in records]),
        cost=CostSummary(
            actual_usd=cost_actual if priced else None,
            counterfactual_usd=cost_cf if priced else None,
            savings_usd=cost_cf - cost_actual if priced else None,
            savings_by_step=dict(by_step) if priced else {},
            priced_requests=len(priced),
            pricing_coverage=_ratio(len(priced), requests),
            unpriced_models=tuple(unpriced),
            counterfactual_cached_usd=cost_cached if with_cached else None,
            savings_vs_cached_usd=cost_cached - cached_actual if with_cached else None,
            net_savings_by_step=dict(net_by_step),
            priced_as=tuple(priced_as),
        ),
        errors=dict(Counter(r.error_type for r in records if r.error_type is not None)),
        step_errors=dict(step_errors),
        usage_unavailable=sum(1 for r in calls if not (r.usage_available and usage_known(r))),
    )


def summarize(
    records: Iterable[RequestRecord],
    *,
    group_by: GroupBy = (),
    window: Window = None,
) -> Summary:
    """Summarize records, overall and (optionally) per group.

    Args:
        records: The records to summarize.
        group_by: Any of :data:`GROUP_KEYS`, e.g. ``("model", "tenant")``.
        window: Only echoed into :attr:`Summary.window` (filtering is the store's job).

    Returns:
        The overall :class:`Summary`, with ``groups`` sorted by request count.
    """
    for key in group_by:
        if key not in GROUP_KEYS:
            msg = f"group_by entries must be among {GROUP_KEYS}, got {key!r}"
            raise TokenOptConfigError(msg)
    items = list(records)
    label = None if window is None else str(window)
    overall = _summarize_flat(items, label)
    if not group_by:
        return overall
    buckets: dict[tuple[str | None, ...], list[RequestRecord]] = {}
    for record in items:
        buckets.setdefault(tuple(_group_value(record, k) for k in group_by), []).append(record)
    groups = [
        GroupSummary(
            key=dict(zip(group_by, values, strict=True)), summary=_summarize_flat(rs, label)
        )
        for values, rs in buckets.items()
    ]
    groups.sort(key=lambda g: (-g.summary.requests, str(g.key)))
    return replace(overall, groups=tuple(groups))
