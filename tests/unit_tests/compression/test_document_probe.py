"""Direct Lucene BM25 (same scores as bm25s) and the per-document probe of the MiniLM pool."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from langchain_tokenopt.compression import QueryAwareCompressor, RankingConfig
from langchain_tokenopt.compression.lexical import bm25_scores, group_bm25
from langchain_tokenopt.compression.ranking import _probes, _static_cosines
from langchain_tokenopt.compression.static_embeddings import get_default_static_embeddings
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter

from .conftest import TOPICS, RecordingEncoder, _doc_text

QUESTION = "Which physician came across penicillin?"


def _bm25s_scores(texts: list[str], question: str) -> np.ndarray:
    corpus = bm25s.tokenize(texts, stopwords="en", show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    stop = set(bm25s.stopwords.STOPWORDS_EN)
    terms = [w for w in question.lower().replace("?", " ").split() if w not in stop]
    terms = [w for w in terms if w in corpus.vocab]
    return np.asarray(retriever.get_scores(terms), dtype=np.float64)


def _documents() -> list[str]:
    docs = [_doc_text(title, lead, k) for k in range(2) for title, lead in TOPICS]
    docs.insert(
        7,
        "Alexander Fleming was a Scottish physician and microbiologist. "
        "He came across the mould that makes penicillin in 1928 at St Mary's Hospital. "
        "Fleming shared the Nobel Prize in 1945 with Florey and Chain.",
    )
    return docs


@pytest.mark.parametrize(
    "question",
    [
        QUESTION,
        "chess chess board squares",  # a repeated query term counts twice
        "Where does the Amazon River flow through Brazil",
    ],
)
def test_bm25_scores_equal_bm25s(question: str) -> None:
    texts = [s for doc in _documents() for s in doc.split(". ")]
    ours = bm25_scores(texts, question)
    assert ours.shape == (len(texts),) and ours.max() > 0
    np.testing.assert_allclose(ours, _bm25s_scores(texts, question), rtol=1e-5, atol=1e-6)


def test_bm25_edge_cases_and_group_scores() -> None:
    assert bm25_scores([], QUESTION).shape == (0,)
    np.testing.assert_array_equal(bm25_scores(["the of and", "a an"], QUESTION), [0.0, 0.0])
    np.testing.assert_array_equal(bm25_scores(["penicillin"], "the of"), [0.0])
    texts = ["Penicillin was found.", "It came from mould.", "Chess has squares.", "Bishops."]
    grouped = group_bm25(texts, QUESTION, [0, 0, 1, 1])
    assert grouped[0] == grouped[1] == 1.0 and grouped[2] == grouped[3] == 0.0


def test_probes_order_documents_by_a_cheap_score_one_item_each() -> None:
    static = get_default_static_embeddings()
    assert static is not None
    docs = _documents()
    texts = [s for doc in docs for s in doc.split(". ")]
    groups = [g for g, doc in enumerate(docs) for _ in doc.split(". ")]
    counts = TokenCounter().count_batch(texts)
    config = RankingConfig()
    prior = 0.3 * bm25_scores(texts, QUESTION)
    item_cos, parent_cos = _static_cosines(texts, QUESTION, groups, counts, config, static, prior)
    prior = prior + item_cos + parent_cos
    probes = _probes(texts, QUESTION, groups, prior, item_cos, parent_cos, config)
    assert sorted(groups[i] for i in probes) == list(range(len(docs)))  # one per document
    assert groups[probes[0]] == 7  # the Fleming document ranks first
    for i in probes:  # each probe is its document's best item by the prior
        same = [j for j in range(len(texts)) if groups[j] == groups[i]]
        assert prior[i] == max(prior[j] for j in same)
    single = _probes(
        texts[:3], QUESTION, [0, 0, 0], prior[:3], item_cos[:3], parent_cos[:3], config
    )
    assert single == []


def test_probe_spreads_the_minilm_pool_over_more_documents() -> None:
    docs = _documents()
    counter = TokenCounter()
    total = counter.count("\n\n".join(docs))
    covered = {}
    for share in (0.0, 0.6):
        recorder = RecordingEncoder()
        result = QueryAwareCompressor(
            target_tokens=80, embeddings=recorder, ranking=RankingConfig(probe_share=share)
        ).invoke({"context": docs, "question": QUESTION})
        assert "1928" in result.text and result.tokens_after <= 80
        items = [t for t in recorder.seen if t != QUESTION]
        assert sum(counter.count(t) for t in items) <= 0.12 * total + max(map(counter.count, items))
        covered[share] = {k for k, doc in enumerate(docs) for t in items if t in doc}
    assert len(covered[0.6]) > len(covered[0.0])


def test_probe_settings_are_validated_and_off_in_presets() -> None:
    assert RankingConfig().probe_share == 0.6
    assert RankingConfig.thorough().probe_share == 0.0
    assert RankingConfig.lexical_pool().probe_share == 0.0
    for bad in (
        {"probe_share": 1.5},
        {"probe_share": -0.1},
        {"probe_weights": (1.0, 0.5)},
        {"probe_weights": (1.0, -0.5, 0.5)},
        {"probe_weights": [1.0, 0.5, 0.5]},
    ):
        with pytest.raises(TokenOptConfigError):
            RankingConfig(**bad)  # type: ignore[arg-type]
