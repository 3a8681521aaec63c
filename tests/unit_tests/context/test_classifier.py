from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_tokenopt import MessageClassifier
from langchain_tokenopt.context import ClassifierWeights
from langchain_tokenopt.context.facts import extract_facts, is_structured
from langchain_tokenopt.embeddings import get_default_embeddings
from langchain_tokenopt.errors import TokenOptConfigError

MSGS = [
    SystemMessage("You are a helpful airline agent."),
    HumanMessage("I prefer window seats and never fly before 9am."),
    AIMessage("Sure, noted."),
    ToolMessage("Error: reservation not found", tool_call_id="x", status="error"),
    HumanMessage("The weather is nice today."),
    AIMessage("Your booking ZFA04Y on flight HAT136 costs $305, confirmed."),
    HumanMessage("What is the seat on my flight HAT136?"),
]


def test_scores_have_reasons_and_rank_facts_and_preferences() -> None:
    scores = MessageClassifier().score(MSGS)
    assert len(scores) == len(MSGS)
    assert scores[0].score == 1.0
    booking = scores[5]
    assert "ZFA04Y" in booking.facts and "HAT136" in booking.facts
    assert any("ids/numbers" in r for r in booking.reasons)
    assert any("decision" in r for r in booking.reasons)
    assert any("preference" in r for r in scores[1].reasons)
    assert any("tool error" in r for r in scores[3].reasons)
    assert booking.score > scores[4].score  # facts + relevance beat small talk


def test_embedding_relevance_uses_the_query() -> None:
    clf = MessageClassifier(embeddings=get_default_embeddings())
    scores = clf.score(MSGS, query="Which seat do I have on flight HAT136?")
    rel = [s.relevance for s in scores]
    assert rel[5] > rel[4]
    assert rel[1] > rel[4]  # seats are closer to the query than the weather
    again = clf.score(MSGS, query="Which seat do I have on flight HAT136?")
    assert [s.score for s in again] == [s.score for s in scores]


def test_weights_are_validated() -> None:
    with pytest.raises(TokenOptConfigError):
        ClassifierWeights(relevance=-1)
    with pytest.raises(TokenOptConfigError):
        MessageClassifier(embeddings="minilm")  # type: ignore[arg-type]


def test_fact_extraction_and_structure_detection() -> None:
    facts = extract_facts("User mia_li_3668 booked ZFA04Y on 2024-05-20 for $1,234.50 (a@b.com)")
    assert {"mia_li_3668", "ZFA04Y", "2024-05-20", "$1,234.50", "a@b.com"} <= set(facts)
    assert is_structured('{"a": 1}') and not is_structured("plain words here")
