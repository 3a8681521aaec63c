from __future__ import annotations

import dataclasses

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.monitoring import (
    CachingRules,
    ModelPrice,
    RequestShape,
    caching_provider,
    caching_rules,
    price_thread,
)
from langchain_tokenopt.tokens import TokenCounter

M = 1e-6  # USD per token at 1 USD per million tokens


def shape(*parts: tuple[str, int], at: float = 0.0, out: int = 0, bp: tuple[int, ...] = ()):
    return RequestShape(parts=parts, output_tokens=out, at=at, breakpoints=bp)


# ---------------------------------------------------------------- hand-computed examples
def test_anthropic_hand_computed_thread() -> None:
    """Claude Sonnet 4.5 at genai-prices' rates: input 3.00, output 15.00, read 0.30, write 3.75.

    Parts: tools T 1500, system S 1000, then messages. Breakpoints: end of S, end of history.

    R1 (t=0)   T S u1(200), bp S: nothing cached; write T+S = 2500, 200 uncached.
               200*3 + 2500*3.75 + 100 out*15 = 600 + 9375 + 1500 = 11475 (USD 1e-6)
    R2 (t=120) T S u1 a1(300) u2(100), bp S, u2: S entry alive -> read 2500;
               u2 entry new -> write 3100 - 2500 = 600.
               2500*0.3 + 600*3.75 + 50*15 = 750 + 2250 + 750 = 3750
    R3 (t=400) ... a2(150) u3(50), bp S, u3: lookback from u3 finds u2 (written at 120,
               alive until 420) -> read 3100, write 3300 - 3100 = 200.
               3100*0.3 + 200*3.75 + 20*15 = 930 + 750 + 300 = 1980
    Total 17205e-6 USD = 5735 full-price units; reuse 5600 / 9100.
    Without caching: 9100*3 + 170*15 = 29850e-6 USD.
    """
    base = [("T", 1500), ("S", 1000), ("u1", 200)]
    r2 = [*base, ("a1", 300), ("u2", 100)]
    r3 = [*r2, ("a2", 150), ("u3", 50)]
    cost = price_thread(
        [
            shape(*base, at=0, out=100, bp=(1,)),
            shape(*r2, at=120, out=50, bp=(1, 4)),
            shape(*r3, at=400, out=20, bp=(1, -1)),
        ],
        model="claude-sonnet-4-5",
        provider="anthropic",
    )
    assert cost.price_source == "genai-prices"
    rows = [
        (r.uncached_input_tokens, r.cache_read_tokens, r.cache_write_tokens) for r in cost.requests
    ]
    assert rows == [(200, 0, 2500), (0, 2500, 600), (0, 3100, 200)]
    assert [r.usd for r in cost.requests] == pytest.approx([11475 * M, 3750 * M, 1980 * M])
    assert cost.usd == pytest.approx(17205 * M)
    assert cost.full_price_units == pytest.approx(5735)
    assert cost.usd_without_caching == pytest.approx(29850 * M)
    assert (cost.input_tokens, cost.cache_read_tokens, cost.cache_write_tokens) == (
        9100,
        5600,
        3300,
    )
    assert cost.prefix_reuse == pytest.approx(5600 / 9100)
    assert cost.requests[1].usage.cache_creation_tokens == 600


