"""Top-k candidate checks, run on every backend (local, Redis, Redis Cluster).

A near miss stored next to a question must not hide an honest paraphrase behind it: when
the verifier turns the nearest candidate down, the next ones (same scope, nearest first)
are checked. Each check takes a factory ``make(**SemanticCache kwargs) -> SemanticCache``
and the real packaged embedder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from langchain_core.outputs import Generation

from langchain_tokenopt.cache import OnlineCalibration, SemanticCache
from langchain_tokenopt.cache.keys import build_key
from langchain_tokenopt.cache.scope import CallerScope

from .helpers import chat_prompt, llm_string

Make = Callable[..., SemanticCache]

#: Cached near miss: the query with its bound flipped (cosine ~0.99 to the query, real MiniLM).
NEAR_MISS = "Is shipping free on orders under 50 dollars?"
#: Cached honest paraphrase of the query (cosine ~0.86, below the near miss).
PARAPHRASE = "Do I get free delivery when my order exceeds 50 dollars?"
QUERY = "Is shipping free on orders over 50 dollars?"
#: An unrelated entry of the same scope.
OTHER = "Can I pay by bank transfer?"
THRESHOLD = 0.85


def _gen(text: str) -> list[Generation]:
    return [Generation(text=text)]


def _fill(cache: SemanticCache) -> str:
    llm = llm_string()
    cache.update(chat_prompt(NEAR_MISS), llm, _gen("no, 4.99 below 50"))
    cache.update(chat_prompt(PARAPHRASE), llm, _gen("yes, free above 50"))
    cache.update(chat_prompt(OTHER), llm, _gen("yes, by SEPA"))
    return llm


def nearest_refused_next_served(make: Make) -> None:
    """The nearest candidate is refused (bound flipped), the paraphrase behind it served."""
    only_nearest = make(similarity_threshold=THRESHOLD, max_candidates=1)
    llm = _fill(only_nearest)
    result, gens = only_nearest.lookup_detailed(chat_prompt(QUERY), llm)
    assert result.outcome == "rejected"
    assert result.reason.startswith("number")
    assert gens is None

    cache = make(similarity_threshold=THRESHOLD)
    assert cache.max_candidates == 4
    _fill(cache)
    result, gens = cache.lookup_detailed(chat_prompt(QUERY), llm)
    assert result.outcome == "semantic_hit"
    assert gens == _gen("yes, free above 50")
    assert result.hit is not None
    assert result.hit.cached_text == PARAPHRASE
    assert result.best_similarity is not None
    assert result.best_similarity > result.hit.similarity >= THRESHOLD
    listed = {e.text: e.hits for e in cache.entries()}
    assert listed[PARAPHRASE] == 1  # the entry served is the one counted
    assert listed[NEAR_MISS] == 0
    # the near miss itself still hits exactly, and a question near nothing still misses
    assert cache.lookup(chat_prompt(NEAR_MISS), llm) == _gen("no, 4.99 below 50")
    assert cache.lookup(chat_prompt("What is the capital of France?"), llm) is None


def nothing_below_the_threshold(make: Make) -> None:
    """Further candidates never lower the bar: below the threshold it stays a rejection."""
    cache = make(similarity_threshold=0.9)
    llm = _fill(cache)
    result, gens = cache.lookup_detailed(chat_prompt(QUERY), llm)
    assert gens is None
    assert result.outcome == "rejected"  # the paraphrase (~0.86) is below 0.9


def calibration_observes_the_next_candidate(make: Make) -> None:
    """With calibration, the accepted further candidate is the one observed in the band."""
    cache = make(
        similarity_threshold=0.93,
        calibration=OnlineCalibration(floor=0.8, exploration=0.0, seed=1),
    )
    llm = _fill(cache)
    result, gens = cache.lookup_detailed(chat_prompt(QUERY), llm)
    assert gens is None
    assert result.reason.startswith("calibrating")
    cache.update(chat_prompt(QUERY), llm, _gen("yes, free above 50"))
    (state,) = cache.stats().calibration.values()
    assert (state.observations, state.errors, state.candidates) == (1, 0, 1)


def backend_returns_nearest_first(make: Make, embed: Callable[[str], Any]) -> None:
    """``search_candidates``: nearest first, at most ``k``, further ones above the bar."""
    cache = make()
    llm = _fill(cache)
    scope = build_key(chat_prompt(QUERY), llm, CallerScope()).scope
    vector = embed(QUERY)
    now = time.time()
    found = cache.backend.search_candidates(scope, vector, now=now, k=4)
    assert [c.entry.text for c in found] == [NEAR_MISS, PARAPHRASE, OTHER]
    sims = [c.similarity for c in found]
    assert sims == sorted(sims, reverse=True)
    assert [c.entry.text for c in cache.backend.search_candidates(scope, vector, now=now, k=2)] == [
        NEAR_MISS,
        PARAPHRASE,
    ]
    above = cache.backend.search_candidates(scope, vector, now=now, k=4, min_similarity=0.8)
    assert [c.entry.text for c in above] == [NEAR_MISS, PARAPHRASE]
    # the nearest is always returned (a miss reports its similarity)
    nearest = cache.backend.search_candidates(scope, vector, now=now, k=4, min_similarity=1.01)
    assert [c.entry.text for c in nearest] == [NEAR_MISS]
    single = cache.backend.search(scope, vector, now=now)
    assert single is not None
    assert single.entry.text == NEAR_MISS
    assert single.similarity == found[0].similarity
    other_scope = build_key(chat_prompt(QUERY), llm, CallerScope(tenant_id="other")).scope
    assert cache.backend.search_candidates(other_scope, vector, now=now, k=4) == []


async def async_nearest_refused_next_served(make: Make) -> None:
    """The async path checks the further candidates the same way."""
    cache = make(similarity_threshold=THRESHOLD)
    llm = llm_string()
    await cache.aupdate(chat_prompt(NEAR_MISS), llm, _gen("no, 4.99 below 50"))
    await cache.aupdate(chat_prompt(PARAPHRASE), llm, _gen("yes, free above 50"))
    result, gens = await cache.alookup_detailed(chat_prompt(QUERY), llm)
    assert result.outcome == "semantic_hit"
    assert gens == _gen("yes, free above 50")
    assert result.hit is not None
    assert result.hit.cached_text == PARAPHRASE


def a_rewording_of_a_refused_candidate_is_not_served(make: Make) -> None:
    """A further candidate the verifier takes for a rewording of a refused nearer one.

    "convert euros to dollars" is refused for "convert dollars to euros" (roles); "swap
    euros for dollars" is that refused question reworded (~0.88), so it is not served
    either, while a further candidate that differs from the refused one is.
    """
    cache, llm = make(similarity_threshold=THRESHOLD), llm_string()
    asked = chat_prompt("How do I convert dollars to euros in the app?")
    cache.update(chat_prompt("How do I convert euros to dollars in the app?"), llm, _gen("EUR>USD"))
    cache.update(
        chat_prompt("Using the app, how do I swap euros for dollars?"), llm, _gen("EUR>USD")
    )
    result, gens = cache.lookup_detailed(asked, llm)
    assert gens is None
    assert result.outcome == "rejected"
    assert result.reason.startswith("roles")
    cache.update(
        chat_prompt("How can I exchange dollars into euros in the app?"), llm, _gen("USD>EUR")
    )
    result, gens = cache.lookup_detailed(asked, llm)
    assert gens == _gen("USD>EUR")
    assert result.hit is not None
    assert result.hit.cached_text == "How can I exchange dollars into euros in the app?"


CHECKS = (
    nearest_refused_next_served,
    a_rewording_of_a_refused_candidate_is_not_served,
    nothing_below_the_threshold,
    calibration_observes_the_next_candidate,
)
