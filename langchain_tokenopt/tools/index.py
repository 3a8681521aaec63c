"""The hybrid tool index: BM25 (bm25s) fused with dense MiniLM similarity, pure scoring.

Scoring one query (all steps are pure functions of the index and the query vectors):

1. **lexical**: BM25 over name, description, parameters and example queries, divided by the
   best score of the query (so it lies in [0, 1]);
2. **dense**: cosine with the tool's own vector, blended with the cosine of its closest
   example query when that is higher (examples act as extra tool vectors, as in Tool2Vec);
3. **fusion**: ``dense_weight * dense + (1 - dense_weight) * lexical``;
4. **multi-intent** (optional): the query is split into clauses (sentences, lines, "and
   then", "also", ", after that", ", finally", a comma before "what / how / can you"...; the
   first :data:`MAX_CLAUSES`) and each clause is scored like the whole query. Each text's
   scores are taken *relative to its own best tool* (``score - clause_relative * best``), so
   every intent's top tool competes on an equal footing, and a tool's rank score is the max of its
   whole-query score and its best clause score minus ``clause_margin`` (clauses are a bit less
   trusted than the whole query). A clause that matches nothing well (a preamble such as
   "can you help me with a few things?") gives no tool a lift above the whole query's best;
5. **names**: tools the query names as identifiers go first; tools named in plain words are
   moved into the top three (see :mod:`~langchain_tokenopt.tools.names`).

All of it is numpy over the whole catalog (no Python loop over tools).

Example:
    .. code-block:: python

        index = ToolIndex(build_catalog(tools), embed=LocalEmbeddings().encode)
        result = index.rank("weather in Paris and email it to Bob", index.embed_queries([...]))
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from langchain_tokenopt._quiet import quiet_third_party_logs
from langchain_tokenopt.errors import MissingDependencyError, TokenOptConfigError
from langchain_tokenopt.tools.catalog import dense_text, lexical_text, tokenize
from langchain_tokenopt.tools.names import NameMatcher
from langchain_tokenopt.tools.records import ToolSpec
from langchain_tokenopt.tools.store import EmbeddingStore

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_CLAUSES",
    "FusionWeights",
    "QuerySignals",
    "blend_examples",
    "RankResult",
    "ToolIndex",
    "interleave_orders",
    "place_forced",
    "row_tops",
    "split_intents",
    "text_scores",
]

EmbedFn = Callable[[list[str]], np.ndarray]

#: Words that open a new request after a comma ("..., after that, ...", "..., finally ...").
_SEQUENCE_MARKS = (
    r"after that|afterwards|finally|lastly|next|additionally|furthermore|moreover|secondly|"
    r"thirdly|plus|in addition|besides|subsequently"
)
_SPLIT = re.compile(
    r"(?:[;?!]|\.(?=\s)|\n+|,?\s+and then\s+|,?\s+and also\s+|,?\s+then\s+|,?\s+also\s+|"
    r",?\s+as well as\s+|,\s*(?:and\s+)?(?:" + _SEQUENCE_MARKS + r")\b,?\s*|"
    r",?\s+and\s+(?=(?:please\s+)?[a-z]+\s)|"
    # a comma before a new question or request: "what is X, what is Y", "..., can you ..."
    r",\s+(?=(?:what|how|who|where|when|which|can you|could you|please)\b))",
    re.IGNORECASE,
)
_MIN_CLAUSE_WORDS = 3
#: Default cap on the clauses scored per query (each clause costs one embedding). Twelve
#: rather than eight: long BFCL questions state their last intent after eight sentences of
#: context (dev split; ``bench/results/tools_bench_dev_ablations.json``).
MAX_CLAUSES = 12
_STRIP = " ,.\"'\n\t-*•"


@dataclass(frozen=True)
class FusionWeights:
    """How lexical and dense scores are fused.

    The defaults are the best point of the grid search on the dev split that
    ``python -m bench tools run`` runs and stores in ``bench/results/tools_bench.json`` (BFCL
    pooled catalog, MetaTool single- and two-tool queries; mean of recall@5 and all-gold@5),
    both with dev example queries attached and without any.

    Example:
        .. code-block:: python

            FusionWeights(dense_weight=0.6, clause_relative=0.5, clause_margin=0.1)
    """

    dense_weight: float = 0.8
    """Weight of the dense cosine; the BM25 share is ``1 - dense_weight``."""
    example_weight: float = 0.3
    """Dense score = ``(1 - example_weight) * tool cosine + example_weight * max(tool
    cosine, best example-query cosine)``: examples lift a tool without drowning its own text."""
    clause_weight: float = 1.0
    """Multiplier on per-clause scores when a query is split into intents (0 disables)."""
    clause_relative: float = 0.5
    """Share of each text's best score subtracted from its scores before the whole query and
    its clauses are merged (0: plain max of scores; 1: every text's top tool ties)."""
    clause_margin: float = 0.05
    """Handicap of clause scores against whole-query scores in the merge."""
    interleave: bool = False
    """Multi-intent queries: interleave the whole query's and each clause's rankings
    (round robin) instead of the relative-score merge."""
    max_clauses: int = MAX_CLAUSES
    """Most clauses of one query that are scored (the first ones; each costs an embedding)."""

    def __post_init__(self) -> None:
        """Check the shares (in [0, 1]) and ``max_clauses``."""
        for label in (
            "dense_weight",
            "example_weight",
            "clause_weight",
            "clause_relative",
            "clause_margin",
        ):
            value = getattr(self, label)
            if isinstance(value, bool) or not isinstance(value, int | float):
                msg = f"{label} must be a number in [0, 1], got {value!r}"
                raise TokenOptConfigError(msg)
            if not 0.0 <= float(value) <= 1.0:  # NaN fails too
                msg = f"{label} must be in [0, 1], got {value!r}"
                raise TokenOptConfigError(msg)
        if isinstance(self.max_clauses, bool) or not isinstance(self.max_clauses, int):
            msg = f"max_clauses must be an int >= 2, got {self.max_clauses!r}"
            raise TokenOptConfigError(msg)
        if self.max_clauses < 2:
            msg = f"max_clauses must be an int >= 2, got {self.max_clauses!r}"
            raise TokenOptConfigError(msg)


def interleave_orders(orders: Sequence[np.ndarray]) -> np.ndarray:
    """Round-robin merge of several rankings (first item of each, then second...), deduped."""
    if not orders:
        return np.zeros(0, dtype=np.int64)
    length = max(len(o) for o in orders)
    grid = np.full((length, len(orders)), -1, dtype=np.int64)
    for col, order in enumerate(orders):
        grid[: len(order), col] = order
    flat = grid.ravel()  # row-major: position 0 of every ranking, then position 1...
    flat = flat[flat >= 0]
    _, first = np.unique(flat, return_index=True)
    return flat[np.sort(first)]


#: Best tools kept per clause of a multi-intent query (:attr:`RankResult.clause_tops`).
CLAUSE_TOPS = 3


def row_tops(rows: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best column indices of each row, best first (``(len(rows), k)``)."""
    k = min(k, rows.shape[1])
    if k < rows.shape[1]:
        top = np.argpartition(-rows, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(k), (rows.shape[0], k))
    picked = np.take_along_axis(rows, top, axis=1)
    return np.take_along_axis(top, np.argsort(-picked, axis=1, kind="stable"), axis=1)


def split_intents(query: str, *, max_clauses: int = MAX_CLAUSES) -> list[str]:
    """Split a multi-intent query into clauses of at least three words (the first ``max_clauses``).

    Returns an empty list when the query has a single clause.
    """
    parts = [p.strip(_STRIP) for p in _SPLIT.split(query) if p]
    clauses = [p for p in parts if len(p.split()) >= _MIN_CLAUSE_WORDS]
    if len(clauses) < 2:
        return []
    return clauses[:max_clauses]


@dataclass(frozen=True)
class QuerySignals:
    """What one query measures against every tool, before fusion (one row per text)."""

    texts: tuple[str, ...]
    """The whole query, then its clauses."""
    bm25: np.ndarray
    """Raw BM25 score, ``(len(texts), n_tools)``."""
    dense: np.ndarray
    """Cosine with each tool's own vector, ``(len(texts), n_tools)`` (zeros without vectors)."""
    example: np.ndarray | None
    """``max(tool cosine, best example cosine)`` per tool, or ``None`` without examples."""
    has_dense: bool
    """True when ``dense`` holds real scores."""
    mentions: tuple[tuple[int, bool], ...]
    """``(tool index, strong)`` for each tool named in the query."""
    query_vector: np.ndarray | None = None
    """The whole query's embedding."""


def blend_examples(doc: np.ndarray, example: np.ndarray | None, weight: float) -> np.ndarray:
    """``(1 - weight) * doc + weight * example`` (``doc`` alone without examples)."""
    if example is None or weight <= 0:
        return doc
    return np.asarray((1.0 - weight) * doc + weight * example, dtype=np.float32)


def text_scores(
    signals: QuerySignals, weights: FusionWeights, *, dense: np.ndarray | None = None
) -> np.ndarray:
    """Score of every tool for the whole query and for each clause (one row per text).

    BM25 normalized by each text's best score, blended with the dense similarity (example
    queries included) by ``weights.dense_weight``; before any clause weighting or merge.
    ``dense`` is the blended dense matrix when the caller has it already.
    """
    raw = signals.bm25
    top_raw = raw.max(axis=1, keepdims=True)
    lexical = np.divide(raw, top_raw, out=np.zeros_like(raw), where=top_raw > 0)
    w = weights.dense_weight if signals.has_dense else 0.0
    scores = (1.0 - w) * lexical
    if w > 0:
        if dense is None:
            dense = blend_examples(signals.dense, signals.example, weights.example_weight)
        scores = scores + w * dense
    return np.asarray(scores)


@dataclass(frozen=True)
class RankResult:
    """Scores of every tool for one query, and the final order."""

    order: np.ndarray
    """Tool indices, best first (forced names first)."""
    fused: np.ndarray
    """Fused score per tool (for a multi-intent query: the relative merge of the whole query
    and its clauses, on the whole query's scale)."""
    dense: np.ndarray
    """Whole-query dense score per tool (zeros without an embedder)."""
    bm25: np.ndarray
    """Whole-query raw BM25 score per tool."""
    forced: tuple[int, ...] = ()
    """Indices of tools named in the query."""
    clauses: tuple[str, ...] = field(default_factory=tuple)
    """The clauses the query was split into (empty for one intent)."""
    query_vector: np.ndarray | None = None
    """The whole query's embedding (``None`` without an embedder)."""
    probability: np.ndarray | None = None
    """The second stage's probability that each tool is needed (0 outside its candidates),
    or ``None`` when the order was not reranked (see :mod:`~langchain_tokenopt.tools.rerank`)."""
    clause_tops: tuple[tuple[int, ...], ...] = field(default_factory=tuple)
    """Per clause, its best tools by the clause's own score (:data:`CLAUSE_TOPS`, best
    first): what each request of a multi-intent query asks for on its own."""


#: A tool named only in plain words is moved up to at most this many places below the
#: identifier-named ones (it stays in the top 3 without displacing a clear winner).
WEAK_MENTION_SLOT = 2


def place_forced(order: np.ndarray, *, strong: Sequence[int], weak: Sequence[int]) -> np.ndarray:
    """Put strongly named tools first, and weakly named ones within the next few places.

    A weakly named tool keeps its own rank when that is already better than the slot.
    """
    if not strong and not weak:
        return order
    named = np.asarray([*strong, *weak], dtype=order.dtype)
    rest = order[~np.isin(order, named)]
    if not weak:
        return np.concatenate([np.asarray(strong, dtype=order.dtype), rest])
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    weak_sorted = sorted(weak, key=lambda t: int(rank[t]))
    rest_rank = rank[rest]
    out = [np.asarray(strong, dtype=order.dtype)]
    slot = len(strong) + WEAK_MENTION_SLOT
    taken = 0  # items of ``rest`` already placed
    placed = len(strong)
    for t in weak_sorted:
        # rest items ranked better than t go first, but no further than the slot allows
        better = int(np.searchsorted(rest_rank, rank[t]))
        upto = max(taken, min(better, taken + max(slot - placed, 0)))
        out.append(rest[taken:upto])
        placed += upto - taken
        taken = upto
        out.append(np.asarray([t], dtype=order.dtype))
        placed += 1
    out.append(rest[taken:])
    return np.concatenate(out)


class ToolIndex:
    """BM25 + dense index over a normalized catalog.

    Args:
        specs: The catalog (see :func:`~langchain_tokenopt.tools.catalog.build_catalog`).
        embed: Texts → ``(n, d)`` unit vectors, or ``None`` for BM25 only.
        store: Persistent vector store (only unseen texts get embedded), or ``None``.
        index_parameters: Index parameter names/descriptions (Toolshed-style enrichment).
        weights: Fusion weights.

    Example:
        .. code-block:: python

            index = ToolIndex(specs, embed=LocalEmbeddings().encode, store=None)
    """

    def __init__(
        self,
        specs: Sequence[ToolSpec],
        *,
        embed: EmbedFn | None,
        store: EmbeddingStore | None = None,
        index_parameters: bool = True,
        weights: FusionWeights | None = None,
    ) -> None:
        self.specs = list(specs)
        self.names = [s.name for s in self.specs]
        self.position = {n: i for i, n in enumerate(self.names)}
        self.embed = embed
        self.weights = weights or FusionWeights()
        self.matcher = NameMatcher(self.names)
        self._build_bm25(index_parameters)
        self.doc_vectors: np.ndarray | None = None
        self.example_vectors: np.ndarray | None = None
        self._example_starts = np.zeros(0, dtype=np.int64)
        self._example_owners = np.zeros(0, dtype=np.int64)
        self.embedded_count = 0
        if embed is not None:
            self._build_dense(embed, store, index_parameters)

    @property
    def dimension(self) -> int:
        """Embedding dimension (0 without an embedder)."""
        return 0 if self.doc_vectors is None else int(self.doc_vectors.shape[1])

    # ------------------------------------------------------------------ build
    def _build_bm25(self, index_parameters: bool) -> None:
        try:
            import bm25s
        except ImportError as exc:
            raise MissingDependencyError("`bm25s`", extra="search") from exc
        corpus = [tokenize(lexical_text(s, with_parameters=index_parameters)) for s in self.specs]
        self._terms = [frozenset(doc) for doc in corpus]
        self._bm25 = bm25s.BM25()
        with quiet_third_party_logs():  # bm25s logs every index build at DEBUG
            self._bm25.index(corpus, show_progress=False)
        self._vocab: dict[str, int] = dict(self._bm25.vocab_dict)

    def _build_dense(self, embed: EmbedFn, store: EmbeddingStore | None, params: bool) -> None:
        texts = [dense_text(s, with_parameters=params) for s in self.specs]
        owners: list[int] = []
        examples: list[str] = []
        for i, spec in enumerate(self.specs):
            for ex in spec.examples:
                owners.append(i)
                examples.append(ex)
        everything = texts + examples
        if store is not None:
            vectors = store.embed(everything, embed)
            self.embedded_count = store.last_computed
        else:
            vectors = np.asarray(embed(everything), dtype=np.float32)
            self.embedded_count = len(everything)
        self.doc_vectors = np.ascontiguousarray(vectors[: len(texts)])
        if examples:
            self.example_vectors = np.ascontiguousarray(vectors[len(texts) :])
            owner_arr = np.asarray(owners, dtype=np.int64)
            self._example_owners = np.unique(owner_arr)
            self._example_starts = np.searchsorted(owner_arr, self._example_owners)

    # ------------------------------------------------------------------ scoring
    def bm25_scores(self, text: str) -> np.ndarray:
        """Raw BM25 scores of every tool for ``text`` (zeros when no word is known)."""
        tokens = [t for t in tokenize(text) if t in self._vocab]
        if not tokens:
            return np.zeros(len(self.specs), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def term_shares(self, text: str, tool: int) -> tuple[float, float]:
        """Lexical fit of ``text`` to the catalog and to one tool.

        Returns:
            ``(unknown, covered)``: the share of the text's distinct terms that no tool's
            indexed text holds, and the share that tool ``tool``'s indexed text holds
            (``(1.0, 0.0)`` for a text without terms).
        """
        terms = set(tokenize(text))
        if not terms:
            return 1.0, 0.0
        unknown = sum(t not in self._vocab for t in terms) / len(terms)
        covered = len(terms & self._terms[tool]) / len(terms)
        return unknown, covered

    def dense_scores(self, vectors: np.ndarray, example_weight: float | None = None) -> np.ndarray:
        """Dense score per (query vector, tool), blending tool and example cosines.

        ``(1 - example_weight) * tool cosine + example_weight * max(tool, best example)``;
        ``example_weight`` defaults to the index's :attr:`FusionWeights.example_weight`.
        """
        doc, example = self._dense_parts(vectors)
        eta = self.weights.example_weight if example_weight is None else example_weight
        return blend_examples(doc, example, eta)

    def _dense_parts(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Tool cosines and best-example cosines (``None`` when no tool has examples)."""
        if self.doc_vectors is None:
            return np.zeros((vectors.shape[0], len(self.specs)), dtype=np.float32), None
        sims = vectors @ self.doc_vectors.T
        if self.example_vectors is None:
            return sims, None
        ex = vectors @ self.example_vectors.T
        best = np.maximum.reduceat(ex, self._example_starts, axis=1)
        example = sims.copy()
        example[:, self._example_owners] = np.maximum(sims[:, self._example_owners], best)
        return sims, example

    def query_texts(self, query: str, *, decompose: bool) -> list[str]:
        """The texts to embed for a query: the query, then its clauses when decomposing."""
        if decompose and self.weights.clause_weight > 0:
            return [query, *split_intents(query, max_clauses=self.weights.max_clauses)]
        return [query]

    def signals(
        self, query: str, vectors: np.ndarray | None, *, decompose: bool = True
    ) -> QuerySignals:
        """The raw per-text signals of a query (BM25, dense, name mentions), before fusion."""
        texts = self.query_texts(query, decompose=decompose)
        n = len(self.specs)
        raw = np.vstack([self.bm25_scores(t) for t in texts])
        example = None
        if vectors is not None and self.doc_vectors is not None:
            dense, example = self._dense_parts(vectors)
        else:
            dense = np.zeros((len(texts), n), dtype=np.float32)
        mentions = tuple(self.matcher.find_with_strength(query))
        return QuerySignals(
            texts=tuple(texts),
            bm25=raw,
            dense=dense,
            example=example,
            has_dense=vectors is not None and self.doc_vectors is not None,
            mentions=tuple((self.position[name], strong) for name, strong in mentions),
            query_vector=None if vectors is None else vectors[0],
        )

    def fuse(self, signals: QuerySignals, weights: FusionWeights | None = None) -> RankResult:
        """Fuse a query's signals into scores and an order (pure; ``weights`` default: own)."""
        wts = weights or self.weights
        raw = signals.bm25
        dense = blend_examples(signals.dense, signals.example, wts.example_weight)
        scores = text_scores(signals, wts, dense=dense)
        multi = scores.shape[0] > 1 and wts.clause_weight > 0
        if multi:
            scores[1:] *= wts.clause_weight
            best = scores.max(axis=1, keepdims=True)
            relative = scores - wts.clause_relative * best
            merged = np.maximum(relative[0], relative[1:].max(axis=0) - wts.clause_margin)
            # shift back so a tool's score is on the whole query's scale (rank order unchanged)
            fused = merged + wts.clause_relative * float(best[0, 0])
        else:
            fused = scores[0]
        if wts.interleave and multi:
            base_order = interleave_orders([np.argsort(-row, kind="stable") for row in scores])
        else:
            base_order = np.argsort(-fused, kind="stable")
        order = place_forced(
            base_order,
            strong=[i for i, strong in signals.mentions if strong],
            weak=[i for i, strong in signals.mentions if not strong],
        )
        return RankResult(
            order=order,
            fused=np.asarray(fused, dtype=np.float32),
            dense=dense[0],
            bm25=raw[0],
            forced=tuple(i for i, _ in signals.mentions),
            clauses=signals.texts[1:],
            query_vector=signals.query_vector,
            clause_tops=(
                tuple(tuple(row) for row in row_tops(scores[1:], CLAUSE_TOPS).tolist())
                if multi
                else ()
            ),
        )

    def rank(self, query: str, vectors: np.ndarray | None, *, decompose: bool = True) -> RankResult:
        """Score every tool for ``query`` given the vectors of :meth:`query_texts`."""
        return self.fuse(self.signals(query, vectors, decompose=decompose))
