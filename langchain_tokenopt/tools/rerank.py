"""Second-stage reranking of a fused tool ranking with a small learned (logistic) model.

The first stage (:meth:`~langchain_tokenopt.tools.index.ToolIndex.fuse`) ranks every tool.
The second stage takes the top :data:`CANDIDATES` tools of that ranking (plus the top
tools of the whole query and of each clause), describes each candidate by
:data:`RERANK_FEATURES` (scores, ranks and margins of the whole query and of its clauses,
name and parameter overlap with the query, namespaces shared with the other candidates) and
orders the candidates by a logistic model of *this tool is needed*. Tools named in the query
still go first (see :func:`~langchain_tokenopt.tools.index.place_forced`).

The model is plain coefficients (:class:`RerankWeights`), so scoring needs numpy only.

Example:
    .. code-block:: python

        reranker = Reranker(index)
        order = reranker.order(signals, index.fuse(signals))
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tools.catalog import name_words, tokenize
from langchain_tokenopt.tools.index import (
    FusionWeights,
    QuerySignals,
    RankResult,
    ToolIndex,
    place_forced,
    row_tops,
    text_scores,
)
from langchain_tokenopt.tools.logistic import fit_logistic

__all__ = [
    "CANDIDATES",
    "RERANK_FEATURES",
    "DEFAULT_RERANK_WEIGHTS",
    "RerankWeights",
    "Reranker",
    "fit_rerank_weights",
    "name_style",
    "text_scores",
]

#: Candidates taken from the top of the fused ranking.
CANDIDATES = 24
#: Top tools of each text (whole query and every clause) added to the candidates.
PER_TEXT = 3

RERANK_FEATURES: tuple[str, ...] = (
    "fused_gap",
    "fused_rank",
    "query_score",
    "query_gap",
    "query_rank",
    "lexical",
    "lexical_rank",
    "dense",
    "dense_gap",
    "dense_rank",
    "example_lift",
    "clause_gap",
    "clause_rank",
    "clause_top1_share",
    "multi",
    "clauses",
    "strong_name",
    "weak_name",
    "name_overlap",
    "parameter_overlap",
    "namespace_shared",
    "anchor_namespace",
    "anchor_name_similarity",
    "anchor_style",
    "top3_style",
    "anchor",
)


@dataclass(frozen=True)
class RerankWeights:
    """Logistic-regression parameters over standardized :data:`RERANK_FEATURES`.

    Example:
        .. code-block:: python

            RerankWeights(coef=(0.0,) * 21, intercept=0.0, mean=(0.0,) * 21, scale=(1.0,) * 21)
    """

    coef: tuple[float, ...]
    """One weight per feature."""
    intercept: float
    """Bias term."""
    mean: tuple[float, ...]
    """Feature means used for standardization."""
    scale: tuple[float, ...]
    """Feature standard deviations used for standardization."""

    def __post_init__(self) -> None:
        """Check the lengths, and that every value is finite and every scale positive."""
        n = len(RERANK_FEATURES)
        if not len(self.coef) == len(self.mean) == len(self.scale) == n:
            msg = f"RerankWeights need {n} coef/mean/scale values"
            raise TokenOptConfigError(msg)
        values = np.asarray([*self.coef, *self.mean, *self.scale, self.intercept], dtype=float)
        if not np.isfinite(values).all() or min(self.scale) <= 0:
            msg = "RerankWeights need finite values and a positive scale for every feature"
            raise TokenOptConfigError(msg)

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Logit of *needed* for rows of raw features."""
        # standardize-then-dot folded into one weight vector and bias
        w = np.asarray(self.coef) / np.asarray(self.scale)
        b = self.intercept - float(np.asarray(self.mean) @ w)
        return np.asarray(features @ w + b, dtype=np.float64)


_NUMBERED = re.compile(r"_\d+_")
_CAMEL_INNER = re.compile(r"[a-z][A-Z]")


