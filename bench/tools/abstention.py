"""Abstention helpers of the headline run: the fitted-feature set, dev two-fold, label overlap.

Example::

    print(two_fold_abstention(retriever, pos_dev, neg_dev_a, neg_dev_b))
"""

from __future__ import annotations

import hashlib

import numpy as np

from bench.tools.data import Query
from langchain_tokenopt.embeddings import OnnxEmbeddings
from langchain_tokenopt.tools import QueryClassifier, ToolRetriever
from langchain_tokenopt.tools.classifier import FEATURES, FIT_FEATURES
from langchain_tokenopt.tools.logistic import balanced_accuracy

FITTED_FEATURES = FIT_FEATURES


def two_fold_abstention(
    retriever: ToolRetriever, pos: list[Query], neg_feature: list[Query], neg: list[Query]
) -> dict:
    """Held-out balanced accuracy on dev: fit on one half of ``pos + neg``, score the other.

    ``neg_feature`` are the *no-tool* examples the classifier reads (another dev fold).
    Reported for the first seven features, for :data:`FITTED_FEATURES` (the fitted rows) and
    for all of :data:`FEATURES`.
    """
    half = lambda q: (int(hashlib.sha1(q.key.encode()).hexdigest(), 16) // 10) % 2  # noqa: E731
    out: dict = {}
    variants = (
        ("first7_features", FEATURES[:7]),
        ("first11_features", FITTED_FEATURES),
        ("all_features", FEATURES),
    )
    for label, feats in variants:
        accs = []
        for h in (0, 1):
            train = [q for q in pos + neg if half(q) != h]
            held = [q for q in pos + neg if half(q) == h]
            clf = QueryClassifier(
                retriever=retriever, negative_examples=[q.text for q in neg_feature]
            )
            clf.fit([q.text for q in train], [bool(q.gold) for q in train], features=feats)
            pred = clf.probabilities([q.text for q in held]) >= clf.threshold
            accs.append(balanced_accuracy(pred, np.asarray([bool(q.gold) for q in held])))
        out[label] = round(float(np.mean(accs)), 4)
    return out


def label_overlap(embedder: OnnxEmbeddings, pos: list[Query], neg: list[Query]) -> dict:
    """Dev "no tool fits" questions that repeat or paraphrase an answerable dev question."""
    sims = embedder.encode([q.text for q in neg]) @ embedder.encode([q.text for q in pos]).T
    best = sims.max(axis=1)
    texts = {q.text for q in pos}
    return {
        "negatives": len(neg),
        "same_text_as_an_answerable_question": sum(q.text in texts for q in neg),
        **{f"cosine_ge_{t}": int((best >= t).sum()) for t in (0.95, 0.9, 0.85)},
    }
