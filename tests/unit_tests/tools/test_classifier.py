from __future__ import annotations

import pytest

from langchain_tokenopt.errors import TokenOptConfigError, ToolSelectionError
from langchain_tokenopt.tools import QueryClassifier, ToolRetriever
from langchain_tokenopt.tools.classifier import FEATURES, ClassifierWeights


@pytest.mark.parametrize(
    "query",
    ["hi there, how are you?", "tell me a joke", "who wrote Hamlet?", "thanks, that's all!"],
)
def test_query_needing_no_tool_abstains(retriever: ToolRetriever, query: str) -> None:
    decision = QueryClassifier(retriever=retriever).classify(query)
    assert decision.needs_tool is False
    assert 0.5 <= decision.confidence <= 1.0
    assert decision.confidence == pytest.approx(1.0 - decision.probability)
    assert set(decision.features) == set(FEATURES)


@pytest.mark.parametrize(
    "query",
    [
        "what's the weather in Oslo?",
        "convert 100 USD to EUR",
        "book a hotel room in Madrid for next Friday",
    ],
)
def test_query_needing_a_tool(retriever: ToolRetriever, query: str) -> None:
    decision = QueryClassifier(retriever=retriever).classify(query)
    assert decision.needs_tool is True
    assert decision.confidence == pytest.approx(decision.probability)


def test_named_tool_forces_a_tool_and_empty_query_abstains(retriever: ToolRetriever) -> None:
    clf = QueryClassifier(retriever=retriever)
    named = clf.classify("zx_qlm_handler")
    assert named.needs_tool is True
    assert named.forced == ("zx_qlm_handler",)
    empty = clf.classify("   ")
    assert empty.needs_tool is False
    assert empty.probability == 0.0


def test_categories_come_from_namespaces(retriever: ToolRetriever) -> None:
    decision = QueryClassifier(retriever=retriever).classify(
        "cancel my hotel reservation, booking id 991"
    )
    assert decision.categories[0] == "hotels"


async def test_async_classify(retriever: ToolRetriever) -> None:
    clf = QueryClassifier(retriever=retriever)
    sync = clf.classify("set an alarm for 7am")
    asyn = await clf.aclassify("set an alarm for 7am")
    assert asyn.needs_tool == sync.needs_tool
    assert asyn.probability == pytest.approx(sync.probability, abs=1e-5)


def test_fit_calibrates_on_labelled_queries(retriever: ToolRetriever) -> None:
    tool_queries = [
        "weather forecast for Berlin",
        "email my landlord about the rent",
        "flights from NYC to LA on Monday",
        "exchange 50 pounds into yen",
        "latest price of AAPL stock",
        "add a meeting to my calendar at 3pm",
        "play some Beatles songs",
        "translate 'good morning' to Italian",
    ]
    chat_queries = [
        "how are you doing today?",
        "what's the meaning of life?",
        "write me a haiku about autumn",
        "who painted the Mona Lisa?",
        "good night!",
        "explain quantum entanglement simply",
        "what is 2 plus 2?",
        "recommend a good novel",
    ]
    clf = QueryClassifier(retriever=retriever, always_include=["set_alarm"])
    acc = clf.fit(tool_queries + chat_queries, [True] * 8 + [False] * 8)
    assert acc >= 0.9
    assert 0.0 < clf.threshold < 1.0
    # fit() leaves out the catalog-relative features unless asked (FIT_FEATURES).
    used = [f for f, c in zip(FEATURES, clf.weights.coef, strict=False) if c != 0.0]
    assert "margin10" not in used and "bm25_z" not in used and "dense" in used
    assert clf.classify("what's the weather in Paris tomorrow?").needs_tool is True
    assert clf.classify("tell me something funny").needs_tool is False
    assert clf.classify("tell me something funny").always_include == ("set_alarm",)
    recall_first = QueryClassifier(retriever=retriever)
    recall_first.fit(
        tool_queries + chat_queries, [True] * 8 + [False] * 8, features=("dense",), min_recall=1.0
    )
    assert all(d.needs_tool for d in recall_first.classify_batch(tool_queries))
    assert recall_first.weights.coef[FEATURES.index("bm25")] == 0.0
    head = QueryClassifier(retriever=retriever)
    head.fit(tool_queries + chat_queries, [True] * 8 + [False] * 8, use_embedding=True)
    assert head.weights.uses_embedding
    assert len(head.weights.coef) == len(FEATURES) + 384
    assert head.classify("weather forecast for Rome").needs_tool is True
    assert head.classify("write me a limerick").needs_tool is False
    reloaded = QueryClassifier(retriever=retriever, weights=head.weights, threshold=head.threshold)
    assert reloaded.classify("good night!").probability == pytest.approx(
        head.classify("good night!").probability
    )
    with pytest.raises(ToolSelectionError, match="both classes"):
        clf.fit(tool_queries, [True] * 8)
    with pytest.raises(ToolSelectionError, match="labels"):
        clf.fit(tool_queries, [True])
    with pytest.raises(ToolSelectionError, match="subset"):
        clf.fit(tool_queries + chat_queries, [True] * 8 + [False] * 8, features=("nope",))


def test_negative_examples_feature(retriever: ToolRetriever) -> None:
    clf = QueryClassifier(retriever=retriever, negative_examples=["hello, how are you?"])
    d = clf.classify("hi, how are you doing?")
    assert d.features["negative"] > 0.7
    assert QueryClassifier(retriever=retriever).classify("hi").features["negative"] == 0.0


def test_config_errors(retriever: ToolRetriever) -> None:
    with pytest.raises(TokenOptConfigError, match="not in the catalog"):
        QueryClassifier(retriever=retriever, always_include=["nope"])
    with pytest.raises(TokenOptConfigError, match="threshold"):
        QueryClassifier(retriever=retriever, threshold=1.0)
    with pytest.raises(TokenOptConfigError, match="list of tool names"):
        QueryClassifier(retriever=retriever, always_include="set_alarm")
    with pytest.raises(TokenOptConfigError, match="ToolRetriever"):
        QueryClassifier(retriever=object())  # type: ignore[arg-type]
    bad = ClassifierWeights(coef=(1.0,), intercept=0.0, mean=(0.0,), scale=(1.0,))
    with pytest.raises(TokenOptConfigError, match="coefficients"):
        QueryClassifier(retriever=retriever, weights=bad)