def name_style(name: str) -> tuple[bool, bool, bool, bool]:
    """How a tool name is written: dotted, ``_<n>_`` numbered, camelCase, capitalized.

    Tools of one toolkit tend to share a style (``museum.get_hours``, ``museum.get_waiting_time``).
    """
    return (
        "." in name,
        bool(_NUMBERED.search(name)),
        bool(_CAMEL_INNER.search(name)),
        name[:1].isupper(),
    )


class Reranker:
    """Candidate features and the learned order for one :class:`ToolIndex`.

    Args:
        index: The tool index whose rankings are reranked.
        weights: Model parameters (default: :data:`DEFAULT_RERANK_WEIGHTS`).
        candidates: Candidates taken from the top of the fused ranking (a positive int).

    Raises:
        TokenOptConfigError: ``candidates`` is not a positive int.

    Example:
        .. code-block:: python

            reranker = Reranker(index)
            cands, feats = reranker.features(signals, index.fuse(signals))
    """

    def __init__(
        self,
        index: ToolIndex,
        *,
        weights: RerankWeights | None = None,
        candidates: int = CANDIDATES,
    ) -> None:
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
            msg = f"candidates must be a positive int, got {candidates!r}"
            raise TokenOptConfigError(msg)
        self.index = index
        self.weights = weights or DEFAULT_RERANK_WEIGHTS
        self.candidates = candidates
        self._name_words = [frozenset(name_words(s.name)) for s in index.specs]
        self._param_words = [
            frozenset(w for p, _ in s.parameters for w in name_words(p)) for s in index.specs
        ]
        spaces: dict[str, int] = {}
        self._ns_ids = np.asarray(
            [
                -1 if s.namespace is None else spaces.setdefault(s.namespace, len(spaces))
                for s in index.specs
            ],
            dtype=np.int64,
        )
        styles: dict[tuple[bool, bool, bool, bool], int] = {}
        self._style_ids = np.asarray(
            [styles.setdefault(name_style(s.name), len(styles)) for s in index.specs],
            dtype=np.int64,
        )

    def candidate_set(self, rows: np.ndarray, result: RankResult) -> np.ndarray:
        """The fused top :attr:`candidates`, then the top tools of each text not yet in it."""
        head = result.order[: self.candidates].tolist()
        seen = set(head)
        for t in row_tops(rows, PER_TEXT).ravel().tolist():
            if t not in seen:
                seen.add(t)
                head.append(t)
        return np.asarray(head, dtype=np.int64)

    def _shared(self, ids: np.ndarray, cands: np.ndarray, others: np.ndarray) -> np.ndarray:
        """Per candidate: ``(others sharing its id, others)``, never counting itself."""
        same = ids[others][None, :] == ids[cands][:, None]
        other = others[None, :] != cands[:, None]
        return np.stack([(same & other).sum(axis=1), other.sum(axis=1)]).astype(np.float64)

    def features(
        self, signals: QuerySignals, result: RankResult, weights: FusionWeights | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(candidates, features)``: tool indices and one row of raw features per tool."""
        wts = weights or self.index.weights
        rows = np.asarray(text_scores(signals, wts), dtype=np.float32)
        cands = self.candidate_set(rows, result)
        n_c = len(cands)
        n_texts = rows.shape[0]
        raw = signals.bm25[0]
        peak = float(raw.max())
        lexical = raw / peak if peak > 0 else np.zeros_like(raw)
        dense = signals.dense[0]
        # one comparison pass: ranks in the fused order, lexical, dense, then every text
        scored = np.vstack([result.fused, lexical, dense, rows])
        vals = scored[:, cands]
        ascending = np.sort(scored, axis=1)
        n_tools = scored.shape[1]
        ranks = np.stack(
            [
                n_tools - np.searchsorted(row, v, side="right")
                for row, v in zip(ascending, vals, strict=True)
            ]
        )
        gaps = rows.max(axis=1)[:, None] - vals[3:]
        if n_texts > 1:
            clause_gap = gaps[1:].min(axis=0)
            clause_rank = ranks[4:].min(axis=0)
            clause_top1 = (ranks[4:] == 0).mean(axis=0)
        else:
            clause_gap, clause_rank, clause_top1 = gaps[0], ranks[3], (ranks[3] == 0) * 1.0
        out = np.empty((n_c, len(RERANK_FEATURES)), dtype=np.float64)
        out[:, 0] = float(result.fused.max()) - vals[0]
        out[:, 1] = np.log1p(ranks[0])
        out[:, 2] = vals[3]
        out[:, 3] = gaps[0]
        out[:, 4] = np.log1p(ranks[3])
        out[:, 5] = vals[1]
        out[:, 6] = np.log1p(ranks[1])
        out[:, 7] = vals[2]
        out[:, 8] = float(dense.max()) - vals[2]
        out[:, 9] = np.log1p(ranks[2])
        out[:, 10] = signals.example[0, cands] - vals[2] if signals.example is not None else 0.0
        out[:, 11] = clause_gap
        out[:, 12] = np.log1p(clause_rank)
        out[:, 13] = clause_top1
        out[:, 14] = float(n_texts > 1)
        out[:, 15] = np.log1p(n_texts - 1)
        strong = {i for i, s in signals.mentions if s}
        weak = {i for i, s in signals.mentions if not s}
        cand_list = cands.tolist()
        out[:, 16] = [c in strong for c in cand_list]
        out[:, 17] = [c in weak for c in cand_list]
        qwords = set(tokenize(signals.texts[0]))
        anchor_list = list(dict.fromkeys(rows.argmax(axis=1).tolist()))
        anchors = np.asarray(anchor_list, dtype=np.int64)
        anchor_words = [(a, self._name_words[a]) for a in anchor_list]
        for r, c in enumerate(cand_list):
            nw = self._name_words[c]
            pw = self._param_words[c]
            out[r, 18] = len(nw & qwords) / len(nw) if nw else 0.0
            out[r, 19] = len(pw & qwords) / len(pw) if pw else 0.0
            out[r, 22] = max(
                (len(nw & aw) / max(len(nw | aw), 1) for a, aw in anchor_words if a != c),
                default=0.0,
            )
        has_space = self._ns_ids[cands] >= 0
        top5 = result.order[:5]
        out[:, 20] = self._shared(self._ns_ids, cands, top5)[0] * has_space
        out[:, 21] = self._shared(self._ns_ids, cands, anchors)[0] * has_space
        same, count = self._shared(self._style_ids, cands, anchors)
        out[:, 23] = np.divide(same, count, out=np.zeros(n_c), where=count > 0)
        same, count = self._shared(self._style_ids, cands, top5[:3])
        out[:, 24] = np.divide(same, count, out=np.zeros(n_c), where=count > 0)
        anchor_set = set(anchor_list)
        out[:, 25] = [c in anchor_set for c in cand_list]
        return cands, out

    def scores(
        self, signals: QuerySignals, result: RankResult, weights: FusionWeights | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(candidates, logits)``: the candidates and the model's logit that each is needed."""
        cands, feats = self.features(signals, result, weights)
        return cands, self.weights.logits(feats)

    def apply(
        self, signals: QuerySignals, result: RankResult, weights: FusionWeights | None = None
    ) -> RankResult:
        """``result`` with the reranked order and the probability of each candidate."""
        cands, logits = self.scores(signals, result, weights)
        prob = np.zeros(len(result.fused), dtype=np.float32)
        prob[cands] = 1.0 / (1.0 + np.exp(-logits))
        return replace(result, order=self._order(signals, result, cands, logits), probability=prob)

    def order(
        self,
        signals: QuerySignals,
        result: RankResult,
        weights: FusionWeights | None = None,
    ) -> np.ndarray:
        """The reranked order of every tool (named tools first, the rest after the candidates)."""
        cands, logits = self.scores(signals, result, weights)
        return self._order(signals, result, cands, logits)

    @staticmethod
    def _order(
        signals: QuerySignals, result: RankResult, cands: np.ndarray, logits: np.ndarray
    ) -> np.ndarray:
        head = cands[np.argsort(-logits, kind="stable")]
        keep = np.ones(len(result.order), dtype=bool)
        keep[head] = False
        rest = result.order[keep[result.order]]
        order = np.concatenate([head, rest])
        return place_forced(
            order,
            strong=[i for i, s in signals.mentions if s],
            weak=[i for i, s in signals.mentions if not s],
        )


def fit_rerank_weights(
    features: Sequence[np.ndarray], labels: Sequence[np.ndarray], *, l2: float = 1e-3
) -> RerankWeights:
    """Fit the logistic model on candidate features of labelled queries.

    Args:
        features: One ``(candidates, len(RERANK_FEATURES))`` array per query
            (:meth:`Reranker.features`).
        labels: One array per query: 1 for a candidate the query needs, else 0.
        l2: L2 penalty on the standardized coefficients.

    Returns:
        The fitted :class:`RerankWeights`.

    Example:
        .. code-block:: python

            weights = fit_rerank_weights([feats], [np.array([1.0, 0.0, 0.0])])
    """
    if not features or len(features) != len(labels):
        msg = "fit_rerank_weights needs one label array per feature array (and at least one)"
        raise TokenOptConfigError(msg)
    x = np.vstack(features)
    y = np.concatenate([np.asarray(v, dtype=np.float64) for v in labels])
    if x.shape != (len(y), len(RERANK_FEATURES)):
        msg = f"expected {len(RERANK_FEATURES)} features per candidate and one label each"
        raise TokenOptConfigError(msg)
    if y.min() == y.max():
        msg = "fit_rerank_weights needs both needed and not-needed candidates"
        raise TokenOptConfigError(msg)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    coef, intercept = fit_logistic((x - mean) / scale, y, l2=l2)
    return RerankWeights(
        coef=tuple(round(float(v), 6) for v in coef),
        intercept=round(float(intercept), 6),
        mean=tuple(round(float(v), 6) for v in mean),
        scale=tuple(round(float(v), 6) for v in scale),
    )


# Fitted on the BFCL and MetaTool dev splits (1,880 BFCL questions, 3,000 sampled MetaTool
# single-tool and 402 two-tool queries; each query ranked by an index holding only the *other*
# dev fold's example queries), the default int8 ONNX MiniLM and the default fusion weights:
# ``python -m bench tools reranker`` prints these numbers (``weights_fitted_on_all_dev``
# in ``bench/results/tools_reranker_dev.json``; first in ``tools_bench_dev_ablations.json``).
DEFAULT_RERANK_WEIGHTS = RerankWeights(
    coef=(
        -0.636205,
        -0.322798,
        0.255347,
        -0.298124,
        0.060067,
        0.397078,
        -0.322141,
        -0.00544,
        0.111449,
        -0.259067,
        0.400325,
        -0.125011,
        -0.092129,
        0.182304,
        -0.088375,
        0.209941,
        0.05678,
        0.002163,
        0.167378,
        0.025207,
        -0.053658,
        0.096726,
        0.005017,
        0.102322,
        -0.005125,
        0.122371,
    ),
    intercept=-6.052765,
    mean=(
        0.279696,
        2.296826,
        0.29046,
        0.326049,
        2.535973,
        0.319533,
        2.945568,
        0.244407,
        0.23991,
        2.84908,
        0.129285,
        0.22968,
        2.010883,
        0.041284,
        0.565369,
        0.718493,
        0.00061,
        0.002446,
        0.083203,
        0.038573,
        0.028505,
        0.007855,
        0.076321,
        0.365409,
        0.378192,
        0.069226,
    ),
    scale=(
        0.136103,
        0.824132,
        0.128515,
        0.157408,
        1.127998,
        0.255775,
        1.364441,
        0.131247,
        0.148709,
        1.339625,
        0.136082,
        0.149978,
        0.883728,
        0.173208,
        0.495708,
        0.667577,
        0.024683,
        0.049401,
        0.185038,
        0.131445,
        0.218657,
        0.100222,
        0.145184,
        0.4302,
        0.320681,
        0.253838,
    ),
)
