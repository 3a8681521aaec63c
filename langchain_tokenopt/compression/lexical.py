r"""Lexical relevance: Lucene BM25 computed directly on a handful of items.

The scores equal those of ``bm25s`` (k1 1.5, b 0.75, its English stopword list, lowercased
``\w\w+`` tokens) without building an index, which costs several milliseconds per call on
the few dozen sentences a compressor ranks.

Example:
    .. code-block:: python

        from langchain_tokenopt.compression.lexical import bm25_scores

        bm25_scores(["Paris is in France.", "Bananas are yellow."], "capital of France")
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

__all__ = ["bm25_scores", "group_bm25"]

_WORD = re.compile(r"(?u)\b\w\w+\b")
_BM25_K1 = 1.5
_BM25_B = 0.75
_STOPWORDS: list[frozenset[str]] = []


def bm25_scores(texts: Sequence[str], question: str) -> np.ndarray:
    r"""Lucene BM25 (k1 1.5, b 0.75) of every text for the question's non-stopword terms.

    The same scores as ``bm25s`` (its English stopwords and ``\w\w+`` tokens, lowercased),
    computed directly: building a ``bm25s`` index costs several milliseconds per call on a
    few dozen sentences, this costs about one.
    """
    stop = _stopwords()
    docs = [[w for w in _WORD.findall(t.lower()) if w not in stop] for t in texts]
    n = len(docs)
    lengths = np.fromiter((len(d) for d in docs), dtype=np.float64, count=n)
    terms = [w for w in _WORD.findall(question.lower()) if w not in stop]
    if n == 0 or not terms or lengths.sum() == 0:
        return np.zeros(n)
    wanted = set(terms)
    tf = {w: np.zeros(n) for w in wanted}
    for i, words in enumerate(docs):
        for w in words:
            if w in wanted:
                tf[w][i] += 1
    norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * lengths / lengths.mean())
    scores = np.zeros(n)
    for w in terms:  # a repeated query term counts again, as in bm25s
        freq = tf[w]
        df = int(np.count_nonzero(freq))
        if df:
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            scores += idf * freq / (norm + freq)
    return scores


def _stopwords() -> frozenset[str]:
    if not _STOPWORDS:
        import bm25s

        _STOPWORDS.append(frozenset(bm25s.stopwords.STOPWORDS_EN))
    return _STOPWORDS[0]


def group_bm25(texts: Sequence[str], question: str, groups: Sequence[int]) -> np.ndarray:
    """BM25 of each item's whole group (document), scaled to [0, 1], spread over its items."""
    order = list(dict.fromkeys(groups))
    if len(order) < 2:
        return np.zeros(len(texts))
    joined: dict[int, list[str]] = {g: [] for g in order}
    for g, t in zip(groups, texts, strict=True):
        joined[g].append(t)
    scores = bm25_scores([" ".join(joined[g]) for g in order], question)
    if scores.max() > 0:
        scores = scores / scores.max()
    by_group = dict(zip(order, scores.tolist(), strict=True))
    return np.fromiter((by_group[g] for g in groups), dtype=np.float64, count=len(texts))
