"""The static (model2vec) table distilled from the packaged MiniLM, and the pool it picks."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from langchain_tokenopt.compression import QueryAwareCompressor, RankingConfig
from langchain_tokenopt.compression.segmentation import segment
from langchain_tokenopt.compression.static_embeddings import (
    STATIC_DIMS,
    StaticEmbeddings,
    get_default_static_embeddings,
    static_model_dir,
)
from langchain_tokenopt.errors import MissingDependencyError, TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter

from .conftest import TOPICS, RecordingEncoder, _doc_text

# The gold sentence shares no content word with the question: BM25 scores it 0.
QUESTION = "Which physician came across penicillin?"
GOLD = (
    "Alexander Fleming, a Scottish doctor, found the antibiotic mould in 1928 "
    "at St Mary's Hospital."
)


def _many_documents() -> list[str]:
    # Every sentence distinct (repeats would share one vector and cost the pool nothing).
    docs = [
        _doc_text(t, lead[:-1] + f" (survey {k}).", k)
        .replace("many decades", f"{k + 2} decades")
        .replace("it often.", f"it in {k + 2} languages.")
        for k in range(6)
        for t, lead in TOPICS
    ]
    docs.insert(50, GOLD)
    return docs


def test_static_table_ships_with_the_package_and_gives_unit_vectors() -> None:
    static = get_default_static_embeddings()
    assert static is not None
    folder = static_model_dir()
    assert (folder / "model.safetensors").is_file()  # shipped in the package (build_assets.py)
    texts = [QUESTION, GOLD, "Chess is a board game played on 64 squares.", "", "%%%"]
    vectors = static.encode(texts)
    assert vectors.shape == (5, STATIC_DIMS)
    norms = np.linalg.norm(vectors[:3], axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    assert float(np.linalg.norm(vectors[3])) == 0.0
    # related (doctor / physician, antibiotic / penicillin) beats unrelated
    assert float(vectors[1] @ vectors[0]) > float(vectors[2] @ vectors[0]) + 0.1
    np.testing.assert_array_equal(vectors, StaticEmbeddings(folder).encode(texts))
    assert static.encode([]).shape == (0, STATIC_DIMS)


def test_static_prior_puts_a_paraphrased_answer_into_the_minilm_pool() -> None:
    docs = _many_documents()
    counter = TokenCounter()
    total = counter.count("\n\n".join(docs))
    recorder = RecordingEncoder()
    result = QueryAwareCompressor(target_tokens=60, embeddings=recorder).invoke(
        {"context": docs, "question": QUESTION}
    )
    assert "1928" in result.text and result.tokens_after <= 60
    assert GOLD in recorder.seen
    items = [t for t in recorder.seen if t != QUESTION]
    config = RankingConfig()
    assert all(len(t) <= config.dense_max_chars for t in items)
    # The pool is 12 % of the input's item tokens (sentences counted one by one); repeated
    # sentences share one vector, so each distinct text is embedded once.
    assert len(items) == len(set(items))
    item_tokens = sum(counter.count_batch([item.text for item in segment(docs).items]))
    assert total <= item_tokens
    assert sum(counter.count(t) for t in items) <= 0.12 * item_tokens + max(
        map(counter.count, items)
    )
    # BM25 alone picks the pool from lexical matches: the gold sentence is never embedded
    lexical = RecordingEncoder()
    QueryAwareCompressor(target_tokens=60, embeddings=lexical, static_embeddings=False).invoke(
        {"context": docs, "question": QUESTION}
    )
    assert GOLD not in lexical.seen
    assert len(lexical.seen) > 1


def test_default_is_deterministic_and_within_budget() -> None:
    docs = _many_documents()
    counter = TokenCounter()
    for budget in (25, 80, 300):
        first = QueryAwareCompressor(target_tokens=budget).invoke(
            {"context": docs, "question": QUESTION}
        )
        again = QueryAwareCompressor(target_tokens=budget).invoke(
            {"context": docs, "question": QUESTION}
        )
        assert first.text == again.text
        assert counter.count(first.text) <= budget


class RecordingStatic:
    """The real static table, recording each batch of texts it is asked to embed."""

    def __init__(self) -> None:
        inner = get_default_static_embeddings()
        assert inner is not None  # `make install` distills it
        self.inner = inner
        self.batches: list[list[str]] = []

    def encode(self, texts: list[str]) -> Any:
        self.batches.append(list(texts))
        return self.inner.encode(texts)


def test_custom_static_embedder_is_used() -> None:
    docs = _many_documents()
    static = RecordingStatic()
    QueryAwareCompressor(target_tokens=60, static_embeddings=static).invoke(
        {"context": docs, "question": QUESTION}
    )
    calls = [len(batch) for batch in static.batches]
    assert calls and calls[0] > len(docs)  # the question and every item, in one call
    unused = RecordingStatic()
    QueryAwareCompressor(
        target_tokens=60, static_embeddings=unused, ranking=RankingConfig.thorough()
    ).invoke({"context": docs, "question": QUESTION})
    assert unused.batches == []  # thorough embeds everything with MiniLM: no static prior needed


def test_static_vectors_of_recurring_items_are_kept() -> None:
    docs = _many_documents()
    static = RecordingStatic()
    compressor = QueryAwareCompressor(target_tokens=60, static_embeddings=static)
    compressor.invoke({"context": docs, "question": QUESTION})
    other = "Who found the mould that became the first antibiotic?"
    second = compressor.invoke({"context": docs, "question": other})
    # the second question embeds only itself: the items' static vectors were kept
    assert [len(batch) for batch in static.batches][1:] == [1]
    assert static.batches[1] == [other]
    # and kept vectors rank as fresh ones do
    fresh = QueryAwareCompressor(target_tokens=60, static_embeddings=RecordingStatic())
    alone = fresh.invoke({"context": docs, "question": other})
    assert (second.text, second.dropped_items) == (alone.text, alone.dropped_items)


def test_ranking_presets_and_validation() -> None:
    default = RankingConfig()
    assert default.uses_static and default.dense_share == 0.12
    lexical = RankingConfig.lexical_pool()
    assert not lexical.uses_static
    assert (lexical.dense_share, lexical.dense_max_chars, lexical.pool_spread) == (0.15, 1000, 1.0)
    kept = RankingConfig(parent_weight=0.5).without_static()
    assert kept.parent_weight == 0.5 and not kept.uses_static
    thorough = RankingConfig.thorough()
    assert thorough.without_static() is thorough and thorough.dense_share is None
    for bad in ({"static_weight": -1.0}, {"static_parent_weight": -0.1}, {"pool_bm25_weight": -2}):
        with pytest.raises(TokenOptConfigError):
            RankingConfig(**bad)  # type: ignore[arg-type]


def test_without_model2vec_the_pool_falls_back_to_bm25(monkeypatch: pytest.MonkeyPatch) -> None:
    folder = static_model_dir()
    monkeypatch.setitem(sys.modules, "model2vec", None)
    with pytest.raises(MissingDependencyError, match="embeddings"):
        StaticEmbeddings(folder).encode(["anything"])
    docs = _many_documents()
    payload = {"context": docs, "question": QUESTION}
    off = QueryAwareCompressor(target_tokens=60, static_embeddings=False).invoke(payload)
    lexical = QueryAwareCompressor(
        target_tokens=60, static_embeddings=False, ranking=RankingConfig.lexical_pool()
    ).invoke(payload)
    assert off.text == lexical.text and off.tokens_after <= 60


def test_static_prior_is_bounded_on_large_inputs() -> None:
    docs = _many_documents()
    counter = TokenCounter()
    ranking = RankingConfig(static_max_tokens=200)
    static = RecordingStatic()
    result = QueryAwareCompressor(
        target_tokens=60, static_embeddings=static, ranking=ranking
    ).invoke({"context": docs, "question": QUESTION})
    items = [t for batch in static.batches for t in batch if t != QUESTION]
    assert 0 < len(items) < len(docs)  # docs are several sentences each: far more items
    largest = max(counter.count(t) for t in items)
    assert sum(counter.count(t) for t in items) <= 200 + largest
    assert result.tokens_after <= 60 and result.text
    with pytest.raises(TokenOptConfigError):
        RankingConfig(static_max_tokens=0)
