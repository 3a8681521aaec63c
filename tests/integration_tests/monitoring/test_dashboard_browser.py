"""Open the dashboard in real headless Chromium and check the charts drew the data."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import sync_playwright

from langchain_tokenopt.monitoring import (
    MemoryMetricsStore,
    ModelPrice,
    Pricer,
    RequestRecord,
    StepEvent,
    TokenUsage,
)
from langchain_tokenopt.monitoring.dashboard import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RESULTS = Path(__file__).resolve().parents[3] / "bench" / "results"
TOKEN = "test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _usd(v: float | None) -> str:
    """The page's USD format (dashboard.js ``usd``)."""
    if v is None:
        return "n/a"
    return ("-$" if v < 0 else "$") + f"{abs(v):.{4 if abs(v) < 1 else 2}f}"


def _records(now: float) -> list[RequestRecord]:
    out = []
    for i in range(60):
        hit = i % 4 == 0
        usage = TokenUsage(
            input_tokens=800 + 10 * i,
            output_tokens=100,
            cache_read_tokens=200,
            cache_creation_tokens=50 if i % 3 == 1 else 0,
        )
        steps = (
            StepEvent(step="compression", tokens_before=1200 + 10 * i, tokens_after=800 + 10 * i,
                      latency_ms=3.0),
            StepEvent(step="tool_selection", tokens_before=3000, tokens_after=1200,
                      latency_ms=2.0, tools_bound=3, tools_catalog=30),
        )  # fmt: skip
        out.append(
            RequestRecord(
                request_id=f"r{i}",
                timestamp=now - 3600 * 20 + i * 1200,
                model="gpt-4o" if i % 3 else "claude-3-5-sonnet-latest",
                provider="openai" if i % 3 else "anthropic",
                tenant_id=["acme", "globex", "initech"][i % 3],
                steps=steps,
                usage=usage,
                usage_available=True,
                llm_called=not hit,
                cache_hit=hit,
                cache_layer="semantic" if hit else None,
                llm_latency_ms=0.0 if hit else 400.0 + 5 * i,
                optimizer_latency_ms=5.0,
                latency_ms=5.0 if hit else 405.0 + 5 * i,
            )
        )
    return out


@pytest.fixture
def served_store() -> Iterator[tuple[str, MemoryMetricsStore, list[RequestRecord]]]:
    pricer = Pricer(overrides={"local": ModelPrice(input_per_mtok=0.0, output_per_mtok=0.0)})
    store = MemoryMetricsStore(pricer=pricer, flush_interval=0.01)
    records = _records(time.time())
    for r in records:
        store.add(r)
    assert store.flush(10)
    port = _free_port()
    config = uvicorn.Config(
        create_app(store, token=TOKEN), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}", store, records
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()


def test_dashboard_charts_draw_recorded_data(
    served_store: tuple[str, MemoryMetricsStore, list[RequestRecord]], tmp_path: Path
) -> None:
    url, store, records = served_store
    summary = store.summary(window="24h")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            external: list[str] = []
            page.on(
                "request",
                lambda r: external.append(r.url) if not r.url.startswith(url) else None,
            )
            page.goto(f"{url}/#token={TOKEN}")
            page.wait_for_function("document.body.dataset.loaded !== undefined", timeout=20_000)
            assert page.evaluate("document.body.dataset.loaded") == "1", page.inner_text("#status")
            drawn = {
                cid: json.loads(page.get_attribute(f"#{cid}", "data-drawn") or "null")
                for cid in (
                    "chart-tokens", "chart-cost", "chart-hits", "chart-latency",
                    "chart-steps", "chart-savings", "chart-tenants", "chart-models",
                    "chart-prompt-cache",
                )
            }  # fmt: skip
            # the charts plotted exactly the recorded figures
            tokens = drawn["chart-tokens"]["series"]
            assert tokens["actual"] == summary.tokens.actual
            assert tokens["without optimization"] == summary.tokens.counterfactual
            cost = drawn["chart-cost"]["series"]
            assert cost["actual"] == pytest.approx(summary.cost.actual_usd)
            assert cost["without optimization"] == pytest.approx(summary.cost.counterfactual_usd)
            # both baselines, each labelled: without and with the provider's prompt caching
            assert cost["without optimization, provider caching"] == pytest.approx(
                summary.cost.counterfactual_cached_usd
            )
            assert summary.cost.savings_vs_cached_usd is not None
            assert summary.cost.savings_usd is not None
            assert summary.cost.savings_vs_cached_usd < summary.cost.savings_usd
            assert page.inner_text("#kpi-saved") == _usd(summary.cost.savings_usd)
            assert page.inner_text("#kpi-saved-cached") == _usd(summary.cost.savings_vs_cached_usd)
            labels = page.inner_text(".kpis")
            assert "vs the full unoptimized request, no provider caching" in labels
            assert "vs the unoptimized request with provider caching" in labels
            # cached input tokens, reads and writes
            assert page.inner_text("#kpi-cache-read") == f"{summary.tokens.cache_read:,}"
            assert page.inner_text("#kpi-cache-write") == f"{summary.tokens.cache_creation:,}"
            prompt_cache = drawn["chart-prompt-cache"]["series"]
            assert prompt_cache["cache reads"] == summary.tokens.cache_read > 0
            assert prompt_cache["cache writes"] == summary.tokens.cache_creation > 0
            # per step, gross and net of the cache reads the step's rewrite destroyed
            savings = drawn["chart-savings"]["series"]
            assert savings["net of lost cache reads"] == pytest.approx(
                sum(summary.cost.net_savings_by_step.values())
            )
            net_row = page.inner_text("#table-savings tr[data-step='compression']").split("\t")
            assert net_row == [
                "compression",
                _usd(summary.cost.savings_by_step["compression"]),
                _usd(summary.cost.net_savings_by_step["compression"]),
            ]
            steps = drawn["chart-steps"]["series"]["tokens saved"]
            assert steps == sum(summary.tokens_saved_by_step.values())
            assert drawn["chart-tenants"]["series"]["requests"] == len(records)
            assert drawn["chart-models"]["series"]["requests"] == len(records)
            assert drawn["chart-latency"]["points"] > 0 and drawn["chart-hits"]["points"] > 0
            # and pixels were actually painted in the series colour
            painted = page.evaluate(
                """() => {
                    const c = document.getElementById('chart-tokens');
                    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    let n = 0;
                    for (let i = 0; i < d.length; i += 4) {
                      if (d[i] === 0x25 && d[i + 1] === 0x63 && d[i + 2] === 0xeb) n++;
                    }
                    return n;
                }"""
            )
            assert painted > 100
            assert page.inner_text("#kpi-requests") == str(summary.requests)
            assert not errors, errors
            assert not external, external
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 20_000
    if os.environ.get("TOKENOPT_SAVE_SCREENSHOT"):  # refresh the committed picture on request
        RESULTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, RESULTS / "dashboard.png")


def test_dashboard_rejects_missing_token(
    served_store: tuple[str, MemoryMetricsStore, list[RequestRecord]],
) -> None:
    import httpx

    url, _, _ = served_store
    assert httpx.get(f"{url}/api/summary").status_code == 401
    assert httpx.get(f"{url}/").status_code == 200
    ok = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "tokenopt_gen_ai_request_duration_seconds" in ok.text
