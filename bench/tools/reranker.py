"""``python -m bench tools reranker``: the learned second stage on the dev split (two-fold).

Queries of one dev fold are ranked by an index holding the other fold's example queries; the
reranker is fitted on one fold's queries and scored on the other's, beside the fused first
stage on the same queries. It also prints the weights fitted on both folds, which the library
ships as its default (``langchain_tokenopt.tools.rerank``) ->
``bench/results/tools_reranker_dev.json``. The test split is not read.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.common import write_json
from bench.tools.data import (
    CachedEmbeddings,
    Query,
    dev_fold,
    examples_from,
    load_bfcl,
    load_metatool,
    make_retriever,
)
from bench.tools.ranking import RerankedOrders, metrics, query_vectors, signals
from langchain_tokenopt.tools.index import FusionWeights, QuerySignals, ToolIndex
from langchain_tokenopt.tools.rerank import RERANK_FEATURES, Reranker, fit_rerank_weights


def rerank_rows(
    index: ToolIndex, sigs: list[QuerySignals], qs: list[Query], fw: FusionWeights
) -> list[dict]:
    """Candidate features and labels (gold or not) of each query, for fitting the reranker."""
    reranker = Reranker(index)
    rows = []
    for sig, q in zip(sigs, qs, strict=True):
        res = index.fuse(sig, fw)
        cands, feats = reranker.features(sig, res, fw)
        gold = [index.position[g] for g in q.gold]
        rows.append(
            {"q": q, "sig": sig, "index": index, "x": feats, "y": np.isin(cands, gold) * 1.0}
        )
    return rows


def rerank_two_fold(
    args: argparse.Namespace,
    cache: Path,
    embedder: CachedEmbeddings,
    fw: FusionWeights,
    rerank: RerankedOrders,
) -> dict:
    """Dev two-fold of the learned reranker: queries of one dev fold are ranked by an index
    holding the other fold's example queries; the model is fitted on one fold's queries and
    scored on the other's. Also the weights fitted on both folds (the library default)."""
    rng = np.random.default_rng(1)
    bfcl_cat, bfcl_q, bfcl_neg = load_bfcl(args.data)
    mt_cat, mt_single, mt_multi = load_metatool(args.data)
    retr = {}
    for fold in (0, 1):
        keep = lambda q, f=fold: dev_fold(q.key) == f  # noqa: E731
        retr[("bfcl", fold)] = make_retriever(
            bfcl_cat, examples_from(bfcl_q, keep), cache / "s", embeddings=embedder
        )
        retr[("mt", fold)] = make_retriever(
            mt_cat, examples_from(mt_single, keep), cache / "s", embeddings=embedder
        )
    mt_dev = [q for q in mt_single if not q.test]
    mt_dev = [mt_dev[i] for i in sorted(rng.choice(len(mt_dev), 3000, replace=False))]
    groups = {
        "bfcl": ("bfcl", [q for q in bfcl_q if not q.test]),
        "metatool_single": ("mt", mt_dev),
        "metatool_two_tool": ("mt", [q for q in mt_multi if not q.test]),
    }
    rows: dict[str, list[dict]] = {}
    for name, (cat, qs) in groups.items():
        rows[name] = []
        for fold in (0, 1):
            sub = [q for q in qs if dev_fold(q.key) == fold]
            r = retr[(cat, 1 - fold)]  # examples from the other fold
            sigs = signals(r.index, sub, query_vectors(embedder, r.index, sub))
            for row in rerank_rows(r.index, sigs, sub, fw):
                row["fold"] = fold
                rows[name].append(row)
    every = [row for group in rows.values() for row in group]
    fitted = {
        h: fit_rerank_weights(
            [r["x"] for r in every if r["fold"] != h], [r["y"] for r in every if r["fold"] != h]
        )
        for h in (0, 1)
    }
    out: dict = {"held_out": {}, "fused_merge": {}}
    for name, group in rows.items():
        orders = [rerank.order(r["index"], r["sig"], fw, fitted[r["fold"]]) for r in group]
        base = [r["index"].fuse(r["sig"], fw).order for r in group]
        qs = [r["q"] for r in group]
        pos = group[0]["index"].position
        out["held_out"][name] = metrics(orders, qs, pos)
        out["fused_merge"][name] = metrics(base, qs, pos)
    full = fit_rerank_weights([r["x"] for r in every], [r["y"] for r in every])
    out["weights_fitted_on_all_dev"] = asdict(full)
    out["features"] = list(RERANK_FEATURES)
    out["training_queries"] = {k: len(v) for k, v in rows.items()}
    out["fold_weights"] = {h: w for h, w in fitted.items()}
    return out


