"""The exact path hashes a canonical question: trivial rephrasings hit without the embedder."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from langchain_core.outputs import Generation

from langchain_tokenopt.cache import SemanticCache, cache_scope
from langchain_tokenopt.cache.canonical import canonical_text

from .conftest import CountingEmbeddings
from .helpers import chat_prompt, llm_string

MakeCache = Callable[..., SemanticCache]

# (stored question, variants that must hit exactly)
SAME = [
    (
        "What is the weight of 200 grams of flour?",
        [
            "what's the weight of 200g of flour",
            "WHAT IS THE WEIGHT OF 200 G OF FLOUR?",
            "What's the weight of 200-gram of flour?!",
            "  what is   the weight of 200 grams of flour  ",
            "What\u2019s the weight of 200 gr of flour.",
        ],
    ),
    (
        "I can't log in to my account",
        ["I cannot log in to my account.", "i can not log in to my account!"],
    ),
    ("Don't you ship to Canada?", ["Do not you ship to Canada", "dont you ship to canada?"]),
    ("Is 1,000 dollars enough for a week in Rome?", ["Is $1000 enough for a week in Rome?"]),
    (
        "How long is a 5 km run in minutes?",
        ["How long is a 5 kilometre run in minutes", "how long is a 5km run in minutes?"],
    ),
    (
        "Can I bake it at 180 degrees Celsius?",
        ["can I bake it at 180°C?", "Can I bake it at 180 °C"],
    ),
    ("Is the store open at 7 pm?", ["is the store open at 7pm", "Is the store open at 7 P.M.?"]),
    ("Is a 20% tip normal?", ["is a 20 percent tip normal", "Is a 20 per cent tip normal?"]),
]
DIFFERENT = [
    ("What is the weight of 200 grams of flour?", "What is the weight of 300 grams of flour?"),
    ("What is the weight of 200 grams of flour?", "What is the weight of 200 kg of flour?"),
    ("What is the weight of 200 grams of flour?", "What is the weight of 200 ounces of flour?"),
    ("Is the store open at 7 pm?", "Is the store open at 7 am?"),
    ("Can I bake it at 180 degrees Celsius?", "Can I bake it at 180 degrees Fahrenheit?"),
    ("Is $1000 enough for a week in Rome?", "Is 1000 euros enough for a week in Rome?"),
    ("Is 1.5 kg enough?", "Is 15 kg enough?"),
    ("Is 5G safe?", "Is 5 g safe?"),
    ("I can log in to my account", "I can't log in to my account"),
    ("What is RAG?", "What is rag?"),
    ("Is it safe to take ibuprofen with alcohol?", "Is it unsafe to take ibuprofen with alcohol?"),
    ("Tell me about John's car", "Tell me about John car"),
    ("Is C++ faster than C?", "Is C faster than C++?"),
    ("Is 200 pounds heavy?", "Is 200 lb heavy?"),  # pounds: weight or money, left alone
]


@pytest.mark.parametrize(("stored", "variants"), SAME)
def test_each_variant_hits_exactly_without_the_embedder(
    make_cache: MakeCache, embeddings: CountingEmbeddings, stored: str, variants: list[str]
) -> None:
    cache, llm = make_cache(), llm_string()
    cache.update(chat_prompt(stored), llm, [Generation(text="answer")])
    embeddings.calls = 0
    for variant in variants:
        result, gens = cache.lookup_detailed(chat_prompt(variant), llm)
        assert result.outcome == "exact_hit", variant
        assert gens == [Generation(text="answer")]
        assert result.embedding_ms == 0.0
    assert embeddings.calls == 0


@pytest.mark.parametrize(("stored", "other"), DIFFERENT)
def test_different_numbers_units_and_words_never_hit_exactly(
    make_cache: MakeCache, stored: str, other: str
) -> None:
    assert canonical_text(stored) != canonical_text(other)
    cache, llm = make_cache(semantic=False), llm_string()
    cache.update(chat_prompt(stored), llm, [Generation(text="answer")])
    result, gens = cache.lookup_detailed(chat_prompt(other), llm)
    assert result.outcome == "miss" and gens is None


def test_canonical_variants_stay_inside_their_tenant(make_cache: MakeCache) -> None:
    cache, llm = make_cache(semantic=False), llm_string()
    with cache_scope(tenant_id="acme"):
        cache.update(chat_prompt("What's the price of 2 kg of rice?"), llm, [Generation(text="a")])
    with cache_scope(tenant_id="globex"):
        result, _ = cache.lookup_detailed(
            chat_prompt("what is the price of 2 kilograms of rice"), llm
        )
        assert result.outcome == "miss"
    with cache_scope(tenant_id="acme", user_id="u1"):
        result, _ = cache.lookup_detailed(
            chat_prompt("what is the price of 2 kilograms of rice"), llm
        )
        assert result.outcome == "miss"
    with cache_scope(tenant_id="acme"):
        result, _ = cache.lookup_detailed(
            chat_prompt("what is the price of 2 kilograms of rice"), llm
        )
        assert result.outcome == "exact_hit"


def test_the_embedded_text_keeps_its_case_and_punctuation(make_cache: MakeCache) -> None:
    """Only the exact key is canonical: the verifier and the embedder see the question as asked."""
    cache, llm = make_cache(semantic=False), llm_string()
    cache.update(chat_prompt("What's RAG?"), llm, [Generation(text="a")])
    result, _ = cache.lookup_detailed(chat_prompt("what is RAG"), llm)
    assert result.hit is not None and result.hit.cached_text == "What's RAG?"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What's the weight of 200g of flour?", "what is the weight of 200 g of flour"),
        ("Is 5G safe?", "is 5G safe"),
        ("iPhone 15 price in the U.S.?", "iPhone 15 price in the u.s"),
        ("$5m raise", "$5m raise"),
        ("x25g", "x25g"),
        ("12,345,678 people", "12345678 people"),
        ("1,5 kg", "1,5 kg"),
        ("??", "??"),
        ("Fix `myVar` in f(x) = X", "Fix `myVar` in f(x) = X"),  # code: whitespace only
        ("What does my_var hold?", "What does my_var hold?"),
    ],
)
def test_canonical_text_rules(text: str, expected: str) -> None:
    assert canonical_text(text) == expected
