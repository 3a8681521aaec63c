"""Savings against the cached baseline (net of lost cache reads), and ``price_as``.

Every expected figure is worked out by hand from the formulas in
``langchain_tokenopt.monitoring.pricing``'s docstring::

    lost_reads = after * (1 - cache_read / input)
    net = (before - after) * read_rate - lost_reads * (input_rate - read_rate)
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from genai_prices import Usage, calc_price
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from typer.testing import CliRunner

from langchain_tokenopt.cli import app as cli_app
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.monitoring import (
    REQUEST_ID_KEY,
    MemoryMetricsStore,
    ModelPrice,
    Pricer,
    SQLiteMetricsStore,
    StepEvent,
    TokenOptCallbackHandler,
    TokenUsage,
    caching_rules,
    price_record,
)
from langchain_tokenopt.monitoring.dashboard import create_app

from .factory import make_record

SONNET = ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0)  # read filled in: 0.1x = 0.3
GPT41 = ModelPrice(input_per_mtok=2.0, output_per_mtok=8.0, cache_read_per_mtok=0.5)
GEMINI_PRO = ModelPrice(input_per_mtok=1.25, output_per_mtok=10.0)  # read filled in: 0.25x


def _steps(*triples: tuple[str, int, int]) -> tuple[StepEvent, ...]:
    return tuple(StepEvent(step=s, tokens_before=b, tokens_after=a) for s, b, a in triples)  # type: ignore[arg-type]


def test_anthropic_net_savings_hand_computed() -> None:
    # Default mode, nothing read from the cache: every token sent is a lost cache read.
    record = make_record(
        model="claude-sonnet-4-5",
        provider="anthropic",
        usage=TokenUsage(input_tokens=1000, output_tokens=100),
        steps=_steps(
            ("compression", 2000, 300), ("tool_selection", 3000, 200), ("context", 1500, 500)
        ),
    )
    rules = caching_rules("anthropic", "claude-sonnet-4-5")
    cost = price_record(record, SONNET, "user", rules=rules)
    net = cost.net_savings_usd
    # compression: 1700 * 0.3 - 300 * 2.7 = 510 - 810 = -300 micro-USD (it lost money)
    assert net["compression"] == pytest.approx(-300e-6)
    # tool_selection: 2800 * 0.3 - 200 * 2.7 = 840 - 540 = 300 micro-USD
    assert net["tool_selection"] == pytest.approx(300e-6)
    # context: 1000 * 0.3 - 500 * 2.7 = 300 - 1350 = -1050 micro-USD
    assert net["context"] == pytest.approx(-1050e-6)
    assert net["response_cache"] == 0.0
    # gross (against no caching): removed tokens at 3.0 per Mtok
    assert cost.savings_usd["compression"] == pytest.approx(1700 * 3e-6)
    # actual 1000 * 3 + 100 * 15 = 4500 micro-USD; the warm cached baseline reads all
    # 6500 prompt tokens at 0.3: 1950 + 1500 = 3450 micro-USD
    assert cost.actual_usd == pytest.approx(4500e-6)
    assert cost.counterfactual_cached_usd == pytest.approx(3450e-6)
    assert sum(net.values()) == pytest.approx(cost.counterfactual_cached_usd - cost.actual_usd)


def test_openai_net_savings_with_our_own_cache_reads() -> None:
    # Half of what we sent was read from the provider's cache (share 0.5).
    record = make_record(
        model="gpt-4.1",
        provider="openai",
        usage=TokenUsage(input_tokens=1000, output_tokens=50, cache_read_tokens=500),
        steps=_steps(("compression", 2000, 400), ("context", 1000, 600)),
    )
    cost = price_record(record, GPT41, "user", rules=caching_rules("openai", "gpt-4.1"))
    # compression: lost 400 * 0.5 = 200; 1600 * 0.5 - 200 * 1.5 = 800 - 300 = 500 micro-USD
    assert cost.net_savings_usd["compression"] == pytest.approx(500e-6)
    # context: lost 300; 400 * 0.5 - 300 * 1.5 = 200 - 450 = -250 micro-USD
    assert cost.net_savings_usd["context"] == pytest.approx(-250e-6)
    # actual: 500 * 2 + 500 * 0.5 + 50 * 8 = 1650; cached baseline 1650 + 250 = 1900
    assert cost.actual_usd == pytest.approx(1650e-6)
    assert cost.counterfactual_cached_usd == pytest.approx(1900e-6)


def test_gemini_net_savings_and_minimum_prefix() -> None:
    rules = caching_rules("google", "gemini-2.5-pro")  # 2,048-token minimum, read 0.25x
    record = make_record(
        model="gemini-2.5-pro",
        usage=TokenUsage(input_tokens=1000, output_tokens=10),
        steps=_steps(("compression", 4000, 1000)),
    )
    # 3000 * 0.3125 - 1000 * 0.9375 = 937.5 - 937.5 = 0: the step only broke even
    cost = price_record(record, GEMINI_PRO, "user", rules=rules)
    assert cost.net_savings_usd["compression"] == pytest.approx(0.0, abs=1e-15)
    # below the provider's minimum prefix nothing would be cached: net == gross
    small = make_record(
        model="gemini-2.5-pro",
        usage=TokenUsage(input_tokens=500, output_tokens=10),
        steps=_steps(("compression", 1500, 500)),
    )
    cost = price_record(small, GEMINI_PRO, "user", rules=rules)
    assert cost.net_savings_usd["compression"] == pytest.approx(1000 * 1.25e-6)
    assert cost.net_savings_usd["compression"] == pytest.approx(cost.savings_usd["compression"])


def test_response_cache_hit_against_the_cached_baseline() -> None:
    record = make_record(
        model="claude-sonnet-4-5",
        usage=TokenUsage(input_tokens=2000, output_tokens=100),
        llm_called=False,
        cache_hit=True,
    )
    cost = price_record(
        record, SONNET, "user", rules=caching_rules("anthropic", "claude-sonnet-4-5")
    )
    # vs no caching: 2000 * 3 + 100 * 15 = 7500; vs caching: 2000 * 0.3 + 1500 = 2100
    assert cost.savings_usd["response_cache"] == pytest.approx(7500e-6)
    assert cost.net_savings_usd["response_cache"] == pytest.approx(2100e-6)
    assert cost.counterfactual_cached_usd == pytest.approx(2100e-6)


def test_provider_without_caching_nets_nothing() -> None:
    pricer = Pricer(overrides={"local": ModelPrice(input_per_mtok=1.0, output_per_mtok=1.0)})
    record = make_record(
        model="local",
        usage=TokenUsage(input_tokens=1000, output_tokens=10),
        steps=_steps(("context", 5000, 1000)),
    )
    cost = pricer.price(record)
    assert cost.net_savings_usd["context"] == pytest.approx(cost.savings_usd["context"])
    assert cost.counterfactual_cached_usd == pytest.approx(cost.counterfactual_usd)


def test_pricer_applies_the_providers_rules() -> None:
    pricer = Pricer(overrides={"claude-sonnet-4-5": SONNET})
    record = make_record(
        model="claude-sonnet-4-5",
        provider="anthropic",
        usage=TokenUsage(input_tokens=1000, output_tokens=100),
        steps=_steps(
            ("compression", 2000, 300), ("tool_selection", 3000, 200), ("context", 1500, 500)
        ),
    )
    assert pricer.price(record).counterfactual_cached_usd == pytest.approx(3450e-6)


# ----------------------------------------------------------------------------- price_as
def _messages(n: int) -> Iterator[AIMessage]:
    usage: Any = {"input_tokens": 2000, "output_tokens": 100, "total_tokens": 2100}
    for i in range(n):
        yield AIMessage(content=f"answer {i}", usage_metadata=usage)


def _genai_usd(model: str, tokens_in: int, tokens_out: int) -> float:
    return float(
        calc_price(Usage(input_tokens=tokens_in, output_tokens=tokens_out), model).total_price
    )


def _record_local_run(handler: TokenOptCallbackHandler, n: int = 3) -> None:
    model = GenericFakeChatModel(messages=_messages(n))
    for i in range(n):
        rid = f"q{i}"
        handler.record_step(rid, StepEvent(step="context", tokens_before=6000, tokens_after=2000))
        model.invoke("hi", config={"callbacks": [handler], "metadata": {REQUEST_ID_KEY: rid}})


def test_unknown_price_as_fails_at_construction() -> None:
    with pytest.raises(TokenOptConfigError, match="no-such-model.*genai-prices"):
        TokenOptCallbackHandler(store=MemoryMetricsStore(), price_as="no-such-model")
    with pytest.raises(TokenOptConfigError, match="non-empty"):
        TokenOptCallbackHandler(store=MemoryMetricsStore(), price_as="")


def test_price_as_through_handler_and_summary() -> None:
    store = MemoryMetricsStore(flush_interval=0.01)
    plain = TokenOptCallbackHandler(store=MemoryMetricsStore(flush_interval=0.01))
    handler = TokenOptCallbackHandler(store=store, price_as="claude-sonnet-4-5")
    try:
        _record_local_run(plain)
        assert plain.summary(window="1h").cost.actual_usd is None  # a local model: n/a
        _record_local_run(handler)
        assert handler.store.flush(5)
        records = handler.store.records()
        assert [r.price_as for r in records] == ["claude-sonnet-4-5"] * 3
        assert all(r.cost is not None and r.cost.priced_as == "claude-sonnet-4-5" for r in records)
        s = handler.summary(window="1h")
        assert s.cost.priced_as == ("claude-sonnet-4-5",)
        assert s.cost.pricing_coverage == 1.0
        assert s.cost.actual_usd == pytest.approx(3 * _genai_usd("claude-sonnet-4-5", 2000, 100))
        assert s.cost.counterfactual_usd == pytest.approx(
            3 * _genai_usd("claude-sonnet-4-5", 6000, 100)
        )
        # the cached baseline is below the uncached one, so is the saving against it
        assert s.cost.savings_vs_cached_usd is not None and s.cost.savings_usd is not None
        assert s.cost.savings_vs_cached_usd < s.cost.savings_usd
        # re-priced as another model on request
        as_4o = handler.summary(window="1h", price_as="gpt-4o")
        assert as_4o.cost.priced_as == ("gpt-4o",)
        assert as_4o.cost.actual_usd == pytest.approx(3 * _genai_usd("gpt-4o", 2000, 100))
    finally:
        plain.store.close()
        store.close()


def test_price_as_in_cli_stats(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    store = SQLiteMetricsStore(path=path, flush_interval=0.01)
    handler = TokenOptCallbackHandler(store=store, price_as="claude-sonnet-4-5")
    _record_local_run(handler)
    assert store.flush(5)
    store.close()
    runner = CliRunner()
    result = runner.invoke(cli_app, ["stats", "--db", str(path), "--window", "1h"])
    assert result.exit_code == 0, result.output
    expected = 3 * _genai_usd("claude-sonnet-4-5", 2000, 100)
    assert re.search(r"priced as\s+│\s+claude-sonnet-4-5", result.output), result.output
    assert f"${expected:,.6f}" in result.output
    assert "saved vs unoptimized, with provider caching" in result.output
    args = ["stats", "--db", str(path), "--window", "1h", "--price-as", "gpt-4o"]
    as_4o = runner.invoke(cli_app, args)
    assert as_4o.exit_code == 0, as_4o.output
    assert f"${3 * _genai_usd('gpt-4o', 2000, 100):,.6f}" in as_4o.output
    bad = runner.invoke(cli_app, ["stats", "--db", str(path), "--price-as", "no-such-model"])
    assert bad.exit_code == 2 and "no price is known for model 'no-such-model'" in bad.output


def test_dashboard_api_reports_both_baselines_and_price_as() -> None:
    store = MemoryMetricsStore(flush_interval=0.01)
    handler = TokenOptCallbackHandler(store=store, price_as="claude-sonnet-4-5")
    try:
        _record_local_run(handler)
        assert store.flush(5)
        summary = store.summary(window="1h")
        client = TestClient(create_app(store))
        s = client.get("/api/summary?window=1h").json()["cost"]
        assert s["savings_vs_cached_usd"] == pytest.approx(summary.cost.savings_vs_cached_usd)
        assert s["counterfactual_cached_usd"] == pytest.approx(
            summary.cost.counterfactual_cached_usd
        )
        assert s["net_savings_by_step"]["context"] == pytest.approx(
            summary.cost.net_savings_by_step["context"]
        )
        ts = client.get("/api/timeseries?window=1h&buckets=4").json()["points"]
        assert sum(p["cost_counterfactual_cached_usd"] for p in ts) == pytest.approx(
            summary.cost.counterfactual_cached_usd
        )
        as_4o = TestClient(create_app(store, price_as="gpt-4o"))
        cost = as_4o.get("/api/summary?window=1h").json()["cost"]
        assert cost["priced_as"] == ["gpt-4o"]
        assert cost["actual_usd"] == pytest.approx(3 * _genai_usd("gpt-4o", 2000, 100))
        with pytest.raises(TokenOptConfigError):
            create_app(store, price_as="no-such-model")
    finally:
        store.close()


def test_records_round_trip_keep_price_as(tmp_path: Path) -> None:
    store = SQLiteMetricsStore(path=tmp_path / "r.sqlite", flush_interval=0.01)
    handler = TokenOptCallbackHandler(store=store, price_as="gpt-4.1")
    try:
        _record_local_run(handler, n=1)
        assert store.flush(5)
        [record] = store.records()
        assert record.price_as == "gpt-4.1" and record.cost is not None
        assert record.cost.net_savings_usd["context"] != 0.0
        assert time.time() - record.timestamp < 60
    finally:
        store.close()
