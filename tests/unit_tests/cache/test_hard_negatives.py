"""Near misses and paraphrases through the real cache (packaged int8 MiniLM, default threshold).

One hand-written pair per perturbation kind of ``bench/cache_hard_negatives.py``, the eight
near misses that issue 22 found served, and paraphrases that must still hit.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from langchain_core.outputs import Generation

from langchain_tokenopt.cache import NearMissVerifier, SemanticCache, cache_scope
from langchain_tokenopt.cache.lexicon import Lexicon, load_lexicon

from .helpers import chat_prompt, llm_string

MakeCache = Callable[..., SemanticCache]
GEN = [Generation(text="cached answer")]

NEAR_MISSES = [
    # the eight near misses issue 22 found served
    ("Is it unsafe to take ibuprofen with alcohol?", "Is it safe to take ibuprofen with alcohol?"),
    ("How do I convert euros to dollars?", "How do I convert dollars to euros?"),
    ("Should I reduce the dose of my medication?", "Should I increase the dose of my medication?"),
    ("Is Java faster than Python?", "Is Python faster than Java?"),
    ("How long do I boil an egg for a hard yolk?", "How long do I boil an egg for a soft yolk?"),
    ("Is the pharmacy open at 7 pm?", "Is the pharmacy open at 7 am?"),
    ("Is the museum closed on Sundays?", "Is the museum open on Sundays?"),
    ("Is this lasagna recipe vegan?", "Is this lasagna recipe vegetarian?"),
]
PERTURBATIONS = {
    "antonym": ("Is it safe to swim after eating?", "Is it dangerous to swim after eating?"),
    "negation": ("Why is my code working?", "Why is my code not working?"),
    "number": (
        "What is the best laptop under 500 dollars?",
        "What is the best laptop under 800 dollars?",
    ),
    "unit": ("How far can I run in 10 km?", "How far can I run in 10 miles?"),
    "time": ("Can I book a table for 8:30 pm?", "Can I book a table for 8:30 am?"),
    "date": ("What is the weather in Paris in May?", "What is the weather in Paris in June?"),
    "entity": ("What is the capital of France?", "What is the capital of Spain?"),
    "role": (
        "How do I migrate from MySQL to PostgreSQL?",
        "How do I migrate from PostgreSQL to MySQL?",
    ),
    "comparative": ("Why is Rust better than C++?", "Why is Rust worse than C++?"),
}
PARAPHRASES = [
    ("What is the capital of France?", "What's the capital of France?"),
    ("How do I reset my password?", "How can I reset my password?"),
    ("Convert 200g of flour to cups", "Convert 200 grams of flour to cups"),
    ("How do I start learning guitar?", "How do I begin learning guitar?"),
]


def _served(cache: SemanticCache, stored: str, asked: str, tenant: str) -> bool:
    llm = llm_string()
    with cache_scope(tenant_id=tenant):
        cache.update(chat_prompt(stored), llm, GEN)
        return cache.lookup(chat_prompt(asked), llm) is not None


@pytest.mark.parametrize(("stored", "asked"), NEAR_MISSES)
def test_issue_near_misses_are_never_served(make_cache: MakeCache, stored: str, asked: str) -> None:
    cache = make_cache()
    assert not _served(cache, stored, asked, "t")
    assert not _served(cache, asked, stored, "u")  # and the other way round


@pytest.mark.parametrize("kind", sorted(PERTURBATIONS))
def test_every_perturbation_kind_misses(make_cache: MakeCache, kind: str) -> None:
    stored, asked = PERTURBATIONS[kind]
    cache = make_cache()
    assert not _served(cache, stored, asked, kind)


@pytest.mark.parametrize(("stored", "asked"), PARAPHRASES)
def test_paraphrases_still_hit(make_cache: MakeCache, stored: str, asked: str) -> None:
    assert _served(make_cache(), stored, asked, "p")


def test_rejections_are_counted_per_reason(make_cache: MakeCache) -> None:
    cache = make_cache(similarity_threshold=0.5)
    assert not _served(cache, *NEAR_MISSES[5], tenant="a")  # 7 pm / 7 am
    assert not _served(cache, "Is Java faster than Python?", "Is Python faster than Java?", "b")
    stats = cache.stats()
    assert stats.verifier_rejections == 2
    assert stats.rejections_by_reason == {"time": 1, "roles": 1}


@pytest.mark.parametrize(
    ("query", "candidate", "code"),
    [
        ("Is it unsafe to take ibuprofen?", "Is it safe to take ibuprofen?", "antonym"),
        ("How do I convert euros to dollars?", "How do I convert dollars to euros?", "roles"),
        ("Does the dog bite the man?", "Does the man bite the dog?", "roles"),
        ("Is the pharmacy open at 7 pm?", "Is the pharmacy open at 7 am?", "time"),
        ("Flights to Paris", "Flights from Paris", "antonym"),
        ("Print 'hello world'", "Print 'hello there'", "quote"),
        ("What does os.path.join do?", "What does os.path.split do?", "code"),
        ("Meeting on 2024-05-03", "Meeting on 2024-05-04", "date"),
        ("Why is the sky blue?", "When is the sky blue?", "question"),
        ("Is this recipe vegan?", "Is this recipe vegetarian?", "unexplained"),
    ],
)
def test_rejection_names_its_reason(query: str, candidate: str, code: str) -> None:
    verdict = NearMissVerifier().verify(query, candidate, 0.95)
    assert not verdict.accepted
    assert verdict.reason.startswith(code), verdict.reason


def test_without_a_lexicon_the_verifier_is_stricter() -> None:
    bare = NearMissVerifier(lexicon=Lexicon())
    assert not bare.verify(
        "How do I start a business?", "How do I begin a business?", 0.95
    ).accepted
    assert not bare.verify("Is it unsafe to swim?", "Is it safe to swim?", 0.95).accepted
    assert bare.verify("Convert 200g of flour", "convert 200 grams of flour", 0.95).accepted


def test_wordnet_lexicon_relations() -> None:
    lex = load_lexicon()
    assert lex is not None
    assert lex.antonyms("safe", "unsafe") and lex.antonyms("hard", "soft")
    assert lex.antonyms("open", "closed") and not lex.antonyms("begin", "start")
    assert lex.synonyms("begin", "start") and lex.related("quick", "quickly")
    assert "child" in lex.lemmas("children")
