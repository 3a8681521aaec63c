"""``is_standalone`` decides which questions may be looked up outside their conversation.

A false "standalone" lets a follow-up hit another conversation's answer, so every follow-up
of the demo workload must read as dependent; self-contained questions (also those with
"other", "this weekend", "last month", existential "there") must read as standalone.
"""

from __future__ import annotations

import pytest

from examples.tokenopt_demo import load_workload
from langchain_tokenopt.cache.standalone import is_standalone

DEPENDENT = [
    "Is it in stock?",
    "Can you ship them to Denver?",
    "How long does delivery take there?",
    "Does that tent come in green?",
    "Which one is warmer for winter camping?",
    "Can I get the cheaper ones instead?",
    "Do you have the same in blue?",
    "What else do you recommend for it?",
    "Is the Columbus store able to hold them for me?",
    "How much does it cost?",
    "Is it safe for kids?",
    "Can you send those to my office in Calgary?",
    "Is this tent waterproof?",
    "Could you do that for the blue one?",
    "Do they have it in size 10?",
    "When will the refund arrive on my card?",
    "And for two people?",
]

STANDALONE = [
    "Do you price match other stores?",
    "Which other colours does the Cirque 2P come in?",
    "What's the weather forecast for Banff this weekend?",
    "Show me on-time delivery by carrier for last month.",
    "Is there a store in Calgary that rents kayaks?",
    "Are there any kayak rentals in Portland this summer?",
    "Why was my card charged twice for order NW-4412876?",
    "If I only tried my boots on at home, can I send them back?",
    "Where is my order and when will it arrive?",
    "Where is the order NW-4412876 right now?",
    "How long does it take to ship to Alaska?",
    "Is it possible to return boots worn outdoors?",
    "What's the return window for climbing helmets?",
    "My tent pole broke on the first trip. Is that covered?",
]


@pytest.mark.parametrize("question", DEPENDENT)
def test_references_to_earlier_turns_are_dependent(question: str) -> None:
    assert is_standalone(question) is False


@pytest.mark.parametrize("question", STANDALONE)
def test_self_contained_questions_are_standalone(question: str) -> None:
    assert is_standalone(question) is True


def test_every_workload_follow_up_is_dependent() -> None:
    follow_ups = [q for q in load_workload().questions if q.kind == "follow_up"]
    assert len(follow_ups) >= 10
    assert [q.id for q in follow_ups if is_standalone(q.text)] == []


def test_workload_repeats_of_new_questions_are_standalone() -> None:
    # Repeats asked in another conversation can only hit there when they read as standalone.
    workload = load_workload()
    originals = {q.id: q for q in workload.questions}
    repeats = [
        q
        for q in workload.questions
        if q.kind == "exact_repeat" and originals[q.repeats or ""].kind == "new"
    ]
    assert len(repeats) >= 8
    assert [q.id for q in repeats if not is_standalone(q.text)] == []
