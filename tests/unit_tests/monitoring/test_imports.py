from __future__ import annotations

import subprocess
import sys

import langchain_tokenopt
from langchain_tokenopt import monitoring

EXPECTED = {
    "REQUEST_ID_KEY", "BackgroundWriter", "CostBreakdown", "CostSummary", "GroupSummary",
    "LatencyStats", "MemoryMetricsStore", "MetricsStore", "ModelPrice", "PriceTier", "Pricer",
    "RedisMetricsStore", "RequestRecord", "SQLiteMetricsStore", "StepEvent", "Summary",
    "TokenOptCallbackHandler", "TokenTotals", "TokenUsage", "default_metrics_path",
    "extract_usage", "find_handlers", "parse_window", "percentile", "price_record",
    "report_cache_hit", "report_step", "summarize", "StepTiming", "measure_step",
    "OpenTelemetrySink", "CachingRules", "RequestCost", "RequestShape", "ThreadCost",
    "caching_provider", "caching_rules", "price_thread", "StepRecorder",
}  # fmt: skip


def test_public_names() -> None:
    assert set(monitoring.__all__) == EXPECTED
    assert langchain_tokenopt.TokenOptCallbackHandler is monitoring.TokenOptCallbackHandler
    assert langchain_tokenopt.RequestRecord is monitoring.RequestRecord


def test_import_is_light() -> None:
    code = (
        "import sys, langchain_tokenopt.monitoring, langchain_tokenopt.monitoring.prometheus;"
        "heavy = {'torch', 'transformers', 'redis', 'sentence_transformers', 'genai_prices',"
        " 'fastapi', 'prometheus_client'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