def test_openai_hand_computed_thread() -> None:
    """GPT-4o at genai-prices' rates: input 2.50, cached input 1.25 (0.5x), output 10.00.

    R1 (t=0)   S(1100) u1(30) = 1130: nothing cached yet.
               1130*2.5 + 100*10 = 2825 + 1000 = 3825
    R2 (t=60)  + a1(200) u2(40) = 1370: shares S u1 = 1130 -> 1024 + 0*128 = 1024 read.
               346*2.5 + 1024*1.25 + 50*10 = 865 + 1280 + 500 = 2645
    R3 (t=120) + a2(100) u3(20) = 1490: shares 1370 -> 1024 + 2*128 = 1280 read.
               210*2.5 + 1280*1.25 + 10*10 = 525 + 1600 + 100 = 2225
    Total 8695e-6 USD; no write surcharge; reuse 2304 / 3990.
    """
    r1 = [("S", 1100), ("u1", 30)]
    r2 = [*r1, ("a1", 200), ("u2", 40)]
    r3 = [*r2, ("a2", 100), ("u3", 20)]
    cost = price_thread(
        [shape(*r1, at=0, out=100), shape(*r2, at=60, out=50), shape(*r3, at=120, out=10)],
        model="gpt-4o",
        provider="openai",
    )
    assert [r.cache_read_tokens for r in cost.requests] == [0, 1024, 1280]
    assert cost.cache_write_tokens == 0
    assert [r.usd for r in cost.requests] == pytest.approx([3825 * M, 2645 * M, 2225 * M])
    assert cost.usd == pytest.approx(8695 * M)
    assert cost.prefix_reuse == pytest.approx(2304 / 3990)


def test_gpt41_reads_at_a_quarter_of_input() -> None:
    """GPT-4.1: input 2.00, cached 0.50. Two identical 2048-token prompts, no output.

    R2 reads 2048 (1024 + 8*128): 2048*0.5 = 1024e-6 USD, i.e. 512 full-price units.
    """
    parts = [("S", 2048)]
    cost = price_thread([shape(*parts), shape(*parts, at=1)], model="gpt-4.1", provider="openai")
    assert cost.requests[1].cache_read_tokens == 2048
    assert cost.requests[1].usd == pytest.approx(1024 * M)
    assert cost.requests[1].full_price_units == pytest.approx(512)


def test_gemini_hand_computed_thread() -> None:
    """Gemini 2.5 Flash at genai-prices' rates: input 0.30, cached 0.03, output 2.50.

    R1 (t=0)  S(1500) u1(100): 1600*0.3 + 200*2.5 = 480 + 500 = 980
    R2 (t=30) + a1(300) u2(50): token-exact read of 1600 (no 128 rounding), 350 uncached.
              350*0.3 + 1600*0.03 + 100*2.5 = 105 + 48 + 250 = 403
    """
    r1 = [("S", 1500), ("u1", 100)]
    r2 = [*r1, ("a1", 300), ("u2", 50)]
    cost = price_thread(
        [shape(*r1, out=200), shape(*r2, at=30, out=100)],
        model="gemini-2.5-flash",
        provider="google_genai",
    )
    assert [r.cache_read_tokens for r in cost.requests] == [0, 1600]
    assert cost.cache_write_tokens == 0
    assert [r.usd for r in cost.requests] == pytest.approx([980 * M, 403 * M])


def test_multipliers_fill_in_missing_cache_prices() -> None:
    """A user price with no cache rates: input 1.00, output 2.00.

    Anthropic: R1 writes 2000 at 1.25 = 2500; R2 reads 2000 at 0.1 = 200.
    Anthropic 1h TTL: the write costs 2.0x = 4000.
    Gemini: R2 reads 2000 at 0.25 = 500.
    """
    price = ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)
    pair = [shape(("S", 2000), bp=(0,)), shape(("S", 2000), at=10, bp=(0,))]
    five = price_thread(pair, model="claude-x", provider="anthropic", price=price)
    assert [r.usd for r in five.requests] == pytest.approx([2500 * M, 200 * M])
    assert five.price_source == "user"
    hour = price_thread(pair, model="claude-x", provider="anthropic", price=price, ttl="1h")
    assert [r.usd for r in hour.requests] == pytest.approx([4000 * M, 200 * M])
    gem = price_thread(pair, model="gemini-x-flash", provider="google", price=price)
    assert [r.usd for r in gem.requests] == pytest.approx([2000 * M, 500 * M])


def test_one_hour_ttl_overrides_the_tables_five_minute_write_price() -> None:
    """Sonnet's table write rate (3.75) is the 5-minute one; 1h writes cost 2 * 3.00 = 6.00."""
    cost = price_thread(
        [shape(("S", 2000), bp=(0,)), shape(("S", 2000), at=3000, bp=(0,))],
        model="claude-sonnet-4-5",
        provider="anthropic",
        ttl="1h",
    )
    assert cost.requests[0].usd == pytest.approx(2000 * 6.0 * M)
    assert cost.requests[1].cache_read_tokens == 2000  # 50 min later: still alive


