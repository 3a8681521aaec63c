"""The shipped default ``QueryClassifier`` on a catalog of long schema texts (real MiniLM)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from langchain_tokenopt.tools import QueryClassifier, ToolRetriever
from langchain_tokenopt.tools.classifier import FEATURES, ClassifierWeights

from .long_catalog import CHITCHAT, LONG_TOOLS, TOOL_QUERIES

#: The default before the catalog-relative features (``dense`` and ``gap`` only; weight 0 on
#: the two catalog-relative features).
PREVIOUS_DEFAULT = ClassifierWeights(
    coef=(1.0631, 0.0, 0.0, 0.0278, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    intercept=0.9393,
    mean=(0.4961, 2.3157, 0.6550, 0.0583, 0.0, 0.0, 2.7662, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    scale=(0.1428, 0.7815, 0.1395, 0.0727, 1.0, 1.0, 0.8105, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
)
PREVIOUS_THRESHOLD = 0.4294


@pytest.fixture(scope="module")
def long_retriever(store_dir: Any) -> ToolRetriever:
    return ToolRetriever(tools=LONG_TOOLS, cache_dir=store_dir)


def test_default_keeps_tools_for_clear_questions_on_long_schemas(
    long_retriever: ToolRetriever,
) -> None:
    clf = QueryClassifier(retriever=long_retriever)
    decisions = clf.classify_batch(TOOL_QUERIES)
    missed = [q for q, d in zip(TOOL_QUERIES, decisions, strict=True) if not d.needs_tool]
    assert missed == []
    assert all(not d.forced for d in decisions)  # kept on their scores, not on a named tool


def test_default_abstains_on_chit_chat_on_long_schemas(long_retriever: ToolRetriever) -> None:
    clf = QueryClassifier(retriever=long_retriever)
    kept = [q for q, d in zip(CHITCHAT, clf.classify_batch(CHITCHAT), strict=True) if d.needs_tool]
    assert kept == []


def test_previous_default_weights_miss_long_schema_questions(
    long_retriever: ToolRetriever,
) -> None:
    old = QueryClassifier(
        retriever=long_retriever, weights=PREVIOUS_DEFAULT, threshold=PREVIOUS_THRESHOLD
    )
    assert len(old.weights.coef) == len(FEATURES)
    d = old.classify("Email Sarah that the meeting moved to 3pm")
    z = (np.asarray([d.features[f] for f in FEATURES]) - PREVIOUS_DEFAULT.mean) / np.asarray(
        PREVIOUS_DEFAULT.scale
    )
    logit = z @ np.asarray(PREVIOUS_DEFAULT.coef) + PREVIOUS_DEFAULT.intercept
    assert d.probability == pytest.approx(float(1.0 / (1.0 + np.exp(-logit))))
    # the raw-cosine default silenced clear questions here: what the relative features fix
    assert d.needs_tool is False
    assert d.features["dense"] < 0.4


def test_relative_features_read_the_query_scores_over_the_catalog(
    long_retriever: ToolRetriever,
) -> None:
    clf = QueryClassifier(retriever=long_retriever)
    query = "Convert 250 US dollars to Japanese yen"
    result = long_retriever.rank(query)
    assert result is not None
    feats = clf.decide(query, result).features
    dense = np.sort(result.dense)[::-1]
    assert feats["margin10"] == pytest.approx(float(dense[0] - dense[1:10].mean()), abs=1e-6)
    bm25 = result.bm25.astype(np.float64)
    assert feats["bm25_z"] == pytest.approx(float((bm25.max() - bm25.mean()) / bm25.std()))
    assert feats["margin10"] > 0.2 and feats["bm25_z"] > 2.0  # one tool stands out
    chat = clf.classify("hello!").features
    assert chat["margin10"] < 0.1
    assert chat["bm25_z"] == 0.0  # no tool's text holds a term of it


def test_relative_features_on_a_one_tool_catalog(store_dir: Any) -> None:
    clf = QueryClassifier(retriever=ToolRetriever(tools=LONG_TOOLS[:1], cache_dir=store_dir))
    feats = clf.classify("weather in Paris tomorrow").features
    assert feats["margin10"] == pytest.approx(feats["dense"])  # no other tool: the score itself
    assert feats["bm25_z"] == 0.0
    assert all(np.isfinite(list(feats.values())))
