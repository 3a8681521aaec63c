"""``QueryClassifier``: does this turn need a tool at all, and which namespaces apply?

The decision is a logistic model over features of the retrieval itself, so it needs no
extra LLM call:

* ``dense``: best dense cosine between the query and a tool (or one of its examples);
* ``bm25``: ``log1p`` of the best raw BM25 score;
* ``fused``: best fused score;
* ``gap``: dense margin between the first and second tool;
* ``example``: best cosine to any tool's example query (0 without examples);
* ``negative``: best cosine to the *no-tool* example queries given (0 without any);
* ``words``: ``log1p`` of the query's word count;
* ``knn``: share of tool-needing queries among the :data:`KNN` labelled queries nearest to
  this one (the tools' example queries count as tool-needing, the *no-tool* examples as
  not; 0.5 without any);
* ``digits``: 1 when the query holds a digit (a value some parameter could take);
* ``unknown``: share of the query's terms that no tool's indexed text holds;
* ``coverage``: share of the query's terms that the top-ranked tool's indexed text holds;
* ``margin10``: best dense cosine minus the mean of the next nine;
* ``bm25_z``: z-score of the best BM25 score among all the tools' BM25 scores for the query.

``margin10`` and ``bm25_z`` are relative to the query's own scores over the catalog, so they
move less than the raw cosine ``dense`` when the catalog's texts are longer or shorter.

A query that names a tool always needs a tool. :meth:`QueryClassifier.fit` calibrates the
weights and the threshold on labelled queries (the bench does it on the dev split); the
defaults below came from a BFCL dev fit over catalog-relative features (see DEFAULT_WEIGHTS).

Example:
    .. code-block:: python

        from langchain_tokenopt import QueryClassifier, ToolRetriever

        clf = QueryClassifier(retriever=ToolRetriever(tools=tools))
        decision = clf.classify("thanks, that's all!")
        decision.needs_tool, decision.confidence
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from langchain_tokenopt.errors import TokenOptConfigError, ToolSelectionError
from langchain_tokenopt.tools.index import RankResult
from langchain_tokenopt.tools.logistic import balanced_accuracy, fit_logistic
from langchain_tokenopt.tools.records import QueryDecision
from langchain_tokenopt.tools.retriever import ToolRetriever

__all__ = ["FEATURES", "FIT_FEATURES", "KNN", "ClassifierWeights", "QueryClassifier"]

#: Feature names, in the order of :attr:`ClassifierWeights.coef`.
FEATURES: tuple[str, ...] = (
    "dense",
    "bm25",
    "fused",
    "gap",
    "example",
    "negative",
    "words",
    "knn",
    "digits",
    "unknown",
    "coverage",
    "margin10",
    "bm25_z",
)
#: What :meth:`QueryClassifier.fit` uses unless told otherwise: every feature but the
#: catalog-relative ``margin10`` and ``bm25_z``. Those two make the *shipped* default portable
#: across catalogs, but a model fitted on a catalog's own labelled queries did worse with them
#: (BFCL dev two-fold balanced accuracy 0.8039 with these 11, 0.7970 with all 13:
#: ``python -m bench tools run``, ``abstention.dev_two_fold`` in its JSON).
FIT_FEATURES: tuple[str, ...] = FEATURES[:11]
#: Labelled neighbours read by the ``knn`` feature.
KNN = 5


@dataclass(frozen=True)
class ClassifierWeights:
    """Logistic-regression parameters over standardized :data:`FEATURES`.

    Example:
        .. code-block:: python

            n = len(FEATURES)  # one coefficient per feature (plus 384 with the embedding)
            ClassifierWeights(coef=(0.5,) * n, intercept=0.3, mean=(0.0,) * n, scale=(1.0,) * n)
    """

    coef: tuple[float, ...]
    """One weight per feature, then (optionally) one per query-embedding dimension."""
    intercept: float
    """Bias term."""
    mean: tuple[float, ...]
    """Feature means used for standardization."""
    scale: tuple[float, ...]
    """Feature standard deviations used for standardization."""

    @property
    def uses_embedding(self) -> bool:
        """True when the model also reads the query embedding (fitted with ``use_embedding``)."""
        return len(self.coef) > len(FEATURES)

    def probability(self, features: np.ndarray) -> np.ndarray:
        """P(tool needed) for rows of raw features (plus the query vector if used)."""
        z = (features - np.asarray(self.mean)) / np.asarray(self.scale)
        logits = z @ np.asarray(self.coef) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float64)


# Fitted on dev data only, by ``python -m bench tools default-classifier`` (it prints
# these numbers and writes bench/results/tools_bench_default_classifier.json):
# * weights: ``fit(features=("words", "margin10", "coverage", "bm25_z"))`` on the BFCL dev
#   split (all answerable vs all irrelevance questions, pooled 1,287-tool catalog, default int8
#   ONNX MiniLM, no example queries);
# * threshold: the highest one that keeps >= 95 % of the tool-needing queries of BFCL dev AND
#   of MetaTool dev single-tool (3,000 sampled) AND MetaTool dev two-tool queries (the MetaTool
#   catalog, no examples);
# * features: the subset (of 17 candidates, up to 4) with the best BFCL dev balanced accuracy
#   held out over 5 repeated two-fold splits, among those that keep every clear tool question and
#   abstain on every chit-chat line of a made-up long-schema catalog
#   (tests/unit_tests/tools/long_catalog.py).
# No raw cosine enters: the margin of the best tool over the next nine, the query's term coverage
# by the top tool and the BM25 z-score are relative to the catalog, so a catalog with longer
# schema texts (lower cosines) does not silence the default; the word count makes a short line
# need a clearer match. It abstains on chit-chat and short off-topic lines; on dev it keeps 95 %
# of BFCL and 97 % / 99.5 % of MetaTool single / two-tool queries (the previous default, dense +
# gap: 84 % / 87 %). Fit on your own queries for sharper abstention.
DEFAULT_WEIGHTS = ClassifierWeights(
    coef=(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.00881, 0.0, 0.0, 0.0, 0.295869, 0.591849, -0.0341269),
    intercept=0.977627,
    mean=(
        0.496138,
        2.31566,
        0.564203,
        0.0582653,
        0.0,
        0.0,
        2.76622,
        0.5,
        0.487717,
        0.221043,
        0.389939,
        0.126959,
        12.2653,
    ),
    scale=(
        0.142791,
        0.781498,
        0.146813,
        0.0727088,
        1.0,
        1.0,
        0.810469,
        1.0,
        0.499849,
        0.223421,
        0.224217,
        0.0921491,
        5.69191,
    ),
)


DEFAULT_THRESHOLD = 0.474781


class QueryClassifier:
    """Decide *no tool needed* (abstain) vs *tool needed*, with a confidence and namespaces.

    Args:
        retriever: The catalog's :class:`~langchain_tokenopt.tools.ToolRetriever`.
        weights: Logistic parameters (default: calibrated on the BFCL dev split).
        threshold: Probability at or above which a tool is needed, in (0, 1).
        always_include: Tool names bound on every turn (must exist in the catalog).
        negative_examples: Queries that need no tool (chit-chat, thanks...), used as a feature.
        category_ratio: Namespaces of tools scoring at least this share of the best score.
        max_categories: At most this many namespaces are returned.

    Example:
        .. code-block:: python

            clf = QueryClassifier(retriever=retriever, always_include=["get_time"])
            clf.fit(dev_queries, dev_labels)  # calibrate on your own dev split
            clf.classify("what's 2 + 2 in words?")
    """

    def __init__(
        self,
        *,
        retriever: ToolRetriever,
        weights: ClassifierWeights | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        always_include: Sequence[str] = (),
        negative_examples: Sequence[str] = (),
        category_ratio: float = 0.8,
        max_categories: int = 3,
    ) -> None:
        if not isinstance(retriever, ToolRetriever):
            msg = f"retriever must be a ToolRetriever, got {type(retriever).__name__}"
            raise TokenOptConfigError(msg)
        if not 0.0 < float(threshold) < 1.0:
            msg = f"threshold must be in (0, 1), got {threshold!r}"
            raise TokenOptConfigError(msg)
        if not 0.0 < float(category_ratio) <= 1.0:
            msg = f"category_ratio must be in (0, 1], got {category_ratio!r}"
            raise TokenOptConfigError(msg)
        if not isinstance(max_categories, int) or max_categories < 0:
            msg = f"max_categories must be a non-negative int, got {max_categories!r}"
            raise TokenOptConfigError(msg)
        if isinstance(always_include, str):
            msg = "always_include must be a list of tool names, not a string"
            raise TokenOptConfigError(msg)
        unknown = [n for n in always_include if n not in retriever.index.position]
        if unknown:
            msg = f"always_include names tools not in the catalog: {unknown}"
            raise TokenOptConfigError(msg)
        weights = weights or DEFAULT_WEIGHTS
        sizes = {len(FEATURES), len(FEATURES) + retriever.index.dimension}
        if len(weights.coef) not in sizes or not (
            len(weights.coef) == len(weights.mean) == len(weights.scale)
        ):
            msg = (
                f"weights need {len(FEATURES)} coefficients ({FEATURES}), or that many plus one "
                f"per embedding dimension, got {len(weights.coef)}"
            )
            raise TokenOptConfigError(msg)
        self.retriever = retriever
        self.weights = weights
        self.threshold = float(threshold)
        self.always_include = tuple(dict.fromkeys(always_include))
        self.category_ratio = float(category_ratio)
        self.max_categories = max_categories
        self._negatives: np.ndarray | None = None
        self._labelled: np.ndarray | None = None
        self._labels = np.zeros(0)
        self.set_negative_examples(negative_examples)

    def set_negative_examples(self, queries: Sequence[str]) -> None:
        """Replace the *no-tool* example queries (embedded once; features ``negative``, ``knn``)."""
        texts = [q.strip() for q in queries if isinstance(q, str) and q.strip()]
        index = self.retriever.index
        self._negatives = None
        if texts and index.doc_vectors is not None:
            self._negatives = self.retriever.embed_queries(texts)
        parts = ((index.example_vectors, 1.0), (self._negatives, 0.0))
        present = [(v, label) for v, label in parts if v is not None and len(v)]
        if present:
            self._labelled = np.vstack([v for v, _ in present])
            self._labels = np.concatenate([np.full(len(v), label) for v, label in present])
        else:
            self._labelled = None
            self._labels = np.zeros(0)

    # ------------------------------------------------------------------ features
    def features(self, query: str, result: RankResult | None) -> np.ndarray:
        """The raw feature vector (:data:`FEATURES` order) of one ranked query."""
        words = math.log1p(len(query.split()))
        digits = float(any(c.isdigit() for c in query))
        if result is None:
            none = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, words, 0.5, digits, 1.0, 0.0, 0.0, 0.0]
            return np.asarray(none)
        dense = np.sort(result.dense)[::-1]
        top_dense = float(dense[0]) if dense.size else 0.0
        gap = float(dense[0] - dense[1]) if dense.size > 1 else top_dense
        margin10 = float(dense[0] - dense[1:10].mean()) if dense.size > 1 else top_dense
        bm25 = result.bm25.astype(np.float64)
        bm25_z = 0.0
        if bm25.size and bm25.std() > 0:
            bm25_z = float((bm25.max() - bm25.mean()) / bm25.std())
        qv = result.query_vector
        negative = 0.0
        if self._negatives is not None and qv is not None:
            negative = float((self._negatives @ qv).max())
        example = 0.0
        index = self.retriever.index
        if index.example_vectors is not None and qv is not None:
            example = float((index.example_vectors @ qv).max())
        knn = 0.5
        if self._labelled is not None and qv is not None:
            sims = self._labelled @ qv
            near = np.argpartition(-sims, min(KNN, len(sims)) - 1)[:KNN]
            knn = float(self._labels[near].mean())
        unknown, coverage = index.term_shares(query, int(result.order[0]))
        return np.asarray(
            [
                top_dense,
                math.log1p(float(result.bm25.max()) if result.bm25.size else 0.0),
                float(result.fused.max()) if result.fused.size else 0.0,
                gap,
                example,
                negative,
                words,
                knn,
                digits,
                unknown,
                coverage,
                margin10,
                bm25_z,
            ]
        )

    def decide(self, query: str, result: RankResult | None) -> QueryDecision:
        """Pure decision for a query already ranked by the retriever."""
        feats = self.features(query, result)
        row = self._with_embedding(feats[None, :], [result])
        prob = float(self.weights.probability(row)[0])
        forced: tuple[str, ...] = ()
        if result is not None and result.forced:
            forced = tuple(self.retriever.index.names[i] for i in result.forced)
            prob = max(prob, 0.99)
        if result is None:
            prob = 0.0
        needs = prob >= self.threshold
        return QueryDecision(
            needs_tool=needs,
            confidence=prob if needs else 1.0 - prob,
            probability=prob,
            categories=self._categories(result),
            forced=forced,
            always_include=self.always_include,
            features=dict(zip(FEATURES, (float(f) for f in feats), strict=True)),
        )

    def _with_embedding(
        self, x: np.ndarray, results: Sequence[RankResult | None], force: bool = False
    ) -> np.ndarray:
        if not (force or self.weights.uses_embedding):
            return x
        dim = self.retriever.index.dimension
        vecs = np.zeros((len(results), dim))
        for i, r in enumerate(results):
            if r is not None and r.query_vector is not None:
                vecs[i] = r.query_vector
        return np.hstack([x, vecs])

    def _categories(self, result: RankResult | None) -> tuple[str, ...]:
        if result is None or self.max_categories == 0:
            return ()
        specs = self.retriever.index.specs
        best = float(result.fused.max()) if result.fused.size else 0.0
        cats: dict[str, None] = {}
        for i in result.order[:20]:
            spec = specs[int(i)]
            if best > 0 and float(result.fused[int(i)]) < self.category_ratio * best:
                break
            if spec.namespace:
                cats.setdefault(spec.namespace, None)
            if len(cats) >= self.max_categories:
                break
        return tuple(cats)

    # ------------------------------------------------------------------ api
    def classify_batch(self, queries: Sequence[str]) -> list[QueryDecision]:
        """Classify many queries, embedding them in one batch."""
        results = self.retriever.rank_batch(list(queries))
        return [self.decide(q, r) for q, r in zip(queries, results, strict=True)]

    def probabilities(self, queries: Sequence[str]) -> np.ndarray:
        """P(tool needed) for many queries (forced names and empty queries included)."""
        return np.asarray([d.probability for d in self.classify_batch(queries)])

    def classify(self, query: str) -> QueryDecision:
        """Classify one query (an empty query needs no tool)."""
        return self.decide(query, self.retriever.rank(query))

    async def aclassify(self, query: str) -> QueryDecision:
        """Async :meth:`classify` (embedding off the event loop)."""
        return self.decide(query, await self.retriever.arank(query))

    def fit(
        self,
        queries: Sequence[str],
        needs_tool: Sequence[bool],
        *,
        features: Sequence[str] = FIT_FEATURES,
        min_recall: float | None = None,
        use_embedding: bool = False,
        l2: float = 1e-2,
    ) -> float:
        """Fit the weights and threshold on labelled queries; returns the balanced accuracy.

        Args:
            queries: User queries (a dev split; measure on a separate test split).
            needs_tool: ``True`` where a tool is needed.
            features: Subset of :data:`FEATURES` to use (the others get weight 0); by
                default :data:`FIT_FEATURES`.
            min_recall: If set, the threshold is the highest one that still keeps this share
                of tool-needing queries (missing a tool costs more than binding a few);
                otherwise it maximizes balanced accuracy.
            use_embedding: Also learn a linear head on the query embedding (needs a few
                hundred labelled queries; it learns what *this* catalog's users ask).
            l2: L2 regularization strength.

        Raises:
            ToolSelectionError: lengths differ, one class is missing, or unknown features.
        """
        if len(queries) != len(needs_tool):
            msg = f"{len(queries)} queries but {len(needs_tool)} labels"
            raise ToolSelectionError(msg)
        unknown = [f for f in features if f not in FEATURES]
        if unknown or not features:
            msg = f"features must be a non-empty subset of {FEATURES}, got {list(features)}"
            raise ToolSelectionError(msg)
        y = np.asarray([bool(v) for v in needs_tool], dtype=np.float64)
        if y.min() == y.max():
            msg = "fit() needs queries of both classes (tool needed and not needed)"
            raise ToolSelectionError(msg)
        results = self.retriever.rank_batch(list(queries))
        x = np.vstack([self.features(q, r) for q, r in zip(queries, results, strict=True)])
        if use_embedding and self.retriever.index.doc_vectors is None:
            msg = "use_embedding=True needs a retriever with dense=True"
            raise ToolSelectionError(msg)
        x = self._with_embedding(x, results, force=use_embedding)
        cols = [FEATURES.index(f) for f in features]
        if use_embedding:
            cols += list(range(len(FEATURES), x.shape[1]))
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale < 1e-6] = 1.0
        sub, intercept = fit_logistic(((x - mean) / scale)[:, cols], y, l2=l2)
        coef = np.zeros(x.shape[1])
        coef[cols] = sub
        self.weights = ClassifierWeights(
            coef=tuple(float(c) for c in coef),
            intercept=intercept,
            mean=tuple(float(m) for m in mean),
            scale=tuple(float(s) for s in scale),
        )
        probs = self.weights.probability(x)
        labels = y.astype(bool)
        levels = np.unique(probs)
        candidates = [float(t) for t in (levels[:-1] + levels[1:]) / 2] or [0.5]
        if min_recall is not None:
            best_t = candidates[0]
            for t in candidates:
                if float((probs >= t)[labels].mean()) >= min_recall:
                    best_t = t
        else:
            accs = [balanced_accuracy(probs >= t, labels) for t in candidates]
            top = max(accs)
            tied = [t for t, a in zip(candidates, accs, strict=True) if a >= top - 1e-12]
            best_t = tied[len(tied) // 2]
        best_t = min(max(best_t, 1e-6), 1 - 1e-6)
        self.threshold = best_t
        return balanced_accuracy(probs >= best_t, labels)