def _dev_cells(row: dict) -> list[str]:
    """Table cells of one dev row: R@5 / all-gold@5, plus >=2-tool all-gold@5 where present."""
    return [
        f"{m['recall@5']} / {m['all_gold@5']}"
        + (f"; {m['all_gold@5_multi']} (n={m['n_multi']})" if m["n_multi"] else "")
        for m in row.values()
    ]


def run(args: argparse.Namespace) -> None:
    """Dev split only: the fused merge and the learned reranker (other-fold weights)."""
    console = Console()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="tools_bench_"))
    embedder = CachedEmbeddings(cache / "vectors")
    rng = np.random.default_rng(0)
    bfcl_cat, bfcl_q, bfcl_neg = load_bfcl(args.data)
    mt_cat, mt_single, mt_multi = load_metatool(args.data)
    fold_a = lambda q: dev_fold(q.key) == 0  # noqa: E731
    r_bfcl = make_retriever(
        bfcl_cat, examples_from(bfcl_q, fold_a), cache / "s", embeddings=embedder
    )
    r_mt = make_retriever(
        mt_cat, examples_from(mt_single, fold_a), cache / "s", embeddings=embedder
    )
    mt_devb = [q for q in mt_single if not q.test and not fold_a(q)]
    mt_devb = [mt_devb[i] for i in sorted(rng.choice(len(mt_devb), 2000, replace=False))]
    sets = {
        "bfcl_dev_b": (r_bfcl, [q for q in bfcl_q if not q.test and not fold_a(q)]),
        "bfcl_dev_multi": (r_bfcl, [q for q in bfcl_q if not q.test and len(q.gold) >= 2]),
        "metatool_dev_b": (r_mt, mt_devb),
        "metatool_dev_two_tool": (r_mt, [q for q in mt_multi if not q.test]),
    }
    fw = FusionWeights()
    base = {
        name: signals(r.index, qs, query_vectors(embedder, r.index, qs))
        for name, (r, qs) in sets.items()
    }
    rerank = RerankedOrders()
    results: dict = {"retrieval": {}}
    table = Table(title="dev split (R@5 / all-gold@5; >=2-tool all-gold@5)")
    table.add_column("method")
    for name in sets:
        table.add_column(name)
    label = "merge, library splitter, max 12 clauses"
    row = {
        name: metrics([r.index.fuse(s, fw).order for s in base[name]], qs, r.index.position)
        for name, (r, qs) in sets.items()
    }
    results["retrieval"][label] = row
    table.add_row(label, *_dev_cells(row))
    rer = rerank_two_fold(args, cache, embedder, fw, rerank)
    fold_w = rer.pop("fold_weights")
    results["rerank_two_fold"] = rer
    row = {}
    for name, (r, qs) in sets.items():
        ix = r.index
        # a query of fold f is scored by the weights fitted on the other fold (h = f)
        orders = [
            rerank.order(ix, s, fw, fold_w[dev_fold(q.key)])
            for s, q in zip(base[name], qs, strict=True)
        ]
        row[name] = metrics(orders, qs, ix.position)
    label = "learned reranker (logistic, weights fitted on the other dev fold)"
    results["retrieval"][label] = row
    table.add_row(label, *_dev_cells(row))
    console.print(table)
    console.print({"reranker two-fold (all dev, held out)": rer["held_out"]})
    console.print({"fused merge on the same queries": rer["fused_merge"]})
    target = write_json(args.results / "tools_reranker_dev.json", results)
    console.print(f"wrote {target}")
