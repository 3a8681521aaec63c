from __future__ import annotations

import pytest

from langchain_tokenopt.cache import NearMissVerifier
from langchain_tokenopt.errors import TokenOptConfigError


@pytest.mark.parametrize(
    ("query", "candidate", "reason"),
    [
        ("How do I turn on the lights?", "How do I turn off the lights?", "antonym"),
        ("How to increase my credit score?", "How to decrease my credit score?", "antonym"),
        ("Why is my code working?", "Why is my code not working?", "negation"),
        ("I can't log in", "I can log in", "negation"),
        ("Convert 10 km to miles", "Convert 15 km to miles", "number"),
        ("What are the top three movies?", "What are the top five movies?", "number"),
        ("Flights to Paris in May", "Flights to Paris in June", "date"),
        ("How many calories in 100 g of rice?", "How many calories in 100 oz of rice?", "unit"),
        ("What is the capital of France?", "What is the capital of Spain?", "entity"),
        ("Who founded Apple?", "Who founded Microsoft?", "entity"),
    ],
)
def test_rejects_near_misses(query: str, candidate: str, reason: str) -> None:
    verdict = NearMissVerifier().verify(query, candidate, 0.9)
    assert not verdict.accepted
    assert reason in verdict.reason


@pytest.mark.parametrize(
    ("query", "candidate"),
    [
        ("What is the capital of France?", "What's the capital of France?"),
        ("How can I learn Python quickly?", "How do I learn Python fast?"),
        ("Convert 10 km to miles", "convert 10 km into miles"),
    ],
)
def test_accepts_paraphrases(query: str, candidate: str) -> None:
    assert NearMissVerifier().verify(query, candidate, 0.9).accepted


def test_validates_config() -> None:
    with pytest.raises(TokenOptConfigError):
        NearMissVerifier(check_entities="yes")  # type: ignore[arg-type]


def test_switches_turn_rules_off() -> None:
    assert NearMissVerifier(check_numbers=False).verify("top 3 films", "top 5 films", 0.9).accepted
    assert NearMissVerifier(check_entities=False).verify("visit Paris", "visit Rome", 0.9).accepted


@pytest.mark.parametrize(
    ("query", "candidate", "detail"),
    [
        # reworded enough that the rewrite tolerance used to let them through
        ("Can I freeze bread?", "Can I freeze cooked rice?", "'bread' vs 'rice' (one in the place"),
        ("Can I return shoes after a month?", "Can I return worn jackets after a month?", "place"),
        # two modifiers of one shared noun: the modifier changed
        ("How much is the overdraft fee?", "How much is the account maintenance fee?", "modifies"),
    ],
)
def test_rejects_one_thing_put_in_the_place_of_another(
    query: str, candidate: str, detail: str
) -> None:
    verdict = NearMissVerifier().verify(query, candidate, 0.8)
    assert not verdict.accepted
    assert verdict.reason.startswith("unexplained")
    assert detail in verdict.reason
    # the same both ways
    assert not NearMissVerifier().verify(candidate, query, 0.8).accepted


@pytest.mark.parametrize(
    ("query", "candidate"),
    [
        # light verbs fill a frame without naming a thing ("use ice" / "put ice")
        ("Should I use ice on a fresh sprained ankle?", "Should I put ice on a new ankle sprain?"),
        # words moved and merged, not put in one another's place
        (
            "How do I reset my email password?",
            "What are the steps to reset the password of my email account?",
        ),
        (
            "How many weeks of paid parental leave do we get?",
            "What is the length of paid parental leave?",
        ),
    ],
)
def test_rewordings_are_not_substitutions(query: str, candidate: str) -> None:
    assert NearMissVerifier().verify(query, candidate, 0.9).accepted
    assert NearMissVerifier().verify(candidate, query, 0.9).accepted


@pytest.mark.parametrize(
    ("query", "candidate", "reason"),
    [
        # a modifier only one side has before a shared noun, the rest reworded
        (
            "Is there free shipping for purchases over fifty dollars?",
            "Is express shipping free on orders over 50 dollars?",
            "'express' (candidate only, modifies 'shipping')",
        ),
        (
            "What warranty period do laptops have?",
            "How long is the warranty on refurbished laptops?",
            "'refurbished' (candidate only, modifies 'laptops')",
        ),
        # a new head after a noun that ends its phrase on the other side
        (
            "How often should I test my smoke alarm?",
            "How often should I replace my smoke alarm battery?",
            "'battery' (candidate only, a new head after 'alarm')",
        ),
    ],
)
def test_rejects_a_narrowed_noun_even_when_reworded(
    query: str, candidate: str, reason: str
) -> None:
    verdict = NearMissVerifier().verify(query, candidate, 0.8)
    assert not verdict.accepted
    assert reason in verdict.reason


@pytest.mark.parametrize(
    ("query", "candidate"),
    [
        # WordNet names the noun itself by the compound: "common cold" is "cold"
        ("Do antibiotics help with a cold?", "Are antibiotics useful for treating a common cold?"),
        # the other side has its own head after the shared noun: words reordered
        ("How do I reset my email password?", "How do I reset the password of my email account?"),
    ],
)
def test_a_compound_or_a_reordered_phrase_is_no_narrowing(query: str, candidate: str) -> None:
    assert NearMissVerifier().verify(query, candidate, 0.9).accepted
    assert NearMissVerifier().verify(candidate, query, 0.9).accepted