# ---------------------------------------------------------------- lifetime
@pytest.mark.parametrize("provider", ["anthropic", "openai", "google"])
def test_prefix_expires_after_the_lifetime(provider: str) -> None:
    parts = [("S", 2500), ("q", 10)]
    requests = [shape(*parts, bp=(0,)), shape(*parts, at=300, bp=(0,))]
    model = {"anthropic": "claude-sonnet-4-5", "openai": "gpt-4o", "google": "gemini-2.5-flash"}
    alive = price_thread(requests, model=model[provider], provider=provider)
    assert alive.requests[1].cache_read_tokens > 0  # exactly at the lifetime: still alive
    late = [requests[0], dataclasses.replace(requests[1], at=300.5)]
    expired = price_thread(late, model=model[provider], provider=provider)
    assert expired.requests[1].cache_read_tokens == 0
    assert expired.requests[1].cache_write_tokens == (2500 if provider == "anthropic" else 0)


def test_a_hit_refreshes_the_lifetime() -> None:
    """Written at 0, read at 250 (now alive until 550), read again at 500."""
    parts = [("S", 2000)]
    cost = price_thread(
        [shape(*parts, bp=(0,)), shape(*parts, at=250, bp=(0,)), shape(*parts, at=500, bp=(0,))],
        model="claude-sonnet-4-5",
        provider="anthropic",
    )
    assert [r.cache_read_tokens for r in cost.requests] == [0, 2000, 2000]


# ---------------------------------------------------------------- minimum length
def test_minimum_cacheable_prefix_by_model() -> None:
    assert caching_rules("anthropic", "claude-sonnet-4-5").min_prefix_tokens == 1024
    assert caching_rules("anthropic", "claude-3-5-haiku-latest").min_prefix_tokens == 2048
    assert caching_rules("anthropic", "claude-haiku-4-5").min_prefix_tokens == 4096
    assert caching_rules("openai", "gpt-4o").min_prefix_tokens == 1024
    assert caching_rules("google", "gemini-2.5-flash").min_prefix_tokens == 1024
    assert caching_rules("google", "gemini-2.5-pro").min_prefix_tokens == 2048
    pair = [shape(("S", 1500), bp=(0,)), shape(("S", 1500), at=1, bp=(0,))]
    sonnet = price_thread(pair, model="claude-sonnet-4-5", provider="anthropic")
    haiku = price_thread(pair, model="claude-3-5-haiku-latest", provider="anthropic")
    assert sonnet.requests[1].cache_read_tokens == 1500
    assert haiku.cache_read_tokens == haiku.cache_write_tokens == 0
    flash = price_thread(pair, model="gemini-2.5-flash", provider="google")
    pro = price_thread(pair, model="gemini-2.5-pro", provider="google")
    assert (flash.cache_read_tokens, pro.cache_read_tokens) == (1500, 0)


# ---------------------------------------------------------------- OpenAI increments
@pytest.mark.parametrize(
    ("shared", "read"), [(1023, 0), (1024, 1024), (1151, 1024), (1152, 1152), (1500, 1408)]
)
def test_openai_reads_in_128_token_increments(shared: int, read: int) -> None:
    first = shape(("S", shared), ("q1", 5))
    second = shape(("S", shared), ("q2", 5), at=1)
    cost = price_thread([first, second], model="gpt-4o", provider="openai")
    assert cost.requests[1].cache_read_tokens == read


def test_changed_part_ends_the_shared_prefix() -> None:
    """OpenAI: the system prompt changes, so nothing is shared although the tools are."""
    first = shape(("tools", 3000), ("system-v1", 500))
    second = shape(("tools", 3000), ("system-v2", 500), at=1)
    third = shape(("tools-v2", 3000), ("system-v1", 500), at=2)
    cost = price_thread([first, second, third], model="gpt-4o", provider="openai")
    assert [r.cache_read_tokens for r in cost.requests] == [0, 2944, 0]  # 1024 + 15*128


