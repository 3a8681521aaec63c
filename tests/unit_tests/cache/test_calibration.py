"""Online per-tenant threshold calibration, on the real packaged embedder."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from langchain_tokenopt.cache import (
    OnlineCalibration,
    SemanticCache,
    TenantCalibration,
    cache_scope,
)
from langchain_tokenopt.cache.calibration import calibrated_threshold, wilson_upper
from langchain_tokenopt.errors import TokenOptConfigError

from .conftest import CountingEmbeddings
from .helpers import chat_prompt, llm_string, reopening

MakeCache = Callable[..., SemanticCache]
#: A fresh scope (system prompt) for every observation, so no pair ever repeats.
_DESKS = itertools.count()
LLM = llm_string()
ORIGINAL = "How do I reset the password of my account?"
PARAPHRASE = "How can I reset the password for my account?"
#: Configured threshold above the pair's similarity (~0.98), so the pair is in the band.
BASE = 0.995
#: Wilson (95 %, one-sided) allows 0.1 after 25 agreeing observations.
RATE = 0.1


def config(**kw: object) -> OnlineCalibration:
    return OnlineCalibration(**{"max_error_rate": RATE, "exploration": 0.0, "seed": 0, **kw})  # type: ignore[arg-type]


def answer(text: str) -> list[Generation]:
    return [Generation(text=text)]


def observe(cache: SemanticCache, i: int, *, same: bool = True, question: str = PARAPHRASE) -> str:
    """One band observation in its own scope (system prompt): store, miss, fresh answer."""
    system = f"Support desk {i}"
    cache.update(chat_prompt(ORIGINAL, system=system), LLM, answer("Open Settings, then Reset."))
    result, gens = cache.lookup_detailed(chat_prompt(question, system=system), LLM)
    fresh = "Open Settings, then Reset." if same else "Your account was deleted for good."
    cache.update(chat_prompt(question, system=system), LLM, answer(fresh))
    assert gens is None
    return result.outcome


def train(cache: SemanticCache, n: int, *, errors_every: int = 0) -> None:
    for i in range(n):
        same = not (errors_every and i % errors_every == 0)
        assert observe(cache, next(_DESKS), same=same) == "miss"


def probe(cache: SemanticCache, question: str = PARAPHRASE, system: str = "probe") -> str:
    cache.update(chat_prompt(ORIGINAL, system=system), LLM, answer("Open Settings, then Reset."))
    return cache.lookup_detailed(chat_prompt(question, system=system), LLM)[0].outcome


def test_wilson_bound_and_threshold_are_pure_and_conservative() -> None:
    assert wilson_upper(0, 0, 0.95) == 1.0
    assert wilson_upper(0, 24, 0.95) > RATE >= wilson_upper(0, 25, 0.95)
    assert wilson_upper(0, 267, 0.95) > 0.01 >= wilson_upper(0, 268, 0.95)
    assert wilson_upper(3, 300, 0.95) > 0.01
    kw = {"base": 0.93, "floor": 0.5, "max_error_rate": RATE, "confidence": 0.95}
    # every band candidate compared, every request a band candidate: the plain Wilson bound
    lowered = calibrated_threshold({80: (30, 30, 0)}, 30, **kw)  # type: ignore[arg-type]
    assert lowered == (0.8, 30, 0, pytest.approx(wilson_upper(0, 30, 0.95)))
    # the errors in the upper bin count for every lower threshold too
    assert calibrated_threshold(
        {85: (10, 10, 5), 80: (30, 30, 0)},
        40,
        **kw,  # type: ignore[arg-type]
    )[0] == pytest.approx(0.93)
    # never below the floor, never above the configured threshold
    assert calibrated_threshold({40: (500, 500, 0)}, 500, **kw)[0] == pytest.approx(0.93)  # type: ignore[arg-type]


def test_the_bound_is_per_request() -> None:
    """Requests with no band candidate dilute the error; candidates never compared do not."""
    kw = {"base": 0.93, "floor": 0.5, "max_error_rate": 0.01, "confidence": 0.95}
    # 2 wrong of 20 band candidates, but 2000 requests: 0.1 % per request, bound ~0.36 %
    threshold, compared, errors, bound = calibrated_threshold({85: (20, 20, 2)}, 2000, **kw)  # type: ignore[arg-type]
    assert (threshold, compared, errors) == (0.85, 20, 2)
    assert bound == pytest.approx(wilson_upper(2, 2000, 0.95)) and bound <= 0.01
    # the same record over 200 requests is 1 % per request: not lowered
    assert calibrated_threshold({85: (20, 20, 2)}, 200, **kw)[0] == pytest.approx(0.93)  # type: ignore[arg-type]
    # 300 served candidates never compared count as wrong
    assert calibrated_threshold({85: (300, 20, 0)}, 2000, **kw)[0] == pytest.approx(0.93)  # type: ignore[arg-type]
    # compared at 10 %: the Kish effective sample shrinks the evidence, still lowered
    lowered = calibrated_threshold({85: (200, 20, 0)}, 20000, **kw)  # type: ignore[arg-type]
    assert lowered[0] == 0.85 and lowered[3] == pytest.approx(wilson_upper(0, 2000, 0.95))


def test_config_is_validated() -> None:
    with pytest.raises(TokenOptConfigError, match="max_error_rate"):
        OnlineCalibration(max_error_rate=1.5)
    with pytest.raises(TokenOptConfigError, match="judge"):
        OnlineCalibration(judge="yes")  # type: ignore[arg-type]
    with pytest.raises(TokenOptConfigError, match="calibration must be"):
        SemanticCache(calibration="always", backend=None)  # type: ignore[arg-type]


def test_default_is_off(make_cache: MakeCache) -> None:
    cache = make_cache(similarity_threshold=BASE)
    train(cache, 3)
    assert cache.stats().calibration == {}
    assert probe(cache) == "miss"


def test_lowers_only_with_evidence(make_cache: MakeCache) -> None:
    cache = make_cache(similarity_threshold=BASE, calibration=config())
    with cache_scope(tenant_id="acme"):
        train(cache, 24)
        state = cache.stats().calibration["acme"]
        assert state == TenantCalibration("acme", BASE, 24, 0, 0, 1.0, requests=24, candidates=24)
        assert probe(cache, system="p1") == "miss"  # 24 agreeing answers are not enough
        train(cache, 1)
        state = cache.stats().calibration["acme"]
        assert state.threshold < BASE and state.observations == state.supporting == 25
        assert state.error_bound <= RATE
        assert probe(cache, system="p2") == "semantic_hit"


def test_an_error_prone_band_is_not_lowered(make_cache: MakeCache) -> None:
    cache = make_cache(similarity_threshold=BASE, calibration=config())
    with cache_scope(tenant_id="acme"):
        train(cache, 60, errors_every=5)  # 12 of 60 answers differ
        state = cache.stats().calibration["acme"]
        assert (state.observations, state.errors, state.threshold) == (60, 12, BASE)
        assert probe(cache) == "miss"


def test_never_below_what_the_verifier_allows(make_cache: MakeCache) -> None:
    cache = make_cache(similarity_threshold=BASE, calibration=config())
    with cache_scope(tenant_id="acme"):
        train(cache, 25)
        assert cache.stats().calibration["acme"].threshold <= 0.98
        cache.update(chat_prompt("Is it safe to take ibuprofen with alcohol?"), LLM, answer("No."))
        result, gens = cache.lookup_detailed(
            chat_prompt("Is it unsafe to take ibuprofen with alcohol?"), LLM
        )
    assert gens is None and result.outcome == "rejected" and result.reason.startswith("antonym")
    assert result.best_similarity is not None and result.best_similarity < BASE


def test_never_below_the_floor(make_cache: MakeCache) -> None:
    cache = make_cache(similarity_threshold=BASE, calibration=config(floor=0.99))
    with cache_scope(tenant_id="acme"):
        train(cache, 30)
        assert cache.stats().calibration == {}  # below the floor nothing is observed
        assert probe(cache) == "miss"


def test_tenants_learn_apart(make_cache: MakeCache) -> None:
    cache = make_cache(similarity_threshold=BASE, calibration=config())
    with cache_scope(tenant_id="a"):
        train(cache, 25)
    with cache_scope(tenant_id="b"):
        train(cache, 3, errors_every=1)
        assert probe(cache) == "miss"
    with cache_scope(tenant_id="a"):
        assert probe(cache) == "semantic_hit"
    stats = cache.stats().calibration
    assert stats["a"].threshold < BASE and stats["a"].observations == 25
    assert stats["b"] == TenantCalibration("b", BASE, 3, 3, 0, 1.0, requests=4, candidates=4)


def test_survives_a_restart_and_resets_per_tenant(
    tmp_path: Path, embeddings: CountingEmbeddings
) -> None:
    make = reopening(tmp_path / "cache.sqlite3", embeddings, threshold=BASE, calibration=config())

    cache = make()
    for tenant in ("a", "b"):
        with cache_scope(tenant_id=tenant):
            train(cache, 25)
    cache.close()
    cache = make()
    try:
        before = cache.stats().calibration  # ids are hashed: digests until a tenant is seen
        assert sorted(s.observations for s in before.values()) == [25, 25]
        with cache_scope(tenant_id="a"):
            assert probe(cache, system="after restart") == "semantic_hit"
        cache.reset_calibration(tenant_id="a")
        with cache_scope(tenant_id="a"):
            assert probe(cache, system="after reset") == "miss"
        with cache_scope(tenant_id="b"):
            assert probe(cache, system="after reset") == "semantic_hit"
    finally:
        cache.close()
    cache = make()
    try:
        assert [s.observations for s in cache.stats().calibration.values()] == [25]
        cache.reset_calibration()
        assert cache.stats().calibration == {}
    finally:
        cache.close()


def test_exploration_keeps_observing_would_be_hits(make_cache: MakeCache) -> None:
    cache = make_cache(similarity_threshold=BASE, calibration=config(exploration=1.0))
    with cache_scope(tenant_id="acme"):
        train(cache, 30)
        assert cache.stats().calibration["acme"].threshold <= 0.98
        assert observe(cache, next(_DESKS)) == "miss"  # a would-be hit, looked up as a miss
    assert cache.stats().calibration["acme"].observations == 31


def test_a_wrong_answer_in_the_band_raises_the_threshold_again(make_cache: MakeCache) -> None:
    """Evidence works both ways: one differing answer above a lowered threshold undoes it."""
    cache = make_cache(similarity_threshold=BASE, calibration=config(exploration=1.0))
    with cache_scope(tenant_id="acme"):
        train(cache, 25)
        assert cache.stats().calibration["acme"].threshold < BASE
        assert observe(cache, next(_DESKS), same=False) == "miss"  # explored, then differs
        state = cache.stats().calibration["acme"]
        assert (state.threshold, state.observations, state.errors) == (BASE, 26, 1)
        assert state.error_bound == 1.0


def test_answer_comparison_embeddings_structured_and_judge(make_cache: MakeCache) -> None:
    cache = make_cache(similarity_threshold=BASE, calibration=config())
    with cache_scope(tenant_id="emb"):
        observe(cache, 0)  # same text
        system = "Support desk 1"
        cache.update(
            chat_prompt(ORIGINAL, system=system), LLM, answer("Open Settings, then Reset.")
        )
        cache.lookup(chat_prompt(PARAPHRASE, system=system), LLM)
        cache.update(
            chat_prompt(PARAPHRASE, system=system), LLM, answer("Open Settings and Reset.")
        )
    assert cache.stats().calibration["emb"].errors == 0

    def tool_answer(city: str) -> list[Generation]:
        call = {"name": "weather", "args": {"city": city}, "id": "1", "type": "tool_call"}
        return [ChatGeneration(message=AIMessage("", tool_calls=[call]))]

    with cache_scope(tenant_id="tools"):
        for i, city in enumerate(("Paris", "Lyon")):
            system = f"Tools {i}"
            cache.update(chat_prompt(ORIGINAL, system=system), LLM, tool_answer("Paris"))
            cache.lookup(chat_prompt(PARAPHRASE, system=system), LLM)
            cache.update(chat_prompt(PARAPHRASE, system=system), LLM, tool_answer(city))
    state = cache.stats().calibration["tools"]
    assert (state.observations, state.errors) == (2, 1)

    seen: list[tuple[str, str]] = []

    def judge(fresh: str, cached: str) -> bool:
        seen.append((fresh, cached))
        return False

    judged = make_cache(
        name="j.sqlite3", similarity_threshold=BASE, calibration=config(judge=judge)
    )
    with cache_scope(tenant_id="j"):
        observe(judged, 0)
    assert seen == [("Open Settings, then Reset.", "Open Settings, then Reset.")]
    assert judged.stats().calibration["j"].errors == 1


def test_async_path_learns_too(make_cache: MakeCache) -> None:
    cache = make_cache(similarity_threshold=BASE, calibration=config())

    async def run() -> str:
        with cache_scope(tenant_id="acme"):
            for i in range(25):
                system = f"Async {i}"
                gen = answer("Open Settings, then Reset.")
                await cache.aupdate(chat_prompt(ORIGINAL, system=system), LLM, gen)
                assert await cache.alookup(chat_prompt(PARAPHRASE, system=system), LLM) is None
                await cache.aupdate(chat_prompt(PARAPHRASE, system=system), LLM, gen)
            await cache.aupdate(chat_prompt(ORIGINAL, system="p"), LLM, answer("x"))
            result, _ = await cache.alookup_detailed(chat_prompt(PARAPHRASE, system="p"), LLM)
            await cache.areset_calibration(tenant_id="acme")
            return result.outcome

    assert asyncio.run(run()) == "semantic_hit"
    assert cache.stats().calibration == {}


def test_pooled_evidence_is_shared_by_tenants(make_cache: MakeCache) -> None:
    """``pool="cache"``: one threshold learnt from every tenant's requests, reset together."""
    cache = make_cache(similarity_threshold=BASE, calibration=config(pool="cache"))
    for tenant, n in (("a", 13), ("b", 12)):
        with cache_scope(tenant_id=tenant):
            train(cache, n)  # 25 agreeing answers in all; 13 alone are not enough
    with cache_scope(tenant_id="c"):
        assert probe(cache) == "semantic_hit"
    state = cache.stats().calibration
    assert list(state) == ["*"] and state["*"].observations == 25
    cache.reset_calibration(tenant_id="a")
    assert cache.stats().calibration == {}
    with pytest.raises(TokenOptConfigError, match="pool"):
        OnlineCalibration(pool="user")  # type: ignore[arg-type]


def test_requests_without_band_candidates_dilute_the_error(make_cache: MakeCache) -> None:
    """The bound is per request: lookups with no candidate in the band count in it."""
    cache = make_cache(similarity_threshold=BASE, calibration=config())
    with cache_scope(tenant_id="acme"):
        train(cache, 20, errors_every=10)  # 2 wrong of 20: not lowered over 20 requests
        assert cache.stats().calibration["acme"].threshold == BASE
        for i in range(20):  # unrelated questions: new scopes, no candidate at all
            cache.lookup(chat_prompt("What is the boiling point of water?", system=f"x{i}"), LLM)
        state = cache.stats().calibration["acme"]
        assert state.requests == 40 and state.candidates == 20
        # 2 wrong in 40 requests is still above a bound of 0.1 at 95 %: not lowered
        assert wilson_upper(2, 40, 0.95) > RATE and state.threshold == BASE
        for i in range(160):
            cache.lookup(chat_prompt("What is the boiling point of water?", system=f"y{i}"), LLM)
        state = cache.stats().calibration["acme"]
        assert wilson_upper(2, 200, 0.95) <= RATE
        assert state.threshold < BASE and state.error_bound <= RATE
