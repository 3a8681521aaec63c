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