# ---------------------------------------------------------------- Anthropic breakpoints
def test_anthropic_without_breakpoints_caches_nothing() -> None:
    parts = [("S", 5000), ("q", 10)]
    cost = price_thread(
        [shape(*parts), shape(*parts, at=1)], model="claude-sonnet-4-5", provider="anthropic"
    )
    assert cost.cache_read_tokens == cost.cache_write_tokens == 0
    assert cost.usd == pytest.approx(cost.usd_without_caching)


def test_anthropic_breakpoint_placement() -> None:
    """Only prefixes ending at a breakpoint are written; tokens after the last one are not."""
    parts = [("S", 3000), ("q", 10)]
    on_system = price_thread(
        [shape(*parts, bp=(0,)), shape(("S", 3000), ("q2", 20), at=1, bp=(0,))],
        model="claude-sonnet-4-5",
        provider="anthropic",
    )
    first = on_system.requests[0]
    assert (first.uncached_input_tokens, first.cache_write_tokens) == (10, 3000)
    assert on_system.requests[1].cache_read_tokens == 3000
    # The first request marks only its last part (S + q): the second, with another
    # question, finds no entry at S (never written), so it reads nothing.
    on_question = price_thread(
        [shape(*parts, bp=(1,)), shape(("S", 3000), ("q2", 20), at=1, bp=(1,))],
        model="claude-sonnet-4-5",
        provider="anthropic",
    )
    assert on_question.requests[1].cache_read_tokens == 0
    assert on_question.requests[1].cache_write_tokens == 3020


def test_anthropic_lookback_is_20_parts() -> None:
    first = shape(("S", 2000), bp=(0,))
    near = shape(("S", 2000), *[(f"m{i}", 10) for i in range(20)], at=1, bp=(20,))
    far = shape(("S", 2000), *[(f"m{i}", 10) for i in range(21)], at=1, bp=(21,))
    model = {"model": "claude-sonnet-4-5", "provider": "anthropic"}
    assert price_thread([first, near], **model).requests[1].cache_read_tokens == 2000
    assert price_thread([first, far], **model).requests[1].cache_read_tokens == 0


def test_anthropic_allows_at_most_four_breakpoints() -> None:
    five = shape(*[(f"p{i}", 300) for i in range(5)], bp=(0, 1, 2, 3, 4))
    with pytest.raises(TokenOptConfigError, match="at most 4 breakpoints"):
        price_thread([five], model="claude-sonnet-4-5", provider="anthropic")
    # OpenAI ignores breakpoints.
    assert price_thread([five], model="gpt-4o", provider="openai").usd > 0


# ---------------------------------------------------------------- validation
def test_validation_errors() -> None:
    with pytest.raises(TokenOptConfigError, match="breakpoints must index parts"):
        shape(("S", 10), bp=(3,))
    with pytest.raises(TokenOptConfigError, match=">= 0"):
        shape(("S", -1))
    with pytest.raises(TokenOptConfigError, match="time order"):
        price_thread([shape(("S", 1), at=5), shape(("S", 1), at=4)], model="gpt-4o")
    with pytest.raises(TokenOptConfigError, match="no price"):
        price_thread([shape(("S", 1))], model="no-such-model", provider="openai")
    with pytest.raises(TokenOptConfigError, match="no prompt-caching rules"):
        caching_provider("mistralai", "mistral-large")
    with pytest.raises(TokenOptConfigError, match="cannot tell the provider"):
        caching_provider(None, "llama-3")
    with pytest.raises(TokenOptConfigError, match="lifetime_s"):
        CachingRules(provider="openai", min_prefix_tokens=1024, lifetime_s=0, read_multiplier=0.5)
    assert caching_provider(None, "openai:gpt-4o") == "openai"
    assert caching_provider("azure_openai", "gpt-4o") == "openai"


