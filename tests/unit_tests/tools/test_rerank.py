"""The learned second stage (``langchain_tokenopt.tools.rerank``) on the real MiniLM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tools import ToolRetriever
from langchain_tokenopt.tools.rerank import (
    DEFAULT_RERANK_WEIGHTS,
    RERANK_FEATURES,
    Reranker,
    RerankWeights,
    fit_rerank_weights,
    name_style,
)


def _fn(name: str, description: str, **params: str) -> dict[str, Any]:
    props = {p: {"type": "integer", "description": d} for p, d in params.items()}
    return {
        "name": name,
        "description": description,
        "parameters": {"type": "object", "properties": props, "required": list(params)},
    }


# Toolkit siblings (``circle.*``) among near-duplicates from other toolkits: the kind of
# catalog where the fused score alone fills the top slots with copies of one intent.
CIRCLES = [
    _fn(
        "circle.calculate_area",
        "Calculate the area of a circle based on the radius.",
        radius="The radius of the circle.",
    ),
    _fn(
        "circle.calculate_circumference",
        "Calculate the circumference of a circle based on the diameter.",
        diameter="The diameter of the circle.",
    ),
    _fn(
        "circle.area",
        "Calculate the area of a circle with given radius",
        radius="Radius of the circle",
        isDiameter="Whether the given length is the diameter of the circle, default is false",
    ),
    _fn(
        "geometry.area_circle",
        "Calculate the area of a circle given the radius.",
        radius="The radius of the circle.",
        units="The units in which the radius is measured (defaults to 'meters').",
    ),
    _fn(
        "geometry_circle.calculate",
        "Calculates the area and circumference of a circle given the radius.",
        radius="The radius of the circle.",
    ),
    _fn(
        "calculate_circle_dimensions",
        "Calculate the area and circumference of a circle based on the radius.",
        radius="The radius of the circle.",
    ),
    _fn(
        "calculate_circumference",
        "Calculates the circumference of a circle with a given radius.",
        radius="The radius of the circle in the unit given.",
        unit="The unit of measurement for the radius. Default is 'cm'.",
    ),
    _fn(
        "get_current_weather",
        "Retrieves the current temperature and humidity for a specific location.",
        location="The city name to get the weather for.",
    ),
    _fn(
        "array_sort",
        "Sorts a given list in ascending or descending order.",
        list="The list of numbers to be sorted.",
    ),
]
CIRCLE_QUERY = (
    "Find the area and perimeter of a circle with a radius of 5 and also find the "
    "circumference of a circle with diameter of 10."
)


def top(retriever: ToolRetriever, query: str, k: int) -> list[str]:
    return [d.metadata["name"] for d in retriever.invoke(query, k=k)]


def test_toolkit_sibling_of_a_clause_top_tool_enters_the_top_three(store_dir: Path) -> None:
    reranked = ToolRetriever(tools=CIRCLES, k=3, cache_dir=store_dir)
    first_stage = ToolRetriever(tools=CIRCLES, k=3, cache_dir=store_dir, rerank=False)
    got = top(reranked, CIRCLE_QUERY, 3)
    # both intents' tools from the one toolkit the question was written for
    assert {"circle.calculate_area", "circle.calculate_circumference"} <= set(got)
    # the fused score alone keeps a near-duplicate from another toolkit above the sibling
    plain = first_stage.rank(CIRCLE_QUERY)
    assert plain is not None
    order = [first_stage.names[int(i)] for i in plain.order]
    assert order.index("circle.calculate_area") >= 3


def test_scores_are_the_reranker_probabilities(store_dir: Path) -> None:
    retriever = ToolRetriever(tools=CIRCLES, cache_dir=store_dir)
    result = retriever.rank(CIRCLE_QUERY)
    assert result is not None and result.probability is not None
    docs = retriever.invoke(CIRCLE_QUERY, k=5)
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 < s < 1.0 for s in scores)
    # without the dense side there is nothing to rerank: plain fused scores
    lexical = ToolRetriever(tools=CIRCLES, dense=False)
    lex = lexical.rank(CIRCLE_QUERY)
    assert lex is not None and lex.probability is None


def test_rerank_false_is_the_fused_order(store_dir: Path) -> None:
    retriever = ToolRetriever(tools=CIRCLES, cache_dir=store_dir, rerank=False)
    index = retriever.index
    texts = index.query_texts(CIRCLE_QUERY, decompose=True)
    fused = index.rank(CIRCLE_QUERY, retriever.embed_queries(texts))
    result = retriever.rank(CIRCLE_QUERY)
    assert result is not None and result.probability is None
    assert result.order.tolist() == fused.order.tolist()


def test_named_tool_stays_first_after_reranking(store_dir: Path) -> None:
    retriever = ToolRetriever(tools=CIRCLES, cache_dir=store_dir)
    assert top(retriever, "use array_sort on the circle areas", 1) == ["array_sort"]


def test_candidates_and_features_shape(store_dir: Path) -> None:
    retriever = ToolRetriever(tools=CIRCLES, cache_dir=store_dir)
    index = retriever.index
    texts = index.query_texts(CIRCLE_QUERY, decompose=True)
    signals = index.signals(CIRCLE_QUERY, retriever.embed_queries(texts))
    cands, feats = Reranker(index).features(signals, index.fuse(signals))
    assert sorted(cands.tolist()) == list(range(len(CIRCLES)))  # small catalog: every tool
    assert feats.shape == (len(CIRCLES), len(RERANK_FEATURES))
    assert np.isfinite(feats).all()
    multi = feats[:, RERANK_FEATURES.index("multi")]
    assert (multi == 1.0).all()  # the query has clauses


def test_candidates_is_validated(store_dir: Path) -> None:
    index = ToolRetriever(tools=CIRCLES, cache_dir=store_dir).index
    for bad in (0, -3, True, 2.5):
        with pytest.raises(TokenOptConfigError, match="candidates must be"):
            Reranker(index, candidates=bad)  # type: ignore[arg-type]


def test_one_tool_catalog_is_reranked(store_dir: Path) -> None:
    retriever = ToolRetriever(tools=CIRCLES[:1], cache_dir=store_dir)
    docs = retriever.invoke(CIRCLE_QUERY, k=5)
    assert [d.metadata["name"] for d in docs] == ["circle.calculate_area"]
    assert 0.0 < docs[0].metadata["score"] < 1.0


def test_name_style() -> None:
    assert name_style("museum.get_hours") == name_style("museum.get_waiting_time")
    assert name_style("Restaurants_2_FindRestaurants") != name_style("restaurant.find")


def test_weights_are_validated_and_fit_recovers_a_signal() -> None:
    with pytest.raises(TokenOptConfigError, match="RerankWeights need"):
        RerankWeights(coef=(1.0,), intercept=0.0, mean=(0.0,), scale=(1.0,))
    with pytest.raises(TokenOptConfigError, match="scale"):
        RerankWeights(
            coef=DEFAULT_RERANK_WEIGHTS.coef,
            intercept=0.0,
            mean=DEFAULT_RERANK_WEIGHTS.mean,
            scale=(0.0,) * len(RERANK_FEATURES),
        )
    # the shipped model gives a finite logit for any finite row
    rows = np.random.default_rng(1).normal(size=(16, len(RERANK_FEATURES)))
    assert np.isfinite(DEFAULT_RERANK_WEIGHTS.logits(rows)).all()
    rng = np.random.default_rng(0)
    feats, labels = [], []
    for _ in range(60):
        x = rng.normal(size=(8, len(RERANK_FEATURES)))
        y = np.zeros(8)
        y[int(np.argmin(x[:, 0]))] = 1.0  # needed = smallest fused gap
        feats.append(x)
        labels.append(y)
    weights = fit_rerank_weights(feats, labels)
    assert weights.coef[0] < 0
    assert abs(weights.coef[0]) == max(abs(c) for c in weights.coef)
    with pytest.raises(TokenOptConfigError, match="both"):
        fit_rerank_weights(feats, [np.zeros(8)] * len(feats))
    with pytest.raises(TokenOptConfigError, match="one label array"):
        fit_rerank_weights(feats, labels[:-1])


async def test_async_ranking_is_reranked_too(store_dir: Path) -> None:
    retriever = ToolRetriever(tools=CIRCLES, k=3, cache_dir=store_dir)
    docs = await retriever.ainvoke(CIRCLE_QUERY)
    assert [d.metadata["name"] for d in docs] == top(retriever, CIRCLE_QUERY, 3)
    assert "circle.calculate_area" in [d.metadata["name"] for d in docs]
