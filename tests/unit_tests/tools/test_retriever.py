from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document

from langchain_tokenopt.errors import TokenOptConfigError, ToolSelectionError
from langchain_tokenopt.tools import FusionWeights, ToolRetriever
from langchain_tokenopt.tools.index import split_intents
from langchain_tokenopt.tools.store import EmbeddingStore


def names(docs: list[Document]) -> list[str]:
    return [d.metadata["name"] for d in docs]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("what's the weather like in Oslo tomorrow?", "get_weather"),
        ("how much is 100 dollars in euros", "convert_currency"),
        ("find me a flight from Boston to Denver on May 3", "search_flights"),
        ("wake me up at 6:30", "set_alarm"),
    ],
)
def test_relevant_tool_ranks_first(retriever: ToolRetriever, query: str, expected: str) -> None:
    assert names(retriever.invoke(query))[0] == expected


def test_documents_carry_name_score_and_schema(retriever: ToolRetriever) -> None:
    docs = retriever.invoke("send an email to Bob about lunch")
    assert len(docs) == retriever.k == 3
    top = docs[0]
    assert top.metadata["name"] == "send_email"
    assert top.metadata["schema"]["function"]["name"] == "send_email"
    assert top.page_content.startswith("send_email: Send an email")
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)
    assert [d.metadata["rank"] for d in docs] == [0, 1, 2]


def test_k_field_and_invoke_k(retriever: ToolRetriever) -> None:
    assert len(retriever.invoke("weather", k=1)) == 1
    assert len(retriever.invoke("weather", k=7)) == 7
    assert len(retriever.invoke("weather", k=500)) == len(retriever.specs)
    with pytest.raises(ToolSelectionError, match="k must be"):
        retriever.invoke("weather", k=0)
    with pytest.raises(TokenOptConfigError, match="k must be"):
        ToolRetriever(tools=[{"name": "a_b", "description": "x"}], k=0, dense=False)


def test_exactly_named_tool_with_poor_description_is_returned(retriever: ToolRetriever) -> None:
    for query in (
        "run zx_qlm_handler on the weather report for Paris",
        "please call zxQlmHandler with the flight list",
        "use zx_qlm_handlr to send an email",  # one typo
    ):
        docs = retriever.invoke(query, k=1)
        assert names(docs) == ["zx_qlm_handler"], query
        assert docs[0].metadata["forced"] is True
    # without the mention it is not in the top 3 for that query
    assert "zx_qlm_handler" not in names(retriever.invoke("weather report for Paris"))


def test_dotted_name_alias_and_plain_word_mention(retriever: ToolRetriever) -> None:
    assert names(retriever.invoke("cancel_booking 42", k=1)) == ["hotels.cancel_booking"]
    # a mention in plain words lands in the top three even when another tool scores higher
    top3 = names(retriever.invoke("what's the weather in Oslo, then set alarm", k=3))
    assert "set_alarm" in top3
    assert "get_weather" in top3


def test_multi_intent_query_gets_both_tools(retriever: ToolRetriever) -> None:
    query = "book a flight from Rome to Paris and then convert 300 dollars to euros"
    assert len(split_intents(query)) == 2
    top3 = names(retriever.invoke(query))
    assert {"search_flights", "convert_currency"} <= set(top3)


def test_empty_and_bad_queries(retriever: ToolRetriever) -> None:
    assert retriever.invoke("") == []
    assert retriever.invoke("   \n") == []
    with pytest.raises(ToolSelectionError, match="must be a str"):
        retriever.rank(123)  # type: ignore[arg-type]
    docs = retriever.invoke("qwzx vvbn plok", k=2)  # no known word: still k documents
    assert len(docs) == 2


async def test_async_matches_sync(retriever: ToolRetriever) -> None:
    query = "translate this sentence into German"
    sync = retriever.invoke(query)
    asyn = await retriever.ainvoke(query)
    assert names(asyn) == names(sync)
    assert names(asyn)[0] == "translate_text"
    assert await retriever.ainvoke("") == []


def test_examples_are_indexed(store_dir: Path, catalog: list[Any]) -> None:
    query = "put on something by Miles Davis"
    r = ToolRetriever(
        tools=catalog,
        examples={"play_music": ["put on some jazz by John Coltrane"]},
        cache_dir=store_dir,
    )
    assert r.index.example_vectors is not None
    assert names(r.invoke(query, k=1)) == ["play_music"]
    result = r.rank(query)
    assert result is not None
    play = r.index.position["play_music"]
    plain = ToolRetriever(tools=catalog, cache_dir=store_dir).rank(query)
    assert plain is not None
    assert result.dense[play] > plain.dense[play]


def test_embeddings_persist_by_content_hash(tmp_path: Path, catalog: list[Any]) -> None:
    first = ToolRetriever(tools=catalog, cache_dir=tmp_path)
    assert first.index.embedded_count == len(catalog)
    again = ToolRetriever(tools=catalog, cache_dir=tmp_path)
    assert again.index.embedded_count == 0
    assert np.allclose(again.index.doc_vectors, first.index.doc_vectors, atol=1e-6)
    changed = list(catalog)
    changed[-1] = {**catalog[-1], "description": "Set an alarm or a timer."}
    third = ToolRetriever(tools=changed, cache_dir=tmp_path)
    assert third.index.embedded_count == 1
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert files == [".lock", "keys.json", "vectors.npy"]
    meta = json.loads(next(tmp_path.rglob("keys.json")).read_text())
    assert len(meta["keys"]) == len(catalog) + 1
    np.load(next(tmp_path.rglob("vectors.npy")), allow_pickle=False)


