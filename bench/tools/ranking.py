"""Rankings and their metrics, all over the library's own signals and pure ``ToolIndex.fuse``.

Signals are computed once per query by the library (``ToolIndex.signals``); every method and
weight setting is the library's pure ``ToolIndex.fuse`` over them, then optionally the learned
second stage (:class:`RerankedOrders`). Example::

    sigs = signals(index, queries, query_vectors(embedder, index, queries))
    print(metrics([rank_fused(index, s, FusionWeights()) for s in sigs], queries, index.position))
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from bench.tools.data import KS, Query
from langchain_tokenopt.embeddings import OnnxEmbeddings
from langchain_tokenopt.tools.index import (
    FusionWeights,
    QuerySignals,
    ToolIndex,
    blend_examples,
)
from langchain_tokenopt.tools.rerank import Reranker, RerankWeights


def query_vectors(embedder: OnnxEmbeddings, index: ToolIndex, queries: list[Query]) -> list:
    texts_per = [index.query_texts(q.text, decompose=True) for q in queries]
    flat = [t for ts in texts_per for t in ts]
    vecs = embedder.encode(flat) if flat else np.zeros((0, 384), np.float32)
    out, pos = [], 0
    for ts in texts_per:
        out.append(vecs[pos : pos + len(ts)])
        pos += len(ts)
    return out


def signals(index: ToolIndex, queries: list[Query], vecs: list[np.ndarray]) -> list[QuerySignals]:
    return [index.signals(q.text, v) for q, v in zip(queries, vecs, strict=True)]


def whole_only(sig: QuerySignals) -> QuerySignals:
    """The signals of the whole query alone (no clauses)."""
    return replace(
        sig,
        texts=sig.texts[:1],
        bm25=sig.bm25[:1],
        dense=sig.dense[:1],
        example=None if sig.example is None else sig.example[:1],
    )


def rank_fused(
    index: ToolIndex, sig: QuerySignals, fw: FusionWeights, names: bool = True
) -> np.ndarray:
    return index.fuse(sig if names else replace(sig, mentions=()), fw).order


def rank_bm25(sig: QuerySignals) -> np.ndarray:
    return np.argsort(-sig.bm25[0], kind="stable")


def rank_dense(sig: QuerySignals) -> np.ndarray:
    return np.argsort(-sig.dense[0], kind="stable")


def rank_rrf(sig: QuerySignals, k0: int = 60) -> np.ndarray:
    n = sig.bm25.shape[1]
    score = np.zeros(n)
    for order in (rank_bm25(sig), rank_dense(sig)):
        ranks = np.empty(n)
        ranks[order] = np.arange(n)
        score += 1.0 / (k0 + ranks + 1)
    return np.argsort(-score, kind="stable")


def metrics(orders: list[np.ndarray], queries: list[Query], pos: dict[str, int]) -> dict:
    out: dict = {f"recall@{k}": [] for k in KS}
    out["all_gold@5"] = []
    out["all_gold@5_multi"] = []
    for order, q in zip(orders, queries, strict=True):
        gold = [pos[g] for g in q.gold]
        for k in KS:
            top = set(order[:k].tolist())
            out[f"recall@{k}"].append(sum(g in top for g in gold) / len(gold))
        top5 = set(order[:5].tolist())
        allg = float(all(g in top5 for g in gold))
        out["all_gold@5"].append(allg)
        if len(gold) >= 2:
            out["all_gold@5_multi"].append(allg)
    res = {k: (round(float(np.mean(v)), 4) if v else None) for k, v in out.items()}
    res["n"] = len(queries)
    res["n_multi"] = len(out["all_gold@5_multi"])
    return res


CalSet = tuple[ToolIndex, list[QuerySignals], list[Query], dict[str, int]]


def calibrate(sets: list[CalSet], *, examples: bool) -> tuple[FusionWeights, dict]:
    """Grid search on dev: mean of recall@5 and all-gold@5 over the calibration sets."""
    grid: dict[str, float] = {}
    best, best_score = FusionWeights(), -1.0
    etas = (0.3, 0.5, 0.7, 1.0) if examples else (0.5,)
    for w in (0.5, 0.6, 0.7, 0.8):
        for eta in etas:
            for rel, margin in ((0.0, 0.0), (0.0, 0.1), (0.5, 0.0), (0.5, 0.05), (0.5, 0.1)):
                fw = FusionWeights(
                    dense_weight=w, example_weight=eta, clause_relative=rel, clause_margin=margin
                )
                vals = []
                for index, sigs, qs, pos in sets:
                    m = metrics([rank_fused(index, s, fw) for s in sigs], qs, pos)
                    vals += [m["recall@5"], m["all_gold@5"]]
                score = float(np.mean(vals))
                grid[f"w={w},eta={eta},rel={rel},margin={margin}"] = round(score, 4)
                if score > best_score:
                    best_score, best = score, fw
    return best, grid


#: Features of the fitted classifier rows: the library's ``fit()`` default (the first 11 of
#: :data:`FEATURES`). The default's catalog-relative ``margin10`` and ``bm25_z`` lower this


def multi_intent_diagnostic(
    index: ToolIndex,
    sigs: list[QuerySignals],
    queries: list[Query],
    pos: dict[str, int],
    fw: FusionWeights,
) -> dict:
    """Dev questions with >= 2 gold tools: how often each gold tool is the best (or second)
    tool of the whole query or of one of its clauses, beside all-gold@5 with the merge and
    with round-robin interleaving. A bound on what any per-clause merge can reach."""
    top1, top2, n = 0, 0, 0
    for sig, q in zip(sigs, queries, strict=True):
        if len(q.gold) < 2:
            continue
        n += 1
        raw = sig.bm25
        peak = raw.max(axis=1, keepdims=True)
        lexical = np.divide(raw, peak, out=np.zeros_like(raw), where=peak > 0)
        dense = blend_examples(sig.dense, sig.example, fw.example_weight)
        rows = (1 - fw.dense_weight) * lexical + fw.dense_weight * dense
        rank = np.argsort(np.argsort(-rows, axis=1), axis=1)
        worst = max(int(rank[:, pos[g]].min()) for g in q.gold)
        top1 += worst == 0
        top2 += worst <= 1
    multi = [(s, q) for s, q in zip(sigs, queries, strict=True) if len(q.gold) >= 2]
    qs = [q for _, q in multi]
    merged = metrics([index.fuse(s, fw).order for s, _ in multi], qs, pos)
    rr = metrics([index.fuse(s, replace(fw, interleave=True)).order for s, _ in multi], qs, pos)
    return {
        "n": n,
        "all_gold@5_merge": merged["all_gold@5"],
        "all_gold@5_interleave": rr["all_gold@5"],
        "every_gold_is_top1_of_query_or_a_clause": round(top1 / max(n, 1), 4),
        "every_gold_in_top2_of_query_or_a_clause": round(top2 / max(n, 1), 4),
    }


def recall_at(orders: list[np.ndarray], queries: list[Query], pos: dict[str, int], k: int) -> float:
    """Mean share of each question's gold tools in the top ``k``."""
    hits = [
        sum(pos[g] in order[:k].tolist() for g in q.gold) / len(q.gold)
        for order, q in zip(orders, queries, strict=True)
    ]
    return round(float(np.mean(hits)), 4)


@dataclass
class RerankedOrders:
    """Second stage: the learned reranker over the fused candidates, one per (index, weights).

    ``weights=None`` is the library default. One object per run (no process-wide table).
    """

    _rerankers: dict[tuple[int, int], Reranker] = field(default_factory=dict)

    def reranker(self, index: ToolIndex, weights: RerankWeights | None = None) -> Reranker:
        """The memoized :class:`Reranker` of ``index`` with ``weights``."""
        key = (id(index), id(weights))
        if key not in self._rerankers:
            self._rerankers[key] = Reranker(index, weights=weights)
        return self._rerankers[key]

    def order(
        self,
        index: ToolIndex,
        sig: QuerySignals,
        fw: FusionWeights,
        weights: RerankWeights | None = None,
    ) -> np.ndarray:
        """Tool positions, best first, after the second stage."""
        return self.reranker(index, weights).order(sig, index.fuse(sig, fw), fw)
