from __future__ import annotations

import time

import numpy as np
import pytest

from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.monitoring import (
    MemoryMetricsStore,
    ModelPrice,
    Pricer,
    parse_window,
    percentile,
    summarize,
)
from langchain_tokenopt.monitoring.timeseries import timeseries

from .factory import worked_records


def test_percentile_worked_example() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile(values, 99) == pytest.approx(9.91)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    rng = np.random.default_rng(0)
    sample = rng.exponential(size=101).tolist()
    for q in (50, 95, 99):
        assert percentile(sample, q) == pytest.approx(float(np.percentile(sample, q)))


def test_parse_window() -> None:
    assert parse_window("24h") == 86400
    assert parse_window("15m") == 900
    assert parse_window("2w") == 14 * 86400
    assert parse_window("all") is None and parse_window(None) is None
    assert parse_window(30) == 30.0
    for bad in ("24x", "-1h", "h"):
        with pytest.raises(TokenOptConfigError):
            parse_window(bad)


def test_summary_worked_example() -> None:
    s = summarize(worked_records())
    assert (s.requests, s.llm_calls, s.cache_hits) == (4, 3, 1)
    assert s.cache_hits_by_layer == {"exact": 1}
    assert s.request_cache_hit_rate == pytest.approx(0.25)
    # known usage: r1 (1200 actual, 1400 counterfactual), r2 hit (0 actual, 500 counterfactual)
    assert s.tokens.actual == 1200
    assert s.tokens.counterfactual == 1900
    assert s.tokens.cache_read == 600 and s.tokens.input == 1000
    assert s.token_cache_hit_rate == pytest.approx(500 / 1900)
    assert s.prompt_cache_read_rate == pytest.approx(0.6)
    assert s.token_reduction == pytest.approx(1 - 1200 / 1900)
    assert s.average_reduction == pytest.approx(((1 - 1200 / 1400) + 1.0) / 2)
    assert s.tokens_saved_by_step == {
        "cache": 500,
        "tool_selection": 0,
        "compression": 200,
        "context": 0,
    }
    assert s.errors == {"TimeoutError": 1}
    assert s.usage_unavailable == 2
    # latency over the three successful requests: 2, 50, 104 ms
    assert s.latency.p50 == pytest.approx(50.0)
    assert s.latency.p95 == pytest.approx(50 + 0.9 * 54)
    assert s.optimizer_latency.count == 4
    assert s.optimizer_latency.p50 == pytest.approx(1.0)
    # no record was priced: USD fields are None, not 0
    assert s.cost.priced_requests == 0 and s.cost.actual_usd is None
    assert s.cost.pricing_coverage == 0.0


def test_summary_groups_and_costs_through_a_store() -> None:
    pricer = Pricer(
        overrides={"m1": ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)},
        use_genai_prices=False,
    )
    store = MemoryMetricsStore(pricer=pricer, flush_interval=0.01)
    for record in worked_records():
        store.add(record)
    assert store.flush(5)
    s = store.summary(window="1h", group_by=("tenant",))
    assert s.cost.priced_requests == 2
    assert s.cost.pricing_coverage == pytest.approx(0.5)
    assert s.cost.unpriced_models == ("m2",)
    r1_actual = 1000e-6 + 400e-6
    assert s.cost.actual_usd == pytest.approx(r1_actual)
    assert s.cost.counterfactual_usd == pytest.approx(r1_actual + 200e-6 + 400e-6 + 200e-6)
    assert s.cost.savings_by_step["response_cache"] == pytest.approx(600e-6)
    assert s.cost.savings_by_step["compression"] == pytest.approx(200e-6)
    keys = [g.key["tenant"] for g in s.groups]
    assert keys == ["a", "b", None]
    assert [g.summary.requests for g in s.groups] == [2, 1, 1]
    assert s.groups[1].summary.cache_hits == 1
    with pytest.raises(TokenOptConfigError):
        store.summary(group_by=("prompt",))  # type: ignore[arg-type]
    # window filtering
    assert store.summary(window="8s").requests == 1
    store.close()


def test_timeseries_buckets_add_up() -> None:
    now = time.time()
    records = worked_records(now)
    points = timeseries(records, start=now - 40, end=now + 1e-6, buckets=4)
    assert [p.requests for p in points] == [1, 1, 1, 1]
    assert sum(p.tokens_counterfactual for p in points) == 1900
    assert points[1].hit_rate == 1.0
    assert points[2].errors == 1
