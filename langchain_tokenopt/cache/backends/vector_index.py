"""In-process vector index for one scope: exact numpy search, usearch HNSW when large.

Below ``exact_limit`` vectors a single-threaded matrix-vector product over unit vectors is
exact and about as fast as a graph search (``python -m bench cache scale``, "exact numpy vs
usearch" table on 2 busy cores: 2k vectors 0.12 ms exact vs 0.09 ms HNSW p50; 10k 0.57 vs
0.23 ms; 50k 7.0 vs 0.8 ms). Above it the scope's vectors move into a usearch HNSW index (inner
product on unit vectors = cosine, int8 storage), whose search cost grows with log(n);
its int8 cosines only rank candidates (the backend rescores them exactly).

Example:
    .. code-block:: python

        index = ScopeIndex(dim=384, exact_limit=5_000)
        index.add("a", vec)
        index.top1(vec)  # ("a", 1.0)
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import numpy as np

from langchain_tokenopt.errors import MissingDependencyError

__all__ = ["ScopeIndex"]


def _load_onnxruntime_first() -> None:
    """Import onnxruntime (when installed) before usearch.

    usearch loads its SIMD library (numkong) with ``RTLD_GLOBAL``; its C++ runtime symbols
    then shadow the ones onnxruntime binds while it initializes, and a later
    ``import onnxruntime`` (the int8 query embedder) dies with a segmentation fault
    (usearch 2.26 + onnxruntime 1.32, measured). Loaded first, both work.
    """
    if "usearch.compiled" in sys.modules:
        return
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401


class ScopeIndex:
    """Vectors of one scope, keyed by entry id, with top-1 cosine search.

    Args:
        dim: Vector dimension.
        exact_limit: Switch to usearch HNSW above this many vectors.
    """

    def __init__(self, *, dim: int, exact_limit: int) -> None:
        self.dim = dim
        self.exact_limit = exact_limit
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}
        self._matrix = np.zeros((16, dim), dtype=np.float32)
        self._hnsw: Any = None
        self._labels: dict[int, str] = {}
        self._label_of: dict[str, int] = {}
        self._next_label = 0

    def __len__(self) -> int:
        return len(self._label_of) if self._hnsw is not None else len(self._ids)

    def add(self, entry_id: str, vector: np.ndarray) -> None:
        """Insert or replace one unit vector."""
        vec = np.asarray(vector, dtype=np.float32).reshape(self.dim)
        if self._hnsw is not None:
            self._hnsw_add(entry_id, vec)
            return
        row = self._rows.get(entry_id)
        if row is None:
            row = len(self._ids)
            if row >= self._matrix.shape[0]:
                grown = np.zeros((self._matrix.shape[0] * 2, self.dim), dtype=np.float32)
                grown[:row] = self._matrix[:row]
                self._matrix = grown
            self._ids.append(entry_id)
            self._rows[entry_id] = row
        self._matrix[row] = vec
        if len(self._ids) > self.exact_limit:
            self._to_hnsw()

    def add_many(self, entry_ids: list[str], vectors: np.ndarray) -> None:
        """Insert many vectors at once (used when reopening a store)."""
        if self._hnsw is None and len(self._ids) + len(entry_ids) <= self.exact_limit:
            for entry_id, vec in zip(entry_ids, vectors, strict=True):
                self.add(entry_id, vec)
            return
        if self._hnsw is None:
            self._to_hnsw()
        fresh = [i for i in entry_ids if i not in self._label_of]
        if len(fresh) == len(entry_ids) and entry_ids:
            labels = np.arange(self._next_label, self._next_label + len(entry_ids), dtype=np.uint64)
            self._next_label += len(entry_ids)
            self._hnsw.add(labels, np.asarray(vectors, dtype=np.float32))
            for label, entry_id in zip(labels.tolist(), entry_ids, strict=True):
                self._labels[int(label)] = entry_id
                self._label_of[entry_id] = int(label)
            return
        for entry_id, vec in zip(entry_ids, vectors, strict=True):
            self._hnsw_add(entry_id, np.asarray(vec, dtype=np.float32))

    def remove(self, entry_id: str) -> None:
        """Remove one vector (no-op when absent)."""
        if self._hnsw is not None:
            label = self._label_of.pop(entry_id, None)
            if label is not None:
                self._labels.pop(label, None)
                self._hnsw.remove(label)
            return
        row = self._rows.pop(entry_id, None)
        if row is None:
            return
        last = len(self._ids) - 1
        if row != last:
            moved = self._ids[last]
            self._ids[row] = moved
            self._rows[moved] = row
            self._matrix[row] = self._matrix[last]
        self._ids.pop()

    @property
    def approximate(self) -> bool:
        """Whether searches go through the HNSW graph (int8 scores: rescore candidates)."""
        return self._hnsw is not None

    def top1(self, vector: np.ndarray) -> tuple[str, float] | None:
        """Return ``(entry_id, cosine)`` of the nearest vector, or ``None`` when empty."""
        found = self.topk(vector, 1)
        return found[0] if found else None

    def topk(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Return up to ``k`` ``(entry_id, cosine)`` pairs, nearest first.

        Exact below ``exact_limit``; above it the cosines are int8 approximations (callers
        that compare against a threshold rescore the candidates with the stored floats).
        """
        vec = np.asarray(vector, dtype=np.float32).reshape(self.dim)
        if self._hnsw is not None:
            if not self._label_of:
                return []
            matches = self._hnsw.search(vec, k, threads=1)
            out = []
            for label, dist in zip(matches.keys.tolist(), matches.distances.tolist(), strict=True):
                entry_id = self._labels.get(int(label))
                if entry_id is not None:
                    out.append((entry_id, float(1.0 - dist)))
            return out
        n = len(self._ids)
        if n == 0:
            return []
        # einsum stays on this thread; a BLAS matvec spawns threads that fight other work
        # on a busy host (measured 12 ms vs 0.6 ms p50 at 10k vectors on 2 busy cores).
        scores = np.einsum("ij,j->i", self._matrix[:n], vec)
        if k == 1:
            best = int(np.argmax(scores))
            return [(self._ids[best], float(scores[best]))]
        top = np.argpartition(-scores, min(k, n) - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self._ids[int(i)], float(scores[int(i)])) for i in top]

    def _new_hnsw(self) -> Any:
        _load_onnxruntime_first()
        try:
            from usearch.index import Index
        except ImportError as exc:
            raise MissingDependencyError(
                "usearch (for large local caches)", extra="search"
            ) from exc
        # int8 storage: 4x less memory than f32 and the fastest inserts and searches (the
        # index-dtype comparison, last in bench/results/cache_bench.json); the scores only pick
        # candidates, the backend rescores them with the stored float32 vectors before any
        # threshold decision.
        return Index(
            ndim=self.dim,
            metric="ip",
            dtype="i8",
            connectivity=16,
            expansion_add=32,
            # a wider search beam than usearch's default: with 64 the 1M synthetic scale run
            # (python -m bench cache scale --scale 1000000) found the true neighbour
            # among the 4 candidates for only 77 % of queries
            expansion_search=128,
        )

    def _hnsw_add(self, entry_id: str, vec: np.ndarray) -> None:
        old = self._label_of.get(entry_id)
        if old is not None:
            self._hnsw.remove(old)
            self._labels.pop(old, None)
        label = self._next_label
        self._next_label += 1
        self._hnsw.add(label, vec)
        self._labels[label] = entry_id
        self._label_of[entry_id] = label

    def _to_hnsw(self) -> None:
        index = self._new_hnsw()
        n = len(self._ids)
        if n:
            labels = np.arange(n, dtype=np.uint64)
            index.add(labels, self._matrix[:n])
        self._labels = dict(enumerate(self._ids))
        self._label_of = {entry_id: i for i, entry_id in enumerate(self._ids)}
        self._next_label = n
        self._hnsw = index
        self._ids, self._rows = [], {}
        self._matrix = np.zeros((0, self.dim), dtype=np.float32)
