"""One set of figures: usage-less calls are excluded and counted, one name per step, and the
dashboard's time series fits the data instead of a fixed 24 h."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from langchain_tokenopt._cli_app import summary_tables
from langchain_tokenopt.monitoring import (
    MemoryMetricsStore,
    RequestRecord,
    StepEvent,
    TokenUsage,
    summarize,
)
from langchain_tokenopt.monitoring.dashboard import create_app
from langchain_tokenopt.monitoring.records import STEP_NAMES

from .factory import make_record


def _squeezed(reduced: StepEvent) -> list[RequestRecord]:
    """One measured call (50 % reduced) and two calls that reported no usable usage."""
    return [
        make_record(usage=TokenUsage(input_tokens=400, output_tokens=100), steps=(reduced,)),
        make_record(usage=None, steps=(reduced,)),
        make_record(usage=TokenUsage(input_tokens=0, output_tokens=0), steps=(reduced,)),
    ]


def test_calls_without_usage_are_excluded_from_reductions_and_counted() -> None:
    reduced = StepEvent(step="compression", tokens_before=1000, tokens_after=500)
    s = summarize(_squeezed(reduced))
    # the measured call: 500 actual of 1000 counterfactual; the others would read as 100 %
    assert s.token_reduction == pytest.approx(0.5)
    assert s.average_reduction == pytest.approx(0.5)
    assert s.tokens.actual == 500 and s.tokens.counterfactual == 1000
    assert s.usage_unavailable == 2 and s.llm_calls == 3


def test_a_cache_hit_keeps_its_whole_reduction() -> None:
    hit = make_record(
        usage=TokenUsage(input_tokens=300, output_tokens=20), llm_called=False, cache_hit=True
    )
    s = summarize([hit])
    assert s.token_reduction == 1.0 and s.usage_unavailable == 0


def test_stats_name_every_step_as_the_graph_does() -> None:
    hit = make_record(
        usage=TokenUsage(input_tokens=300, output_tokens=20), llm_called=False, cache_hit=True
    )
    console = Console(width=200, record=True)
    for table in summary_tables(summarize([hit])):
        console.print(table)
    text = console.export_text()
    assert "response_cache" not in text
    # step rows: step | tokens saved | USD vs no caching | USD net of lost cache reads
    rows = [line.split("│")[1:3] for line in text.splitlines() if line.count("│") == 5]
    # the hit's tokens, on the graph's step name
    assert ["cache", "320"] in [[cell.strip() for cell in row] for row in rows]
    for step in STEP_NAMES:
        assert f"│ {step} " in text
    assert "model calls without usage (excluded)" in text


def test_dashboard_time_series_fits_a_short_run_inside_the_window() -> None:
    now = time.time()
    store = MemoryMetricsStore()
    run_start = now - 3600  # a five-minute run an hour ago
    for i in range(10):
        usage = TokenUsage(input_tokens=100, output_tokens=10)
        store.add(make_record(usage=usage, ts=run_start + i * 30))
    assert store.flush(5)
    client = TestClient(create_app(store))
    points = client.get("/api/timeseries?window=24h&buckets=10").json()["points"]
    assert points[0]["start"] == pytest.approx(run_start)
    assert points[-1]["end"] == pytest.approx(run_start + 270, abs=1e-3)
    assert [p["requests"] for p in points] == [1] * 10  # spread out, not one dot
    everything = client.get("/api/timeseries?window=all&buckets=10").json()["points"]
    assert [p["requests"] for p in everything] == [1] * 10


def test_dashboard_time_series_of_a_burst_spans_a_minute_up_to_now() -> None:
    now = time.time()
    store = MemoryMetricsStore()
    store.add(make_record(usage=TokenUsage(input_tokens=5, output_tokens=1), ts=now - 2))
    assert store.flush(5)
    points = TestClient(create_app(store)).get("/api/timeseries?window=1h&buckets=6").json()
    span = points["points"][-1]["end"] - points["points"][0]["start"]
    assert 59 <= span <= 62
    assert sum(p["requests"] for p in points["points"]) == 1


def test_dashboard_page_names_the_cache_step_once() -> None:
    client = TestClient(create_app(MemoryMetricsStore()))
    js = client.get("/static/dashboard.js").text
    assert '"response_cache", "tool_selection"' not in js
    assert 'var SAVINGS = ["cache", "tool_selection"' in js
    assert "kpi-no-usage" in client.get("/").text