def test_custom_rules_replace_the_defaults() -> None:
    rules = dataclasses.replace(caching_rules("openai", "gpt-4o"), lifetime_s=3600.0)
    pair = [shape(("S", 2048)), shape(("S", 2048), at=1800)]
    assert price_thread(pair, model="gpt-4o", rules=rules).cache_read_tokens == 2048
    assert price_thread(pair, model="gpt-4o").cache_read_tokens == 0


# ---------------------------------------------------------------- from LangChain messages
@tool
def lookup_order(order_id: str) -> str:
    """Look an order up by its id."""
    return order_id


@tool
def cancel_order(order_id: str, reason: str) -> str:
    """Cancel an order, giving a reason."""
    return reason


def test_from_messages_orders_and_counts_parts() -> None:
    counter = TokenCounter("gpt-4o")
    system = SystemMessage("You are a support agent. " * 80)
    history = [
        HumanMessage("Where is order 42?", id="a"),
        AIMessage(
            "", tool_calls=[{"name": "lookup_order", "args": {"order_id": "42"}, "id": "c1"}]
        ),
        ToolMessage("shipped", tool_call_id="c1"),
    ]
    tools = [lookup_order, cancel_order]
    got = RequestShape.from_messages(
        [*history[:1], system, *history[1:]], tools=tools, counter=counter
    )
    assert got.input_tokens == counter.count_tools(tools) + counter.count_messages(
        [system, *history]
    )
    assert len(got.parts) == 2 + 4 + 1  # tools, system first, messages, reply priming
    assert [h.split(":")[0] for h, _ in got.parts] == ["tool"] * 2 + ["message"] * 4 + [
        "reply-priming"
    ]
    ordered = RequestShape.from_messages([system, *history], tools=tools, counter=counter)
    assert ordered.parts == got.parts
    assert got.breakpoints == ()


def test_from_messages_hash_ignores_ids_and_cache_control() -> None:
    counter = TokenCounter("gpt-4o")
    plain = RequestShape.from_messages([HumanMessage("hi", id="1")], counter=counter)
    other_id = RequestShape.from_messages([HumanMessage("hi", id="2")], counter=counter)
    marked = RequestShape.from_messages(
        [HumanMessage([{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}])],
        counter=counter,
    )
    edited = RequestShape.from_messages([HumanMessage("hi!")], counter=counter)
    assert plain.parts[0][0] == other_id.parts[0][0]
    assert marked.breakpoints == (0,) and plain.breakpoints == ()
    assert edited.parts[0][0] != plain.parts[0][0]
    text_blocks = RequestShape.from_messages(
        [HumanMessage([{"type": "text", "text": "hi"}])], counter=counter
    )
    assert marked.parts[0][0] == text_blocks.parts[0][0] == plain.parts[0][0]


def test_from_messages_thread_priced_under_anthropic() -> None:
    """Turn 2 repeats tools + system + turn 1; a breakpoint on the system and on the last
    message of each turn: turn 2 reads everything turn 1 wrote."""
    counter = TokenCounter("gpt-4o")
    cc = {"type": "ephemeral"}
    system = SystemMessage([{"type": "text", "text": "Policy. " * 600, "cache_control": cc}])
    turn1 = [system, HumanMessage([{"type": "text", "text": "Q1", "cache_control": cc}])]
    turn2 = [
        system,
        HumanMessage("Q1"),
        AIMessage("A1"),
        HumanMessage([{"type": "text", "text": "Q2", "cache_control": cc}]),
    ]
    tools = [lookup_order]
    s1 = RequestShape.from_messages(turn1, tools=tools, counter=counter, at=0)
    s2 = RequestShape.from_messages(turn2, tools=tools, counter=counter, at=30)
    assert s1.breakpoints == (1, 2) and s2.breakpoints == (1, 4)
    cost = price_thread([s1, s2], model="claude-sonnet-4-5", provider="anthropic")
    written = sum(n for _, n in s1.parts[:3])
    assert cost.requests[0].cache_write_tokens == written
    assert cost.requests[1].cache_read_tokens == written
    assert cost.requests[1].cache_write_tokens == sum(n for _, n in s2.parts[3:5])
    assert cost.requests[1].uncached_input_tokens == s2.parts[-1][1]
