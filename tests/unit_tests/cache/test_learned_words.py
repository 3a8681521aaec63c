"""Word equivalences a tenant learns from its own answers, on the real packaged embedder.

The verifier's lexicon does not relate "shipping" and "delivery"; once two distinct question
pairs differing only by that pair got equivalent answers (and none got different ones), the
tenant's verifier explains it, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from langchain_core.outputs import Generation

from langchain_tokenopt.cache import (
    NearMissVerifier,
    OnlineCalibration,
    SemanticCache,
    cache_scope,
)
from langchain_tokenopt.errors import TokenOptConfigError

from .conftest import CountingEmbeddings
from .helpers import chat_prompt, llm_string, reopening

MakeCache = Callable[..., SemanticCache]
LLM = llm_string()
#: Below every pair's similarity (0.8-0.95): a verifier-accepted candidate is served, so an
#: outcome tells the verifier's verdict ("rejected" / "semantic_hit") without any lowering.
THRESHOLD = 0.7
KEY = NearMissVerifier.equivalence_key("delivery", "ship")
#: Question pairs whose only difference is "shipping" / "delivery".
PAIRS = [
    ("Is shipping free for members?", "Is delivery free for members?"),
    ("How long does shipping take to Canada?", "How long does delivery take to Canada?"),
    ("Do you offer shipping on weekends?", "Do you offer delivery on weekends?"),
    ("Can I track my shipping online?", "Can I track my delivery online?"),
]
PROBE = ("How much does shipping cost?", "How much does delivery cost?")


def config(**kw: object) -> OnlineCalibration:
    return OnlineCalibration(**{"exploration": 0.0, "seed": 0, **kw})  # type: ignore[arg-type]


def answer(text: str) -> list[Generation]:
    return [Generation(text=text)]


def ask(cache: SemanticCache, pair: tuple[str, str], *, same: bool = True, desk: str) -> str:
    """Store the first question, ask the second, give its fresh answer; return the outcome."""
    cached, asked = pair
    cache.update(chat_prompt(cached, system=desk), LLM, answer(f"Answer to: {cached}"))
    result, gens = cache.lookup_detailed(chat_prompt(asked, system=desk), LLM)
    if gens is None:
        fresh = f"Answer to: {cached}" if same else "Something else entirely, 42 euros."
        cache.update(chat_prompt(asked, system=desk), LLM, answer(fresh))
    return result.outcome


def learned(cache: SemanticCache, tenant: str) -> tuple[str, ...]:
    state = cache.stats().calibration.get(tenant)
    return () if state is None else state.learned_words


def test_verifier_reports_the_unexplained_pair_and_uses_only_what_it_is_given() -> None:
    verifier = NearMissVerifier()
    refused = verifier.verify(*PROBE, 0.9)
    assert not refused.accepted and refused.reason.startswith("unexplained")
    assert refused.unexplained == (("ship",), ("delivery",))
    accepted = verifier.verify(*PROBE, 0.9, learned={KEY}.__contains__)
    assert accepted.accepted and accepted.learned == (KEY,)
    # another pair is not explained by it
    other = verifier.verify("How much does shipping cost?", "How much does insurance cost?", 0.9)
    assert not verifier.verify(
        "How much does shipping cost?",
        "How much does insurance cost?",
        0.9,
        learned={KEY}.__contains__,
    ).accepted
    assert other.unexplained == (("ship",), ("insurance",))


@pytest.mark.parametrize(
    ("query", "candidate", "code"),
    [
        ("Is shipping free for members?", "Is delivery not free for members?", "negation"),
        (
            "How much does shipping cost for 2 boxes?",
            "How much does delivery cost for 3 boxes?",
            "number",
        ),
        ("Is shipping cheap for members?", "Is delivery expensive for members?", "antonym"),
        ("Is shipping to Canada free?", "Is delivery to Mexico free?", "entity"),
        ("Can I switch from shipping to pickup?", "Can I switch from pickup to delivery?", "roles"),
    ],
)
def test_a_learnt_pair_never_overrides_another_check(query: str, candidate: str, code: str) -> None:
    verdict = NearMissVerifier().verify(query, candidate, 0.9, learned={KEY}.__contains__)
    assert not verdict.accepted
    assert verdict.reason.split(":")[0] == code
    assert verdict.unexplained is None  # nothing to learn from: another check refused it


def test_learnt_only_after_the_required_confirmations(make_cache: MakeCache) -> None:
    cache = make_cache(similarity_threshold=THRESHOLD, calibration=config())
    with cache_scope(tenant_id="acme"):
        assert ask(cache, PAIRS[0], desk="a") == "rejected"  # the first confirmation
        assert learned(cache, "acme") == ()
        # the same question pair again is no second confirmation
        assert ask(cache, PAIRS[0], desk="a-again") == "rejected"
        assert learned(cache, "acme") == ()
        assert ask(cache, PAIRS[1], desk="b") == "rejected"  # the second one
        assert learned(cache, "acme") == (KEY,)
        assert ask(cache, PROBE, desk="probe-2") == "semantic_hit"
        # nothing else is explained: the same frame with another noun is still refused
        other = ("How much does shipping cost?", "How much does insurance cost?")
        assert ask(cache, other, desk="probe-3") != "semantic_hit"


def test_off_learns_nothing(make_cache: MakeCache) -> None:
    cache = make_cache(similarity_threshold=THRESHOLD, calibration=config(word_confirmations=0))
    with cache_scope(tenant_id="acme"):
        for i, pair in enumerate(PAIRS):
            assert ask(cache, pair, desk=f"d{i}") == "rejected"
        assert ask(cache, PROBE, desk="probe") == "rejected"
        assert learned(cache, "acme") == ()
    with pytest.raises(TokenOptConfigError):
        OnlineCalibration(word_confirmations=-1)


def test_one_contradiction_vetoes_the_pair_for_good(make_cache: MakeCache) -> None:
    cache = make_cache(similarity_threshold=THRESHOLD, calibration=config())
    with cache_scope(tenant_id="acme"):
        assert ask(cache, PAIRS[0], desk="a") == "rejected"
        assert ask(cache, PAIRS[1], desk="b", same=False) == "rejected"  # answers differ
        for i, pair in enumerate(PAIRS[2:] + PAIRS[:2]):
            assert ask(cache, pair, desk=f"more-{i}") == "rejected"
        assert learned(cache, "acme") == ()
        assert ask(cache, PROBE, desk="probe") == "rejected"


def test_an_accepted_candidate_whose_answer_differs_unlearns_the_pair(
    make_cache: MakeCache,
) -> None:
    """In the band, a candidate accepted through a learnt pair is compared; a differing
    answer vetoes the pair."""
    cache = make_cache(similarity_threshold=0.995, calibration=config())
    with cache_scope(tenant_id="acme"):
        assert ask(cache, PAIRS[0], desk="a") == "miss"
        assert ask(cache, PAIRS[1], desk="b") == "miss"
        assert learned(cache, "acme") == (KEY,)
        # accepted through the pair, in the band: looked up as a miss and compared
        assert ask(cache, PROBE, desk="probe", same=False) == "miss"
        assert learned(cache, "acme") == ()
        state = cache.stats().calibration["acme"]
        assert (state.observations, state.errors) == (1, 1)


def test_tenants_learn_apart_unless_pooled(make_cache: MakeCache) -> None:
    cache = make_cache(similarity_threshold=THRESHOLD, calibration=config())
    with cache_scope(tenant_id="a"):
        ask(cache, PAIRS[0], desk="a0")
        ask(cache, PAIRS[1], desk="a1")
        assert ask(cache, PROBE, desk="a-probe") == "semantic_hit"
    with cache_scope(tenant_id="b"):
        assert ask(cache, PROBE, desk="b-probe") == "rejected"
        assert learned(cache, "b") == ()
    pooled = make_cache(
        "pooled.sqlite3", similarity_threshold=THRESHOLD, calibration=config(pool="cache")
    )
    with cache_scope(tenant_id="a"):
        ask(pooled, PAIRS[0], desk="a0")
    with cache_scope(tenant_id="b"):
        ask(pooled, PAIRS[1], desk="b1")
    with cache_scope(tenant_id="c"):
        assert ask(pooled, PROBE, desk="c-probe") == "semantic_hit"
    assert pooled.stats().calibration["*"].learned_words == (KEY,)


def test_learned_words_survive_a_restart_and_reset_per_tenant(
    tmp_path: Path, embeddings: CountingEmbeddings
) -> None:
    make = reopening(
        tmp_path / "cache.sqlite3", embeddings, threshold=THRESHOLD, calibration=config()
    )

    cache = make()
    for tenant in ("a", "b"):
        with cache_scope(tenant_id=tenant):
            ask(cache, PAIRS[0], desk=f"{tenant}0")
            ask(cache, PAIRS[1], desk=f"{tenant}1")
    with cache_scope(tenant_id="c"):
        ask(cache, PAIRS[0], desk="c0", same=False)  # vetoed
    cache.close()
    cache = make()
    try:
        with cache_scope(tenant_id="c"):  # the veto is kept too
            ask(cache, PAIRS[1], desk="c1")
            ask(cache, PAIRS[2], desk="c2")
            assert learned(cache, "c") == ()
        with cache_scope(tenant_id="a"):
            assert ask(cache, PROBE, desk="after restart") == "semantic_hit"
        cache.reset_calibration(tenant_id="a")
        with cache_scope(tenant_id="a"):
            assert ask(cache, PROBE, desk="after reset") == "rejected"
        with cache_scope(tenant_id="b"):
            assert ask(cache, PROBE, desk="after reset") == "semantic_hit"
    finally:
        cache.close()


def test_async_path_learns_too(make_cache: MakeCache) -> None:
    import asyncio

    cache = make_cache(similarity_threshold=THRESHOLD, calibration=config())

    async def ask_async(pair: tuple[str, str], desk: str) -> str:
        cached, asked = pair
        await cache.aupdate(chat_prompt(cached, system=desk), LLM, answer(f"A: {cached}"))
        result, gens = await cache.alookup_detailed(chat_prompt(asked, system=desk), LLM)
        if gens is None:
            await cache.aupdate(chat_prompt(asked, system=desk), LLM, answer(f"A: {cached}"))
        return result.outcome

    async def scenario() -> list[str]:
        with cache_scope(tenant_id="acme"):
            return [
                await ask_async(PAIRS[0], "a"),
                await ask_async(PAIRS[1], "b"),
                await ask_async(PROBE, "probe"),
            ]

    assert asyncio.run(scenario()) == ["rejected", "rejected", "semantic_hit"]
