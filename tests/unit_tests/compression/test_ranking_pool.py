"""The embedder's bounded pool, the per-text vector cache and RankingConfig validation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document

from langchain_tokenopt.compression import QueryAwareCompressor, RankingConfig
from langchain_tokenopt.compression.embedding_cache import CachedEncoder
from langchain_tokenopt.embeddings import get_default_query_embeddings
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter

from .conftest import RecordingEncoder

QUESTION = "When was the Eiffel Tower completed?"


def test_default_embeds_only_a_bounded_pool(documents: list[Document]) -> None:
    counter = TokenCounter()
    recorder = RecordingEncoder()
    result = QueryAwareCompressor(target_tokens=60, embeddings=recorder).invoke(
        {"context": documents, "question": QUESTION}
    )
    assert "completed in 1889" in result.text
    total = counter.count("\n\n".join(d.page_content for d in documents))
    items = [t for t in recorder.seen if t != QUESTION]
    largest = max(counter.count(t) for t in items)
    assert sum(counter.count(t) for t in items) <= 0.15 * total + largest
    thorough = RecordingEncoder()
    QueryAwareCompressor(
        target_tokens=60, embeddings=thorough, ranking=RankingConfig.thorough()
    ).invoke({"context": documents, "question": QUESTION})
    assert len(thorough.seen) > 3 * len(recorder.seen)


def test_cached_vectors_equal_fresh_ones_and_lru_is_bounded() -> None:
    fresh = get_default_query_embeddings()
    encoder = CachedEncoder(fresh, max_entries=2)
    texts = ["The tower is 330 metres tall.", "Bananas are yellow.", "Chess has 64 squares."]
    first = encoder.encode(texts[:2])
    again = encoder.encode(texts[:2])
    assert encoder.hits == 2 and encoder.misses == 2
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first, np.asarray(fresh.encode(texts[:2]), dtype=np.float64))
    encoder.encode(texts[2:])
    assert len(encoder._vectors) == 2 and texts[0] not in encoder._vectors
    with pytest.raises(TokenOptConfigError):
        CachedEncoder(fresh, max_entries=-1)


def test_same_output_with_a_warm_or_cold_cache(documents: list[Document]) -> None:
    compressor = QueryAwareCompressor(target_tokens=70, ranking=RankingConfig.thorough())
    payload = {"context": documents, "question": QUESTION}
    cold = compressor.invoke(payload)
    warm = compressor.invoke(payload)
    fresh = QueryAwareCompressor(target_tokens=70, ranking=RankingConfig.thorough()).invoke(payload)
    assert cold.text == warm.text == fresh.text


@pytest.mark.parametrize(
    "bad",
    [
        {"bm25_weight": -1.0},
        {"parent_weight": 1.5},
        {"dense_share": 0.0},
        {"dense_share": 1.2},
        {"dense_pool": 0.0},
        {"parent_top": 0},
        {"dense_context_chars": -5},
    ],
)
def test_ranking_config_rejects_out_of_range(bad: dict[str, Any]) -> None:
    with pytest.raises(TokenOptConfigError):
        RankingConfig(**bad)
    with pytest.raises(TokenOptConfigError):
        QueryAwareCompressor(target_tokens=10, embedding_cache_size=-1)


POLICY = [
    "Novels may be borrowed for three weeks and renewed twice online.",
    "Reference books never leave the reading room on the second floor.",
    "Laptops lent at the front desk must come back before the library closes.",
    "Overdue items cost 20 cents a day, up to the price of the item.",
    "Children under twelve need a guardian to sign their first card.",
    "Study rooms are booked in two-hour slots, at most one slot a day.",
    "Lost cards are replaced for two dollars at any branch.",
    "Printing costs ten cents a page in black and white.",
]


def test_repeated_sentences_are_embedded_once_and_kept_once() -> None:
    counter = TokenCounter()
    once, pasted = " ".join(POLICY), " ".join(POLICY * 3)  # a policy pasted three times
    question = "How much does printing cost?"
    single = RecordingEncoder()
    QueryAwareCompressor(target_tokens=45, embeddings=single).invoke(
        {"context": once, "question": question}
    )
    recorder = RecordingEncoder()
    result = QueryAwareCompressor(target_tokens=45, embeddings=recorder).invoke(
        {"context": pasted, "question": question}
    )
    items = [t for t in recorder.seen if t != question]
    # one vector per distinct text, so the 3x larger pool reaches more distinct sentences
    assert items and len(items) == len(set(items))
    assert len(items) > len([t for t in single.seen if t != question])
    kept = [s for s in POLICY if s in result.text]
    assert all(result.text.count(s) == 1 for s in kept)  # no copy spends the budget
    assert POLICY[7] in result.text and len(kept) >= 3
    assert counter.count(result.text) <= 45
