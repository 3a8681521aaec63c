"""Bucket records into a time series for charts (pure, shared by the dashboard and CLI).

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring.timeseries import timeseries

        points = timeseries(store.records("24h"), start=t0, end=t1, buckets=24)
        print([p.requests for p in points])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.monitoring.records import RequestRecord
from langchain_tokenopt.monitoring.summary import percentile, usage_known

__all__ = ["TimePoint", "timeseries"]


@dataclass(frozen=True, slots=True)
class TimePoint:
    """Figures of one time bucket ``[start, end)``."""

    start: float
    """Bucket start, Unix seconds."""
    end: float
    """Bucket end, Unix seconds."""
    requests: int
    """Requests finished in the bucket."""
    cache_hits: int
    """Response-cache hits."""
    hit_rate: float | None
    """``cache_hits / requests``."""
    tokens_actual: int
    """Tokens sent to / produced by models (known usage)."""
    tokens_counterfactual: int
    """Tokens without optimization (known usage)."""
    cost_actual_usd: float
    """USD paid (priced requests)."""
    cost_counterfactual_usd: float
    """USD without optimization and without provider caching (priced requests)."""
    cost_counterfactual_cached_usd: float
    """USD without optimization, with the provider's prompt caching (priced requests that
    carry the cached baseline)."""
    cache_read_tokens: int
    """Provider prompt-cache reads (model calls with known usage)."""
    cache_creation_tokens: int
    """Provider prompt-cache writes (model calls with known usage)."""
    latency_p50_ms: float | None
    """Median end-to-end latency."""
    latency_p95_ms: float | None
    """95th percentile latency."""
    latency_p99_ms: float | None
    """99th percentile latency."""
    errors: int
    """Failed model calls."""


def timeseries(
    records: Iterable[RequestRecord], *, start: float, end: float, buckets: int = 24
) -> list[TimePoint]:
    """Split ``[start, end)`` into ``buckets`` equal buckets and aggregate records into them.

    Args:
        records: Records (any order); those outside the range are ignored.
        start: Range start, Unix seconds.
        end: Range end, Unix seconds (> ``start``).
        buckets: Number of buckets, 1-1000.

    Returns:
        One :class:`TimePoint` per bucket, oldest first.
    """
    if not 1 <= buckets <= 1000:
        msg = f"buckets must be within 1..1000, got {buckets}"
        raise TokenOptConfigError(msg)
    if end <= start:
        msg = "end must be after start"
        raise TokenOptConfigError(msg)
    width = (end - start) / buckets
    groups: list[list[RequestRecord]] = [[] for _ in range(buckets)]
    for r in records:
        if start <= r.timestamp < end:
            groups[min(buckets - 1, int((r.timestamp - start) / width))].append(r)
        elif r.timestamp == end:
            groups[-1].append(r)
    points = []
    for i, rs in enumerate(groups):
        hits = sum(1 for r in rs if r.cache_hit)
        measured = [r for r in rs if usage_known(r)]
        priced = [r.cost for r in rs if r.cost is not None and r.cost.priced]
        lat = [r.latency_ms for r in rs if r.error_type is None]
        points.append(
            TimePoint(
                start=start + i * width,
                end=start + (i + 1) * width,
                requests=len(rs),
                cache_hits=hits,
                hit_rate=hits / len(rs) if rs else None,
                tokens_actual=sum(r.actual_tokens() for r in measured),
                tokens_counterfactual=sum(r.counterfactual_tokens() for r in measured),
                cost_actual_usd=sum(c.actual_usd or 0.0 for c in priced),
                cost_counterfactual_usd=sum(c.counterfactual_usd or 0.0 for c in priced),
                cost_counterfactual_cached_usd=sum(
                    c.counterfactual_cached_usd or 0.0 for c in priced if c.net_savings_usd
                ),
                cache_read_tokens=sum(
                    r.usage.cache_read_tokens for r in measured if r.llm_called and r.usage
                ),
                cache_creation_tokens=sum(
                    r.usage.cache_creation_tokens for r in measured if r.llm_called and r.usage
                ),
                latency_p50_ms=percentile(lat, 50),
                latency_p95_ms=percentile(lat, 95),
                latency_p99_ms=percentile(lat, 99),
                errors=sum(1 for r in rs if r.error_type is not None),
            )
        )
    return points
