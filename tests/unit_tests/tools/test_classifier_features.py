"""The lexical and neighbour features of ``QueryClassifier`` on a real catalog and MiniLM."""

from __future__ import annotations

from typing import Any

import pytest

from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tools import QueryClassifier, ToolRetriever
from langchain_tokenopt.tools.classifier import FEATURES, ClassifierWeights

from .conftest import make_catalog

TOOL_QUERIES = {
    "get_weather": [
        "will it rain in Lisbon tomorrow?",
        "how windy is it in Chicago",
        "temperature in Madrid this afternoon",
    ],
    "convert_currency": [
        "how many yen is 30 dollars",
        "swap 200 euros into pounds",
        "exchange 75 francs to dollars",
    ],
}
CHAT = [
    "hey, how's it going?",
    "thank you so much, bye!",
    "tell me a bedtime story",
    "hello! nice to see you",
    "how are you today?",
    "what a lovely chat, thanks",
]


@pytest.fixture(scope="module")
def with_examples(store_dir: Any) -> ToolRetriever:
    return ToolRetriever(tools=make_catalog(), examples=TOOL_QUERIES, cache_dir=store_dir)


def test_lexical_features(retriever: ToolRetriever) -> None:
    clf = QueryClassifier(retriever=retriever)
    on_topic = clf.classify("weather forecast for Berlin").features
    assert on_topic["unknown"] == pytest.approx(1 / 3)  # "berlin" is in no tool's text
    assert on_topic["coverage"] == pytest.approx(2 / 3)  # get_weather holds weather, forecast
    assert on_topic["digits"] == 0.0
    gibberish = clf.classify("qwzx blorfy snarg").features
    assert gibberish["unknown"] == 1.0
    assert gibberish["coverage"] == 0.0
    assert clf.classify("convert 250 USD to EUR").features["digits"] == 1.0


def test_knn_reads_examples_and_negative_examples(
    retriever: ToolRetriever, with_examples: ToolRetriever
) -> None:
    assert QueryClassifier(retriever=retriever).classify("hi").features["knn"] == 0.5
    only_examples = QueryClassifier(retriever=with_examples)
    assert only_examples.classify("hi there").features["knn"] == 1.0  # every neighbour needs a tool
    clf = QueryClassifier(retriever=with_examples, negative_examples=CHAT)
    # 6 tool examples and 6 chats: a chat's nearest labelled queries are mostly chats
    assert clf.classify("hello, how are you doing?").features["knn"] <= 0.2
    rain = clf.classify("is it going to rain in Rome").features["knn"]
    assert rain >= 0.6  # its 3 weather examples at least
    clf.set_negative_examples([])
    assert clf.classify("hello, how are you doing?").features["knn"] == 1.0


def test_fit_uses_the_new_features(with_examples: ToolRetriever) -> None:
    clf = QueryClassifier(retriever=with_examples, negative_examples=CHAT)
    queries = [
        "weather in Oslo on Monday",
        "convert 15 GBP to USD",
        "book a hotel room in Rome for 2 nights",
        "price of TSLA stock",
        "good morning!",
        "what's your favourite colour?",
        "write a poem about the sea",
        "who was Napoleon?",
    ]
    acc = clf.fit(queries, [True] * 4 + [False] * 4)
    assert acc == 1.0
    coef = dict(zip(FEATURES, clf.weights.coef, strict=True))
    assert coef["knn"] != 0.0 and coef["coverage"] != 0.0
    assert clf.classify("swap 40 dollars into euros").needs_tool is True
    assert clf.classify("nice to meet you").needs_tool is False


def test_weights_of_another_feature_list_are_refused(retriever: ToolRetriever) -> None:
    short = ClassifierWeights(
        coef=(2.0, 0.5, 0.0, 0.1, 0.0, 0.0, -0.2),
        intercept=0.1,
        mean=(0.4, 1.5, 0.6, 0.05, 0.0, 0.0, 2.0),
        scale=(0.1, 0.8, 0.1, 0.05, 1.0, 1.0, 0.8),
    )
    with pytest.raises(TokenOptConfigError, match="coefficients"):
        QueryClassifier(retriever=retriever, weights=short)
    n = len(FEATURES)
    head = ClassifierWeights(
        coef=(0.5,) * n + (0.01,) * 384,
        intercept=0.0,
        mean=(0.0,) * (n + 384),
        scale=(1.0,) * (n + 384),
    )
    weights = QueryClassifier(retriever=retriever, weights=head).weights
    assert weights.uses_embedding and len(weights.coef) == n + 384