def test_default_store_lives_in_user_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANGCHAIN_TOKENOPT_HOME", str(tmp_path))
    ToolRetriever(tools=[{"name": "ping_host", "description": "Ping a host"}])
    assert list((tmp_path / "tool_embeddings").rglob("vectors.npy"))


def test_corrupt_store_is_ignored(tmp_path: Path, catalog: list[Any]) -> None:
    ToolRetriever(tools=catalog, cache_dir=tmp_path)
    next(tmp_path.rglob("vectors.npy")).write_bytes(b"not numpy")
    r = ToolRetriever(tools=catalog, cache_dir=tmp_path)
    assert r.index.embedded_count == len(catalog)
    assert names(r.invoke("weather in Rome", k=1)) == ["get_weather"]


def test_store_unit(tmp_path: Path) -> None:
    store = EmbeddingStore(tmp_path, embedder_id="test-embedder")
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return np.asarray([[float(len(t)), 1.0] for t in texts], dtype=np.float32)

    out = store.embed(["ab", "abc", "ab"], embed)
    assert calls == [["ab", "abc"]]
    assert out.tolist() == [[2.0, 1.0], [3.0, 1.0], [2.0, 1.0]]
    other = EmbeddingStore(tmp_path, embedder_id="test-embedder")
    other.embed(["abc", "abcd"], embed)
    assert calls[-1] == ["abcd"]
    # another embedder never sees these vectors
    assert EmbeddingStore(tmp_path, embedder_id="other").embed(["ab"], embed).shape == (1, 2)
    assert calls[-1] == ["ab"]


def test_missing_descriptions_are_indexed_by_name() -> None:
    tools = [
        {"name": "reboot_router", "parameters": {"type": "object"}},
        {"name": "order_pizza", "parameters": {"type": "object"}},
        {"name": "water_plants", "parameters": {"type": "object"}},
    ]
    r = ToolRetriever(tools=tools, persist=False)
    assert names(r.invoke("my wifi router needs a restart", k=1)) == ["reboot_router"]
    assert r.invoke("order_pizza", k=1)[0].page_content == "order_pizza"


def test_ten_thousand_tool_catalog_bm25_only() -> None:
    tools = [
        {
            "name": f"service_{i}_action",
            "description": f"Operation number {i} of the internal service catalog.",
            "parameters": {"type": "object", "properties": {f"arg_{i}": {"type": "string"}}},
        }
        for i in range(10_000)
    ]
    tools[7777]["description"] = "Refund a customer's invoice payment."
    r = ToolRetriever(tools=tools, dense=False, k=5)
    assert len(r.specs) == 10_000
    assert names(r.invoke("refund the invoice payment", k=1)) == ["service_7777_action"]
    assert names(r.invoke("please run service_4242_action", k=1)) == ["service_4242_action"]
    assert len(r.invoke("anything at all")) == 5


def test_config_validation(catalog: list[Any]) -> None:
    with pytest.raises(TokenOptConfigError, match="dense_weight"):
        ToolRetriever(tools=catalog, dense=False, fusion=FusionWeights(dense_weight=1.5))
    with pytest.raises(ToolSelectionError, match="empty"):
        ToolRetriever(tools=[], dense=False)
    with pytest.raises(ToolSelectionError, match="duplicate"):
        ToolRetriever(tools=[*catalog, catalog[0]], dense=False)


def test_interleave_orders_and_option(store_dir: Path, catalog: list[Any]) -> None:
    from langchain_tokenopt.tools.index import interleave_orders

    merged = interleave_orders([np.array([3, 1, 2]), np.array([1, 0, 3]), np.array([2])])
    assert merged.tolist() == [3, 1, 2, 0]
    r = ToolRetriever(
        tools=catalog, cache_dir=store_dir, fusion=FusionWeights(interleave=True), k=2
    )
    query = "what's the stock price of Tesla and also play some relaxing music"
    assert set(names(r.invoke(query))) == {"get_stock_price", "play_music"}


class CountingEncoder:
    """The packaged embedder, recording each text it is asked to embed."""

    def __init__(self) -> None:
        from langchain_tokenopt.embeddings import OnnxEmbeddings

        self.model = OnnxEmbeddings(recent=0)
        self.texts: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.model.encode(texts)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return self.model.encode(texts).tolist()


@pytest.mark.parametrize("use_async", [False, True])
async def test_a_joined_query_is_embedded_as_its_parts(
    store_dir: Path, catalog: list[Any], use_async: bool
) -> None:
    encoder = CountingEncoder()
    retriever = ToolRetriever(tools=catalog, query_embeddings=encoder, cache_dir=store_dir)
    parts = ["I need to get from Boston to Denver on May 3.", "Please find me a flight."]
    joined = "\n".join(parts)
    if use_async:
        result = await retriever.arank(joined, parts=parts)
    else:
        result = retriever.rank(joined, parts=parts)
    assert result is not None and result.query_vector is not None
    # the joined text never reaches the encoder: its vector is the length-weighted mean of
    # the parts' (each embedded once), and each one-clause part stands for its clause
    assert joined not in encoder.texts
    assert sorted(encoder.texts) == sorted(parts)
    vectors = encoder.model.encode(parts)
    mean = len(parts[0]) * vectors[0] + len(parts[1]) * vectors[1]
    np.testing.assert_allclose(result.query_vector, mean / np.linalg.norm(mean), atol=1e-6)
    assert retriever._index.specs[int(result.order[0])].name == "search_flights"
    # the next turn embeds only itself: the earlier part's vector is kept
    encoder.texts.clear()
    later = [parts[0], "And convert 300 dollars to euros as well."]
    retriever.rank("\n".join(later), parts=later)
    assert encoder.texts == [later[1]]
    with pytest.raises(ToolSelectionError, match="sequence of texts"):
        retriever.rank(joined, parts=joined)  # type: ignore[arg-type]
