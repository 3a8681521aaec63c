from __future__ import annotations

import pytest
from genai_prices import Usage, calc_price

from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.monitoring import ModelPrice, Pricer, PriceTier, StepEvent, TokenUsage
from langchain_tokenopt.monitoring.pricing import cost_of_usage, price_record

from .factory import make_record

PRICE = ModelPrice(
    input_per_mtok=2.0, output_per_mtok=8.0, cache_read_per_mtok=0.5, cache_write_per_mtok=2.5
)
USAGE = TokenUsage(
    input_tokens=1000, output_tokens=200, cache_read_tokens=600, cache_creation_tokens=100
)
STEPS = (
    StepEvent(step="compression", tokens_before=500, tokens_after=300),
    StepEvent(step="context", tokens_before=800, tokens_after=500),
    StepEvent(step="tool_selection", tokens_before=2000, tokens_after=1000),
)


def test_cached_tokens_are_not_double_counted() -> None:
    # 300 uncached + 600 read + 100 written = the 1000 input tokens, each billed once.
    assert USAGE.uncached_input_tokens == 300
    assert USAGE.total_tokens == 1200
    expected = 300 * 2e-6 + 600 * 0.5e-6 + 100 * 2.5e-6 + 200 * 8e-6
    assert cost_of_usage(PRICE, USAGE) == pytest.approx(expected, rel=1e-12)
    assert cost_of_usage(PRICE, USAGE, prompt_cache=False) == pytest.approx(
        1000 * 2e-6 + 200 * 8e-6, rel=1e-12
    )


def test_savings_by_step_worked_example() -> None:
    cost = price_record(make_record(usage=USAGE, steps=STEPS), PRICE, "user")
    assert cost.priced and cost.price_source == "user"
    assert cost.actual_usd == pytest.approx(0.00275)
    s = cost.savings_usd
    assert s["prompt_cache"] == pytest.approx(0.0036 - 0.00275)
    assert s["compression"] == pytest.approx(200 * 2e-6)
    assert s["context"] == pytest.approx(300 * 2e-6)
    assert s["tool_selection"] == pytest.approx(1000 * 2e-6)
    assert s["response_cache"] == 0.0
    assert cost.counterfactual_usd == pytest.approx(0.0036 + 1500 * 2e-6)
    assert sum(s.values()) == pytest.approx(cost.counterfactual_usd - cost.actual_usd)


def test_response_cache_hit_saves_whole_counterfactual() -> None:
    record = make_record(
        usage=TokenUsage(input_tokens=1000, output_tokens=200),
        llm_called=False,
        cache_hit=True,
        steps=(StepEvent(step="compression", tokens_before=1500, tokens_after=1000),),
    )
    cost = price_record(record, PRICE, "user")
    assert cost.actual_usd == 0.0
    assert cost.counterfactual_usd == pytest.approx(1500 * 2e-6 + 200 * 8e-6)
    assert cost.savings_usd["response_cache"] == pytest.approx(cost.counterfactual_usd)
    assert cost.savings_usd["compression"] == 0.0


def test_unknown_model_is_unpriced_not_zero() -> None:
    pricer = Pricer()
    cost = pricer.price(make_record(model="no-such-model-xyz", usage=USAGE))
    assert not cost.priced
    assert cost.actual_usd is None and cost.counterfactual_usd is None
    assert not Pricer().price(make_record(model=None, usage=USAGE)).priced
    # Known model but no usage (stream without usage): also unpriced, never $0.
    assert not pricer.price(make_record(model="gpt-4o", provider="openai")).priced


def test_genai_prices_match_the_library() -> None:
    cost = Pricer().price(make_record(model="gpt-4o", provider="openai", usage=USAGE))
    ref = calc_price(
        Usage(input_tokens=1000, output_tokens=200, cache_read_tokens=600, cache_write_tokens=100),
        "gpt-4o",
        provider_id="openai",
    )
    assert cost.priced and cost.price_source == "genai-prices"
    assert cost.actual_usd == pytest.approx(float(ref.total_price), rel=1e-9)


def test_tiered_genai_price_uses_the_tier() -> None:
    big = TokenUsage(input_tokens=200_000, output_tokens=1000)
    cost = Pricer().price(make_record(model="gemini-1.5-pro", provider="google", usage=big))
    ref = calc_price(
        Usage(input_tokens=200_000, output_tokens=1000), "gemini-1.5-pro", provider_id="google"
    )
    assert cost.actual_usd == pytest.approx(float(ref.total_price), rel=1e-9)


def test_user_table_overrides_genai() -> None:
    pricer = Pricer(
        overrides={"openai:gpt-4o": ModelPrice(input_per_mtok=1.0, output_per_mtok=1.0)}
    )
    cost = pricer.price(make_record(model="gpt-4o", provider="openai", usage=USAGE))
    assert cost.price_source == "user"
    assert cost.actual_usd == pytest.approx(300e-6 + 600e-6 + 100e-6 + 200e-6)
    with pytest.raises(TokenOptConfigError):
        Pricer(overrides={"x": {"input": 1}})  # type: ignore[dict-item]
    with pytest.raises(TokenOptConfigError):
        ModelPrice(input_per_mtok=-1.0, output_per_mtok=1.0)


def test_manual_tiers() -> None:
    price = ModelPrice(
        input_per_mtok=1.0,
        output_per_mtok=2.0,
        tiers=(PriceTier(threshold=100, input_per_mtok=10.0, output_per_mtok=20.0),),
    )
    small = cost_of_usage(price, TokenUsage(input_tokens=99, output_tokens=1))
    big = cost_of_usage(price, TokenUsage(input_tokens=100, output_tokens=1))
    assert small == pytest.approx(99e-6 + 2e-6)
    assert big == pytest.approx(100 * 10e-6 + 20e-6)
