"""Prometheus exposition of stored records, GenAI-style names, low-cardinality labels.

Metrics (prefix ``tokenopt_gen_ai_``), labels limited to ``model``, ``provider`` and a
closed set (``type``, ``layer``, ``step``, ``error_type``); never user ids or prompts:

* ``requests_total{model,provider}``
* ``tokens_total{model,provider,type=input|output|cache_read|cache_write|reasoning}``
* ``tokens_saved_total{step}``
* ``cache_hits_total{layer}``
* ``request_duration_seconds`` histogram ``{model,provider}`` and
  ``optimizer_duration_seconds`` histogram
* ``cost_usd_total{model,provider}``, ``counterfactual_cost_usd_total``,
  ``savings_usd_total{step}``, ``unpriced_requests_total``
* ``errors_total{error_type}``

Counters are computed from the store on each scrape (all retained records), so every app
server writing to one Redis store yields one consistent fleet-wide series.

Example:
    .. code-block:: python

        from prometheus_client import REGISTRY
        from langchain_tokenopt.monitoring.prometheus import register_metrics

        register_metrics(handler.store, registry=REGISTRY)  # then expose REGISTRY as usual
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from langchain_tokenopt.errors import MissingDependencyError
from langchain_tokenopt.monitoring.records import RequestRecord
from langchain_tokenopt.monitoring.summary import Window

__all__ = [
    "CONTENT_TYPE",
    "DURATION_BUCKETS_S",
    "PrometheusCollector",
    "register_metrics",
    "render_metrics",
]

PREFIX = "tokenopt_gen_ai_"
#: The Prometheus text-format content type.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Histogram buckets for request durations, seconds.
DURATION_BUCKETS_S: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip


class RecordSource(Protocol):
    """Anything with ``records(window)``: every metrics store."""

    def records(self, window: Window = None) -> list[RequestRecord]:
        """Stored records in a window."""
        ...


def _prom() -> Any:
    try:
        import prometheus_client.core as core
    except ImportError as exc:
        raise MissingDependencyError("prometheus-client", extra="dashboard") from exc
    return core


def _histogram(values: Sequence[float], buckets: Sequence[float]) -> tuple[list[Any], float]:
    out: list[Any] = []
    for bound in buckets:
        out.append((repr(float(bound)), sum(1 for v in values if v <= bound)))
    out.append(("+Inf", len(values)))
    return out, float(sum(values))


class PrometheusCollector:
    """A ``prometheus_client`` collector over a metrics store.

    Args:
        source: A store (or anything with ``records(window)``).
        flush: Call ``source.flush()`` before each scrape when it has one.

    Example:
        .. code-block:: python

            from prometheus_client import CollectorRegistry, generate_latest

            registry = CollectorRegistry()
            registry.register(PrometheusCollector(store))
            print(generate_latest(registry).decode())
    """

    def __init__(self, source: RecordSource, *, flush: bool = False) -> None:
        self._source = source
        self._flush = flush

    def collect(self) -> Iterator[Any]:
        """Yield the metric families (called by ``prometheus_client`` on each scrape)."""
        core = _prom()
        if self._flush and hasattr(self._source, "flush"):
            self._source.flush()
        records = self._source.records(None)
        labels = ("model", "provider")

        def lv(r: RequestRecord) -> tuple[str, str]:
            return (r.model or "unknown", r.provider or "unknown")

        requests = Counter(lv(r) for r in records)
        fam = core.CounterMetricFamily(
            PREFIX + "requests", "LLM requests (model calls and cache hits)", labels=labels
        )
        for key, n in sorted(requests.items()):
            fam.add_metric(list(key), n)
        yield fam

        tokens: Counter[tuple[str, str, str]] = Counter()
        for r in records:
            if r.usage is None or not r.llm_called:
                continue
            m, p = lv(r)
            tokens[(m, p, "input")] += r.usage.input_tokens
            tokens[(m, p, "output")] += r.usage.output_tokens
            tokens[(m, p, "cache_read")] += r.usage.cache_read_tokens
            tokens[(m, p, "cache_write")] += r.usage.cache_creation_tokens
            tokens[(m, p, "reasoning")] += r.usage.reasoning_tokens
        fam = core.CounterMetricFamily(
            PREFIX + "tokens", "Tokens used by model calls", labels=(*labels, "type")
        )
        for token_key, n in sorted(tokens.items()):
            fam.add_metric(list(token_key), n)
        yield fam

        saved: Counter[str] = Counter()
        for r in records:
            saved.update(r.tokens_saved_by_step())
        fam = core.CounterMetricFamily(
            PREFIX + "tokens_saved", "Tokens removed per optimizer step", labels=("step",)
        )
        for step, n in sorted(saved.items()):
            fam.add_metric([step], n)
        yield fam

        hits = Counter(r.cache_layer or "unknown" for r in records if r.cache_hit)
        fam = core.CounterMetricFamily(
            PREFIX + "cache_hits", "Requests answered by the response cache", labels=("layer",)
        )
        for layer, n in sorted(hits.items()):
            fam.add_metric([layer], n)
        yield fam

        by_labels: dict[tuple[str, str], list[float]] = {}
        for r in records:
            if r.error_type is None:
                by_labels.setdefault(lv(r), []).append(r.latency_ms / 1000.0)
        fam = core.HistogramMetricFamily(
            PREFIX + "request_duration_seconds",
            "End-to-end request duration (optimizer steps + model call)",
            labels=labels,
        )
        for key, values in sorted(by_labels.items()):
            buckets, total = _histogram(values, DURATION_BUCKETS_S)
            fam.add_metric(list(key), buckets, total)
        yield fam

        overhead = [r.optimizer_latency_ms / 1000.0 for r in records]
        fam = core.HistogramMetricFamily(
            PREFIX + "optimizer_duration_seconds", "Optimizer overhead per request"
        )
        buckets, total = _histogram(overhead, DURATION_BUCKETS_S)
        fam.add_metric([], buckets, total)
        yield fam

        cost: defaultdict[tuple[str, str], float] = defaultdict(float)
        counterfactual = 0.0
        savings: defaultdict[str, float] = defaultdict(float)
        unpriced = 0
        for r in records:
            if r.cost is None or not r.cost.priced:
                unpriced += 1
                continue
            cost[lv(r)] += r.cost.actual_usd or 0.0
            counterfactual += r.cost.counterfactual_usd or 0.0
            for step, usd in r.cost.savings_usd.items():
                savings[step] += usd
        fam = core.CounterMetricFamily(
            PREFIX + "cost_usd", "USD spent on priced requests", labels=labels
        )
        for key, usd in sorted(cost.items()):
            fam.add_metric(list(key), usd)
        yield fam
        yield core.CounterMetricFamily(
            PREFIX + "counterfactual_cost_usd",
            "USD the priced requests would have cost without optimization",
            value=counterfactual,
        )
        fam = core.CounterMetricFamily(
            PREFIX + "savings_usd", "USD saved per optimizer step", labels=("step",)
        )
        for step, usd in sorted(savings.items()):
            fam.add_metric([step], usd)
        yield fam
        yield core.CounterMetricFamily(
            PREFIX + "unpriced_requests", "Requests with no known price", value=unpriced
        )
        errors = Counter(r.error_type for r in records if r.error_type is not None)
        fam = core.CounterMetricFamily(
            PREFIX + "errors", "Failed model calls", labels=("error_type",)
        )
        for err, n in sorted(errors.items()):
            fam.add_metric([err], n)
        yield fam


def register_metrics(source: RecordSource, registry: Any = None) -> PrometheusCollector:
    """Register a :class:`PrometheusCollector` for ``source`` in ``registry`` (default: global).

    Args:
        source: A metrics store, e.g. ``handler.store``.
        registry: A ``prometheus_client.CollectorRegistry``; ``None`` uses ``REGISTRY``.

    Returns:
        The collector (unregister it with ``registry.unregister(collector)``).
    """
    core = _prom()
    collector = PrometheusCollector(source)
    (registry if registry is not None else core.REGISTRY).register(collector)
    return collector


def render_metrics(source: RecordSource) -> bytes:
    """Prometheus text exposition of ``source`` alone (for a ``/metrics`` route of your app).

    Example:
        .. code-block:: python

            body = render_metrics(handler.store)  # serve with CONTENT_TYPE
    """
    _prom()
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(PrometheusCollector(source))
    return bytes(generate_latest(registry))
