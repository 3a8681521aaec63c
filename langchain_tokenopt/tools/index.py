"""The hybrid tool index: BM25 (bm25s) fused with dense MiniLM similarity, pure scoring.

Scoring one query (all steps are pure functions of the index and the query vectors):

1. **lexical**: BM25 over name, description, parameters and example queries, divided by the
   best score of the query (so it lies in [0, 1]);
2. **dense**: cosine with the tool's own vector, or with its closest example query when that
   is higher (examples act as extra tool vectors, as in Tool2Vec);
3. **fusion**: ``dense_weight * dense + (1 - dense_weight) * lexical``;
4. **multi-intent** (optional): the query is split into clauses; a tool's score is the max of
   its whole-query score and ``clause_weight`` × its best clause score;
5. **names**: tools the query names as identifiers go first; tools named in plain words are
   moved into the top three (see :mod:`~langchain_tokenopt.tools.names`).

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

from langchain_tokenopt.errors import MissingDependencyError
from langchain_tokenopt.tools.catalog import dense_text, lexical_text, tokenize
from langchain_tokenopt.tools.names import NameMatcher
from langchain_tokenopt.tools.records import ToolSpec
from langchain_tokenopt.tools.store import EmbeddingStore

logger = logging.getLogger(__name__)

__all__ = [
    "FusionWeights",
    "RankResult",
    "ToolIndex",
    "interleave_orders",
    "place_forced",
    "split_intents",
]

EmbedFn = Callable[[list[str]], np.ndarray]

_SPLIT = re.compile(
    r"(?:[;?!]|\.(?=\s)|,?\s+and then\s+|,?\s+and also\s+|,?\s+then\s+|,?\s+also\s+|"
    r",?\s+as well as\s+|,?\s+and\s+(?=(?:please\s+)?[a-z]+\s))",
    re.IGNORECASE,
)
_MIN_CLAUSE_WORDS = 3
_MAX_CLAUSES = 4


@dataclass(frozen=True)
class FusionWeights:
    """How lexical and dense scores are fused.

    The defaults are the best pair of a grid search on the dev split (BFCL pooled catalog,
    MetaTool single- and two-tool queries, no example queries; mean of recall@5 and
    all-gold@5) run by ``bench/tools_bench.py``. With example queries the same search picks
    ``dense_weight=0.7, interleave=True``.

    Example:
        .. code-block:: python

            FusionWeights(dense_weight=0.6, clause_weight=0.9)
    """

    dense_weight: float = 0.9
    """Weight of the dense cosine; the BM25 share is ``1 - dense_weight``."""
    clause_weight: float = 0.9
    """Multiplier on per-clause scores when a query is split into intents (0 disables)."""
    interleave: bool = False
    """Multi-intent queries: interleave the whole query's and each clause's rankings
    (round robin) instead of taking the max of the scores."""


def interleave_orders(orders: Sequence[np.ndarray]) -> np.ndarray:
    """Round-robin merge of several rankings (first item of each, then second...), deduped."""
    seen: dict[int, None] = {}
    length = max(len(o) for o in orders)
    for pos in range(length):
        for order in orders:
            if pos < len(order):
                seen.setdefault(int(order[pos]), None)
    return np.asarray(list(seen), dtype=np.int64)


def split_intents(query: str) -> list[str]:
    """Split a multi-intent query into clauses of at least three words (max four).

    Returns an empty list when the query has a single clause.
    """
    parts = [p.strip(" ,.") for p in _SPLIT.split(query)]
    clauses = [p for p in parts if len(p.split()) >= _MIN_CLAUSE_WORDS]
    if len(clauses) < 2:
        return []
    return clauses[:_MAX_CLAUSES]


@dataclass(frozen=True)
class RankResult:
    """Scores of every tool for one query, and the final order."""

    order: np.ndarray
    """Tool indices, best first (forced names first)."""
    fused: np.ndarray
    """Fused score per tool (max over the whole query and its clauses)."""
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


#: A tool named only in plain words is moved up to at most this many places below the
#: identifier-named ones (it stays in the top 3 without displacing a clear winner).
WEAK_MENTION_SLOT = 2


def place_forced(order: np.ndarray, *, strong: Sequence[int], weak: Sequence[int]) -> np.ndarray:
    """Put strongly named tools first, and weakly named ones within the next few places."""
    if not strong and not weak:
        return order
    named = [*strong, *weak]
    rest = [int(i) for i in order[~np.isin(order, named)]]
    out = list(strong)
    ranks = {int(t): r for r, t in enumerate(order.tolist())} if weak else {}
    slot = len(out) + WEAK_MENTION_SLOT
    pending = sorted(weak, key=lambda t: ranks[int(t)])
    pos = 0
    while pending or pos < len(rest):
        if pending and (
            len(out) >= slot or pos >= len(rest) or ranks[int(pending[0])] <= ranks[rest[pos]]
        ):
            out.append(int(pending.pop(0)))
        else:
            out.append(rest[pos])
            pos += 1
    return np.asarray(out, dtype=order.dtype)


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
        self._bm25 = bm25s.BM25()
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

    def dense_scores(self, vectors: np.ndarray) -> np.ndarray:
        """Dense score per (query vector, tool): max of tool-vector and example cosines."""
        if self.doc_vectors is None:
            return np.zeros((vectors.shape[0], len(self.specs)), dtype=np.float32)
        sims = vectors @ self.doc_vectors.T
        if self.example_vectors is not None:
            ex = vectors @ self.example_vectors.T
            best = np.maximum.reduceat(ex, self._example_starts, axis=1)
            cols = sims[:, self._example_owners]
            sims[:, self._example_owners] = np.maximum(cols, best)
        return sims

    def query_texts(self, query: str, *, decompose: bool) -> list[str]:
        """The texts to embed for a query: the query, then its clauses when decomposing."""
        if decompose and self.weights.clause_weight > 0:
            return [query, *split_intents(query)]
        return [query]

    def rank(self, query: str, vectors: np.ndarray | None, *, decompose: bool = True) -> RankResult:
        """Score every tool for ``query`` given the vectors of :meth:`query_texts`."""
        texts = self.query_texts(query, decompose=decompose)
        n = len(self.specs)
        w = (
            self.weights.dense_weight
            if vectors is not None and self.doc_vectors is not None
            else 0.0
        )
        dense = (
            self.dense_scores(vectors)
            if vectors is not None
            else np.zeros((len(texts), n), dtype=np.float32)
        )
        fused = np.zeros(n, dtype=np.float32)
        whole_bm25 = np.zeros(n, dtype=np.float32)
        per_text: list[np.ndarray] = []
        for i, text in enumerate(texts):
            raw = self.bm25_scores(text)
            top = float(raw.max()) if n else 0.0
            lexical = raw / top if top > 0 else raw
            score = w * dense[i] + (1.0 - w) * lexical
            per_text.append(score)
            if i == 0:
                whole_bm25 = raw
                fused = score
            else:
                fused = np.maximum(fused, self.weights.clause_weight * score)
        mentions = self.matcher.find_with_strength(query)
        forced = tuple(self.position[name] for name, _ in mentions)
        if self.weights.interleave and len(per_text) > 1:
            base_order = interleave_orders([np.argsort(-row, kind="stable") for row in per_text])
        else:
            base_order = np.argsort(-fused, kind="stable")
        order = place_forced(
            base_order,
            strong=[self.position[n] for n, s in mentions if s],
            weak=[self.position[n] for n, s in mentions if not s],
        )
        return RankResult(
            order=order,
            fused=fused,
            dense=dense[0],
            bm25=whole_bm25,
            forced=forced,
            clauses=tuple(texts[1:]),
            query_vector=None if vectors is None else vectors[0],
        )
