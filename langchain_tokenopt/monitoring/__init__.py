"""Monitoring: what each optimizer step saved, per request, in tokens, latency and USD.

* :class:`TokenOptCallbackHandler` records one :class:`RequestRecord` per LLM request;
  graph nodes report their steps with :meth:`TokenOptCallbackHandler.record_step` /
  :func:`report_step` under ``metadata["tokenopt_request_id"]``.
* Stores: :class:`SQLiteMetricsStore` (default), :class:`RedisMetricsStore`,
  :class:`MemoryMetricsStore`; all share ``summary(window, group_by)``.
* :class:`OpenTelemetrySink` (extra ``otel``) exports the same records as OpenTelemetry
  GenAI spans and metrics: ``TokenOptCallbackHandler(otel=True)``.
* :class:`Pricer` prices records from ``genai-prices`` or a user price table.
* :func:`price_thread` prices a thread's requests (:class:`RequestShape`) under each
  provider's prompt-caching rules (:func:`caching_rules`).
* ``langchain_tokenopt.monitoring.dashboard`` (extra ``dashboard``) serves charts and
  Prometheus ``/metrics``; :func:`~langchain_tokenopt.monitoring.prometheus.render_metrics`
  serves the same text from your own app.

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring import SQLiteMetricsStore, TokenOptCallbackHandler

        handler = TokenOptCallbackHandler(store=SQLiteMetricsStore(path="metrics.sqlite"))
        # chain.invoke(x, config={"callbacks": [handler], "metadata": {"tenant_id": "acme"}})
        print(handler.summary(window="24h", group_by=("model",)))
"""

from __future__ import annotations

from langchain_tokenopt.monitoring.handler import (
    REQUEST_ID_KEY,
    TokenOptCallbackHandler,
    find_handlers,
)
from langchain_tokenopt.monitoring.otel import OpenTelemetrySink
from langchain_tokenopt.monitoring.pricing import ModelPrice, Pricer, PriceTier, price_record
from langchain_tokenopt.monitoring.prompt_caching import RequestCost, ThreadCost, price_thread
from langchain_tokenopt.monitoring.provider_rules import (
    CachingRules,
    caching_provider,
    caching_rules,
)
from langchain_tokenopt.monitoring.records import (
    CostBreakdown,
    RequestRecord,
    StepEvent,
    TokenUsage,
)
from langchain_tokenopt.monitoring.reporting import (
    StepRecorder,
    StepTiming,
    measure_step,
    report_cache_hit,
    report_step,
)
from langchain_tokenopt.monitoring.request_shape import RequestShape
from langchain_tokenopt.monitoring.store import BackgroundWriter, MemoryMetricsStore, MetricsStore
from langchain_tokenopt.monitoring.store_redis import RedisMetricsStore
from langchain_tokenopt.monitoring.store_sqlite import SQLiteMetricsStore, default_metrics_path
from langchain_tokenopt.monitoring.summary import (
    CostSummary,
    GroupSummary,
    LatencyStats,
    Summary,
    TokenTotals,
    parse_window,
    percentile,
    summarize,
)
from langchain_tokenopt.monitoring.usage import extract_usage

__all__ = [
    "REQUEST_ID_KEY",
    "BackgroundWriter",
    "CachingRules",
    "CostBreakdown",
    "CostSummary",
    "GroupSummary",
    "LatencyStats",
    "MemoryMetricsStore",
    "MetricsStore",
    "ModelPrice",
    "OpenTelemetrySink",
    "PriceTier",
    "Pricer",
    "RedisMetricsStore",
    "RequestCost",
    "RequestRecord",
    "RequestShape",
    "SQLiteMetricsStore",
    "StepEvent",
    "StepRecorder",
    "StepTiming",
    "Summary",
    "ThreadCost",
    "TokenOptCallbackHandler",
    "TokenTotals",
    "TokenUsage",
    "caching_provider",
    "caching_rules",
    "default_metrics_path",
    "extract_usage",
    "find_handlers",
    "measure_step",
    "parse_window",
    "percentile",
    "price_record",
    "price_thread",
    "report_cache_hit",
    "report_step",
    "summarize",
]
