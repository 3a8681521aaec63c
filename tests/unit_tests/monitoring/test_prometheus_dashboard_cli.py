from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from langchain_tokenopt.cli import app as cli_app
from langchain_tokenopt.monitoring import (
    MemoryMetricsStore,
    ModelPrice,
    Pricer,
    SQLiteMetricsStore,
)
from langchain_tokenopt.monitoring.dashboard import create_app
from langchain_tokenopt.monitoring.prometheus import register_metrics, render_metrics

from .factory import worked_records

PRICER = Pricer(overrides={"m1": ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)})
ALLOWED_LABELS = {"model", "provider", "type", "layer", "step", "error_type", "le"}


@pytest.fixture
def store() -> Iterator[MemoryMetricsStore]:
    s = MemoryMetricsStore(pricer=PRICER, flush_interval=0.01)
    for r in worked_records():
        s.add(r)
    assert s.flush(5)
    yield s
    s.close()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for sample in fam.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_prometheus_names_values_and_labels(store: MemoryMetricsStore) -> None:
    text = render_metrics(store).decode()
    samples = _samples(text)
    m1 = (("model", "m1"), ("provider", "unknown"))
    assert samples[("tokenopt_gen_ai_requests_total", m1)] == 2
    assert samples[("tokenopt_gen_ai_tokens_total", (*m1, ("type", "cache_read")))] == 600
    assert samples[("tokenopt_gen_ai_tokens_total", (*m1, ("type", "input")))] == 1000
    assert samples[("tokenopt_gen_ai_cache_hits_total", (("layer", "exact"),))] == 1
    assert samples[("tokenopt_gen_ai_tokens_saved_total", (("step", "compression"),))] == 200
    assert samples[("tokenopt_gen_ai_errors_total", (("error_type", "TimeoutError"),))] == 1
    assert samples[("tokenopt_gen_ai_unpriced_requests_total", ())] == 2
    assert samples[("tokenopt_gen_ai_cost_usd_total", m1)] == pytest.approx(1400e-6)
    count = samples[("tokenopt_gen_ai_request_duration_seconds_count", m1)]
    assert count == 2
    for (_, labels), _v in samples.items():
        assert {k for k, _ in labels} <= ALLOWED_LABELS
    assert "tenant" not in text and "u1" not in text


def test_register_metrics_in_a_users_registry(store: MemoryMetricsStore) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    collector = register_metrics(store, registry=registry)
    text = generate_latest(registry).decode()
    assert 'tokenopt_gen_ai_cache_hits_total{layer="exact"} 1.0' in text
    registry.unregister(collector)
    assert "tokenopt_gen_ai" not in generate_latest(registry).decode()


def test_dashboard_api_and_token(store: MemoryMetricsStore) -> None:
    client = TestClient(create_app(store, token="s3cret"))
    assert client.get("/api/summary").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    auth = {"Authorization": "Bearer s3cret"}
    page = client.get("/")
    assert page.status_code == 200 and "chart-tokens" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    js = client.get("/static/charts.js")
    assert js.status_code == 200 and "TokenOptCharts" in js.text
    assert client.get("/static/../app.py").status_code == 404
    s = client.get("/api/summary?window=1h&group_by=tenant", headers=auth).json()
    assert s["requests"] == 4 and s["cache_hits"] == 1 and len(s["groups"]) == 3
    assert client.get("/api/summary?group_by=prompt", headers=auth).status_code == 400
    ts = client.get("/api/timeseries?window=1h&buckets=12", headers=auth).json()
    assert len(ts["points"]) == 12 and sum(p["requests"] for p in ts["points"]) == 4
    top = client.get("/api/top?by=model&window=1h", headers=auth).json()
    assert [(g["key"], g["requests"]) for g in top["groups"]] == [("m1", 2), ("m2", 2)]
    metrics = client.get("/metrics", headers=auth)
    assert metrics.status_code == 200 and "tokenopt_gen_ai_tokens_total" in metrics.text


def test_cli_stats_prints_the_summary(tmp_path: Path) -> None:
    path = tmp_path / "cli.sqlite"
    store = SQLiteMetricsStore(path=path, pricer=PRICER, flush_interval=0.01)
    for r in worked_records(time.time()):
        store.add(r)
    assert store.flush(5)
    store.close()
    runner = CliRunner()
    result = runner.invoke(cli_app, ["stats", "--db", str(path), "--window", "1h", "--by", "model"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert re.search(r"│ requests\s+│\s+4 │", out), out
    assert "25.0%" in out  # request cache-hit rate 1/4
    assert "TimeoutError: 1" in out
    assert "m1" in out and "m2" in out
    bad = runner.invoke(cli_app, ["stats", "--db", str(path), "--window", "24x"])
    assert bad.exit_code == 2 and "window" in bad.output
    missing = runner.invoke(cli_app, ["bench", "no_such_area"])
    assert missing.exit_code == 2 and "not found" in missing.output
