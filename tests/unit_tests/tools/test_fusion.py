"""Fusion details: relative multi-intent merge, example blending, name rules, query embedder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document

from langchain_tokenopt.embeddings import LocalEmbeddings, OnnxEmbeddings
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tools import ToolRetriever
from langchain_tokenopt.tools.catalog import build_catalog
from langchain_tokenopt.tools.index import (
    FusionWeights,
    QuerySignals,
    ToolIndex,
    blend_examples,
    interleave_orders,
    place_forced,
    split_intents,
)
from langchain_tokenopt.tools.names import NameMatcher


def names(docs: list[Document]) -> list[str]:
    return [d.metadata["name"] for d in docs]


def _signals(rows: list[list[float]]) -> QuerySignals:
    bm25 = np.asarray(rows, dtype=np.float32)
    return QuerySignals(
        texts=tuple(f"t{i}" for i in range(len(rows))),
        bm25=bm25,
        dense=np.zeros_like(bm25),
        example=None,
        has_dense=False,
        mentions=(),
    )


def _bm25_index(n: int) -> ToolIndex:
    specs = build_catalog([{"name": f"tool_{i}", "description": f"does {i}"} for i in range(n)])
    return ToolIndex(specs, embed=None)


def test_relative_merge_lifts_each_clause_top_tool() -> None:
    index = _bm25_index(5)
    # whole query: tool 0 >> 1 > 2 > 3; clause 1 prefers tool 0; clause 2 prefers tool 4, weakly
    sig = _signals(
        [[10.0, 8.0, 7.0, 6.0, 1.0], [10.0, 1.0, 1.0, 1.0, 1.0], [2.0, 1.0, 1.0, 1.0, 4.0]]
    )
    plain_max = index.fuse(sig, FusionWeights(clause_relative=0.0, clause_margin=0.0))
    relative = index.fuse(sig, FusionWeights(clause_relative=1.0, clause_margin=0.1))
    # lexical scores are normalized per text, so the plain max already gives tool 4 a 1.0;
    # a margin without the relative shift pushes it back behind the whole query's runners-up
    no_shift = index.fuse(sig, FusionWeights(clause_relative=0.0, clause_margin=0.5))
    assert int(np.where(no_shift.order == 4)[0][0]) == 4
    # relative to its own best, clause 2's top tool ties the whole query's runner-up
    assert set(relative.order[:3].tolist()) >= {0, 4}
    assert set(plain_max.order[:2].tolist()) == {0, 4}
    # scores stay on the whole query's scale and follow the order
    assert relative.fused[relative.order[0]] == pytest.approx(1.0)
    assert np.all(np.diff(relative.fused[relative.order]) <= 1e-6)


def test_single_text_fusion_is_plain_weighted_sum() -> None:
    index = _bm25_index(3)
    result = index.fuse(_signals([[1.0, 4.0, 2.0]]))
    np.testing.assert_allclose(result.fused, [0.25, 1.0, 0.5])
    assert result.order.tolist() == [1, 2, 0]


def test_blend_examples() -> None:
    doc = np.asarray([[0.2, 0.6]], dtype=np.float32)
    ex = np.asarray([[0.8, 0.6]], dtype=np.float32)
    np.testing.assert_allclose(blend_examples(doc, ex, 0.5), [[0.5, 0.6]])
    np.testing.assert_allclose(blend_examples(doc, ex, 1.0), ex)
    assert blend_examples(doc, None, 0.5) is doc


def test_place_forced_and_interleave_are_exact() -> None:
    order = np.asarray([5, 4, 3, 2, 1, 0])
    assert place_forced(order, strong=[2], weak=[]).tolist() == [2, 5, 4, 3, 1, 0]
    # weak 0 moves up to the third slot after the strong one; weak 4 already ranks better
    assert place_forced(order, strong=[2], weak=[0, 4]).tolist() == [2, 5, 4, 0, 3, 1]
    assert place_forced(order, strong=[], weak=[1]).tolist() == [5, 4, 1, 3, 2, 0]
    merged = interleave_orders([np.asarray([3, 1, 2]), np.asarray([1, 0, 3]), np.asarray([2])])
    assert merged.tolist() == [3, 1, 2, 0]
    assert interleave_orders([]).tolist() == []


def test_split_intents_keeps_every_clause_up_to_the_cap_without_quotes() -> None:
    query = (
        '"Can you help me with a few tasks? First, convert 5000 euros to dollars. '
        "Then find the population of turtles in Galapagos. Also book a table for two. "
        "Next, play some jazz music please. After that, set an alarm for 7 am. "
        "Then send an email to Bob about it. Finally check the weather in Oslo. "
        'And then translate hello into French."'
    )
    clauses = split_intents(query)
    assert len(clauses) == 9
    assert clauses[0] == "Can you help me with a few tasks"
    assert clauses[-1] == "translate hello into French"
    assert split_intents(query, max_clauses=8) == clauses[:8]
    assert not any(c.startswith(('"', "'")) or c.endswith(('"', "'")) for c in clauses)
    assert split_intents("what's the weather in Oslo?") == []


def test_everyday_phrase_does_not_force_a_short_tool_name() -> None:
    matcher = NameMatcher(["help_me", "get_weather", "set_alarm"])
    assert matcher.find_with_strength("can you help me with the weather in Oslo") == []
    assert matcher.find_with_strength("please call help_me now") == [("help_me", True)]
    assert matcher.find_with_strength("get weather in Oslo") == [("get_weather", False)]


def test_help_me_tool_is_not_pushed_into_the_top(store_dir: Path, catalog: list[Any]) -> None:
    tools = [*catalog, {"name": "help_me", "description": "Show the command line help text."}]
    r = ToolRetriever(tools=tools, cache_dir=store_dir, k=3)
    query = "can you help me find the weather forecast in Oslo?"
    docs = r.invoke(query)
    assert names(docs)[0] == "get_weather"
    assert not any(d.metadata["forced"] for d in docs)
    result = r.rank(query)
    assert result is not None
    assert result.forced == ()


def test_multi_intent_preamble_does_not_crowd_out_intents(
    store_dir: Path, catalog: list[Any]
) -> None:
    r = ToolRetriever(tools=catalog, cache_dir=store_dir, k=3)
    query = (
        "Could you help me with a few things? First, book a hotel room in Lisbon for "
        "two nights. Then play my jazz playlist on the speaker. Lastly, wake me up at 7 am."
    )
    top3 = names(r.invoke(query))
    assert set(top3) == {"hotels.book_room", "play_music", "set_alarm"}


def test_separate_query_embedder(store_dir: Path, catalog: list[Any]) -> None:
    docs_emb = LocalEmbeddings(num_threads=1)
    query_emb = OnnxEmbeddings(num_threads=1)
    r = ToolRetriever(
        tools=catalog, embeddings=docs_emb, query_embeddings=query_emb, cache_dir=store_dir
    )
    assert r.query_embeddings is query_emb
    assert names(r.invoke("how much is 100 dollars in euros", k=1)) == ["convert_currency"]
    vec = r.embed_queries(["turn on the lights"])
    np.testing.assert_allclose(vec, query_emb.encode(["turn on the lights"]))
    same = ToolRetriever(tools=catalog, embeddings=query_emb, cache_dir=store_dir)
    assert same.query_embeddings is query_emb


def test_default_embedder_is_the_int8_onnx_model(retriever: ToolRetriever) -> None:
    assert isinstance(retriever.embeddings, OnnxEmbeddings)
    assert retriever.query_embeddings is retriever.embeddings


@pytest.mark.parametrize(
    "field", ["dense_weight", "example_weight", "clause_weight", "clause_relative", "clause_margin"]
)
@pytest.mark.parametrize("value", [1.5, -0.1, float("nan")])
def test_fusion_weights_are_validated(catalog: list[Any], field: str, value: Any) -> None:
    with pytest.raises(TokenOptConfigError, match=field):
        FusionWeights(**{field: value})
    with pytest.raises(TokenOptConfigError, match=field):
        ToolRetriever(tools=catalog, dense=False, fusion={field: value})


_LONG_CONTEXT = (
    "I had a long week at work. My manager asked for a report. The office was noisy all day. "
    "The coffee machine broke again. My train was late twice. It rained every single evening. "
    "My neighbour painted his fence. The cat knocked over a vase. "
)


def test_an_intent_after_eight_sentences_of_context_is_still_scored(
    store_dir: Path, catalog: list[Any]
) -> None:
    query = _LONG_CONTEXT + "Wake me up at 7 am."
    r = ToolRetriever(tools=catalog, cache_dir=store_dir, k=3)
    result = r.rank(query)
    assert result is not None
    assert result.clauses[-1] == "Wake me up at 7 am"
    assert names(r.invoke(query))[0] == "set_alarm"
    # the old cap of eight clauses never scores the request itself
    capped = ToolRetriever(
        tools=catalog, cache_dir=store_dir, k=3, fusion=FusionWeights(max_clauses=8)
    ).rank(query)
    assert capped is not None
    assert "Wake me up at 7 am" not in capped.clauses
    assert r.names[int(capped.order[0])] != "set_alarm"


@pytest.mark.parametrize("bad", [1, 0, -3, True])
def test_max_clauses_is_validated(store_dir: Path, catalog: list[Any], bad: Any) -> None:
    with pytest.raises(TokenOptConfigError, match="max_clauses"):
        FusionWeights(max_clauses=bad)
    with pytest.raises(TokenOptConfigError, match="max_clauses"):
        FusionWeights(max_clauses=2.5)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "What is the capital city of Australia, what is the current population of Canada, "
            "and what is the largest city in Brazil?",
            [
                "What is the capital city of Australia",
                "what is the current population of Canada",
                "what is the largest city in Brazil",
            ],
        ),
        (
            "Look up the ATP function in mitochondria, then calculate the driving distance "
            "to LA, after that, tell me who discovered relativity, and finally, give me the "
            "price of a Fender guitar",
            [
                "Look up the ATP function in mitochondria",
                "calculate the driving distance to LA",
                "tell me who discovered relativity",
                "give me the price of a Fender guitar",
            ],
        ),
        (
            "Things to do today:\n- book a table for two\n* send an email to Bob",
            ["Things to do today:", "book a table for two", "send an email to Bob"],
        ),
    ],
)
def test_split_intents_on_commas_sequence_words_and_lines(query: str, expected: list[str]) -> None:
    assert split_intents(query) == expected


def test_split_intents_leaves_lists_of_nouns_and_places_whole() -> None:
    assert split_intents("weather in Oslo, Norway") == []
    assert split_intents("I like red, blue, and green colors") == []
    assert split_intents("what's the weather in Oslo, and how windy is it there?") == [
        "what's the weather in Oslo",
        "how windy is it there",
    ]


def test_comma_separated_questions_each_get_their_tool(store_dir: Path, catalog: list[Any]) -> None:
    r = ToolRetriever(tools=catalog, cache_dir=store_dir, k=3)
    query = (
        "What is the stock price of Apple today, how do you say thank you in Japanese, "
        "what is the weather like in Rome?"
    )
    result = r.rank(query)
    assert result is not None
    assert len(result.clauses) == 3
    assert set(names(r.invoke(query))) == {"get_stock_price", "translate_text", "get_weather"}


def test_typo_lookups_are_memoized_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import langchain_tokenopt.tools.names as names_module

    monkeypatch.setattr(names_module, "_NEAR_CACHE_SIZE", 3)
    matcher = NameMatcher(["get_weather_forecast", "send_email_message", "help_me"])
    queries = [
        "please call get_wether_forecast for Paris",
        "send_emal_message to Bob",
        "get weather forcast in Oslo",
        "please call get_wether_forecast for Paris",
    ]
    first = [matcher.find_with_strength(q) for q in queries]
    assert first[0] == [("get_weather_forecast", True)]
    assert first[1] == [("send_email_message", True)]
    assert first[2] == [("get_weather_forecast", False)]
    assert first[3] == first[0]
    assert 0 < len(matcher._near_cache) <= 3
    assert [matcher.find_with_strength(q) for q in queries] == first


def test_one_edit_at_either_end_of_a_name_is_still_found() -> None:
    # the end filter skips word runs sharing neither the first nor the last four characters
    # of any long name; an edit at the very first or last character must still match
    matcher = NameMatcher(["get_weather_forecast", "send_email_message"])
    for typo in (
        "xet_weather_forecast",  # substitution at the start
        "et_weather_forecast",  # deletion at the start
        "aget_weather_forecast",  # insertion at the start
        "get_weather_forecasx",  # substitution at the end
        "get_weather_forecas",  # deletion at the end
        "get_weather_forecastt",  # insertion at the end
    ):
        assert matcher.find(f"please call {typo} now") == ["get_weather_forecast"], typo
    assert matcher.find("please call xet_weather_forecasx now") == []  # two edits
    fresh = NameMatcher(["get_weather_forecast", "send_email_message"])
    assert fresh.find("nothing here resembles a tool name at all") == []
    assert not fresh._near_cache  # no word run shares an end with a long name: no lookups
