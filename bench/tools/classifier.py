"""``python -m bench tools default-classifier``: the shipped default abstention classifier.

The default needs no fit by the user, so it must be portable across catalogs (issue 6
follow-up): a dev subset search over :data:`PORTABLE_POOL`, the refit of the chosen features,
and the previous default beside the shipped one on dev and (unless ``--dev-only``) test ->
``bench/results/tools_bench_default_classifier[_dev].json``. The helpers are shared with the
headline run (``python -m bench tools run``), which reports the same three classifiers.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import itertools
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.common import REPO, percentile, write_json
from bench.tools.data import (
    CachedEmbeddings,
    Query,
    load_bfcl,
    load_metatool,
    make_retriever,
    rank_all,
)
from langchain_tokenopt.tools import QueryClassifier, ToolRetriever
from langchain_tokenopt.tools.classifier import FEATURES, ClassifierWeights
from langchain_tokenopt.tools.index import RankResult
from langchain_tokenopt.tools.logistic import fit_logistic

#: The default shipped before the portability work (features ``dense`` and ``gap`` only; its
#: 11 coefficients padded for the two newer features with weight 0, mean 0, scale 1).
PREVIOUS_DEFAULT = (
    ClassifierWeights(
        coef=(1.0631, 0.0, 0.0, 0.0278, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        intercept=0.9393,
        mean=(0.4961, 2.3157, 0.6550, 0.0583, 0.0, 0.0, 2.7662, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        scale=(0.1428, 0.7815, 0.1395, 0.0727, 1.0, 1.0, 0.8105, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    ),
    0.4294,
)
#: Features of the shipped default, chosen by ``tools default-classifier`` (rule in its docstring).
PORTABLE_FEATURES = ("words", "margin10", "coverage", "bm25_z")
#: Share of tool-needing dev queries the default must keep, on each dev set.
PORTABLE_MIN_TPR = 0.95
#: Candidate pool of the subset search: library features and bench-only statistics.
PORTABLE_POOL = (
    "words",
    "spread",
    "fused_gap",
    "gap",
    "bm25_share_top10",
    "dense_minus_median",
    "dense_z",
    "margin10",
    "margin5",
    "coverage",
    "unknown",
    "bm25_z",
    "fused_z",
    "dense",
    "fused",
    "bm25",
    "dense_mean",
)


def make_classifier(
    retriever: ToolRetriever, weights: ClassifierWeights | None, threshold: float | None
) -> QueryClassifier:
    """A classifier with ``weights`` and ``threshold``; ``(None, None)``: the library default."""
    if weights is None or threshold is None:
        return QueryClassifier(retriever=retriever)
    return QueryClassifier(retriever=retriever, weights=weights, threshold=threshold)


def candidate_stats(result: RankResult) -> dict[str, float]:
    """Bench-only abstention candidates: statistics of the query's own score distribution."""
    dense = np.sort(result.dense.astype(np.float64))[::-1]
    bm25 = np.sort(result.bm25.astype(np.float64))[::-1]
    fused = np.sort(result.fused.astype(np.float64))[::-1]
    return {
        "spread": float(dense.std()),
        "fused_gap": float(fused[0] - fused[1]),
        "bm25_share_top10": float(bm25[0] / (bm25[:10].sum() + 1e-9)),
        "dense_minus_median": float(dense[0] - np.median(dense)),
        "dense_z": float((dense[0] - dense.mean()) / (dense.std() + 1e-9)),
        "margin5": float(dense[0] - dense[1:5].mean()),
        "fused_z": float((fused[0] - fused.mean()) / (fused.std() + 1e-9)),
        "dense_mean": float(dense.mean()),
    }


def pool_matrix(retriever: ToolRetriever, queries: list[Query]) -> tuple[np.ndarray, np.ndarray]:
    """:data:`PORTABLE_POOL` features of each query, and whether it names a tool."""
    clf = QueryClassifier(retriever=retriever)
    rows, forced = [], []
    for q, res in zip(queries, rank_all(retriever, [q.text for q in queries]), strict=True):
        feats = {
            **dict(zip(FEATURES, clf.features(q.text, res), strict=True)),
            **candidate_stats(res),
        }
        rows.append([feats[f] for f in PORTABLE_POOL])
        forced.append(bool(res.forced))
    return np.asarray(rows), np.asarray(forced)


def recall_threshold(probs: list[np.ndarray], min_tpr: float) -> float:
    """Highest threshold keeping ``min_tpr`` of every set (midway between probability levels)."""
    out = 1.0
    for p in probs:
        desc = np.sort(p)[::-1]
        k = math.ceil(min_tpr * len(desc))
        below = desc[k] if k < len(desc) else 0.0
        out = min(out, float(desc[k - 1] + below) / 2)
    return out


#: Repeated two-fold splits of the subset search (salts of the split hash).
SEARCH_SPLITS = 5


def _half(q: Query, salt: int) -> int:
    return int(hashlib.sha1(f"{salt}:{q.key}".encode()).hexdigest(), 16) % 2


def portable_search(
    mats: dict, halves: list[dict], veto: dict, min_tpr: float, max_size: int = 4
) -> list[dict]:
    """Every subset of :data:`PORTABLE_POOL` up to ``max_size`` features, fitted on BFCL dev.

    ``mats[name] = (features, forced)`` for ``bfcl_pos``, ``bfcl_neg`` and the tool-needing
    MetaTool sets. Per subset: logistic weights on BFCL dev (pos vs neg); threshold = the
    highest one keeping ``min_tpr`` of every tool-needing set; BFCL balanced accuracy in
    sample and two-fold held out (fit and threshold on one half of every set, scored on the
    other half), averaged over the splits in ``halves``; and, for the in-sample fit, the
    share of ``veto["tool"]`` queries kept and of ``veto["chat"]`` lines abstained on (the
    made-up long-schema catalog of the unit tests).
    """
    positives = [n for n in mats if n != "bfcl_neg"]

    def run(cols: list[int], fit_h: int | None, split: int = 0) -> tuple[float, dict]:
        def part(name: str, h: int | None, sub: bool = True) -> tuple[np.ndarray, np.ndarray]:
            x, forced = mats[name]
            keep = np.ones(len(x), bool) if h is None else halves[split][name] == h
            return (x[keep][:, cols] if sub else x[keep]), forced[keep]

        xp, _ = part("bfcl_pos", fit_h)
        xn, _ = part("bfcl_neg", fit_h)
        x = np.vstack([xp, xn])
        mean, scale = x.mean(0), x.std(0)
        scale[scale < 1e-6] = 1.0
        w, b = fit_logistic((x - mean) / scale, np.r_[np.ones(len(xp)), np.zeros(len(xn))])

        def prob(xs: np.ndarray, forced: np.ndarray) -> np.ndarray:
            p = 1 / (1 + np.exp(-(((xs[:, cols] - mean) / scale) @ w + b)))
            return np.where(forced, np.maximum(p, 0.99), p)

        t = recall_threshold([prob(*part(n, fit_h, False)) for n in positives], min_tpr)
        score_h = None if fit_h is None else 1 - fit_h
        rates = {n: float((prob(*part(n, score_h, False)) >= t).mean()) for n in mats}
        tnr = 1 - rates.pop("bfcl_neg")
        if fit_h is None:
            rates["long_catalog_tool_kept"] = float((prob(*veto["tool"]) >= t).mean())
            rates["long_catalog_chat_abstained"] = float((prob(*veto["chat"]) < t).mean())
        return 0.5 * (rates["bfcl_pos"] + tnr), {**rates, "tnr_bfcl": tnr}

    rows = []
    for size in range(1, max_size + 1):
        for subset in itertools.combinations(range(len(PORTABLE_POOL)), size):
            ba, rates = run(list(subset), None)
            held = float(
                np.mean([run(list(subset), h, i)[0] for i in range(len(halves)) for h in (0, 1)])
            )
            rows.append(
                {
                    "features": [PORTABLE_POOL[i] for i in subset],
                    "dev_two_fold_balanced_accuracy": round(held, 4),
                    "dev_balanced_accuracy": round(ba, 4),
                    **{k: round(v, 4) for k, v in rates.items()},
                }
            )
    rows.sort(key=lambda r: -r["dev_two_fold_balanced_accuracy"])
    return rows


def choose_subset(rows: list[dict], tie: float = 0.002) -> dict:
    """First subset (two-fold order) passing the veto; fewer features win within ``tie``."""
    passing = [
        r
        for r in rows
        if r["long_catalog_tool_kept"] == 1.0 and r["long_catalog_chat_abstained"] == 1.0
    ]
    top = passing[0]["dev_two_fold_balanced_accuracy"]
    near = [r for r in passing if r["dev_two_fold_balanced_accuracy"] >= top - tie]
    return min(near, key=lambda r: len(r["features"]))


def long_catalog() -> Any:
    """The made-up long-schema catalog module of the unit tests (loaded by path)."""
    path = REPO / "tests" / "unit_tests" / "tools" / "long_catalog.py"
    spec = importlib.util.spec_from_file_location("long_catalog", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fit_portable(
    r_bfcl: ToolRetriever, r_mt: ToolRetriever, dev: dict[str, list[Query]]
) -> tuple[ClassifierWeights, float]:
    """The shipped default's recipe: weights on BFCL dev, then the 3-set recall threshold."""
    clf = QueryClassifier(retriever=r_bfcl)
    texts = [q.text for q in dev["bfcl_pos"] + dev["bfcl_neg"]]
    clf.fit(
        texts, [bool(q.gold) for q in dev["bfcl_pos"] + dev["bfcl_neg"]], features=PORTABLE_FEATURES
    )
    probs = [clf.probabilities([q.text for q in dev["bfcl_pos"]])]
    mt = QueryClassifier(retriever=r_mt, weights=clf.weights)
    probs += [mt.probabilities([q.text for q in dev[n]]) for n in ("mt_single", "mt_two_tool")]
    return clf.weights, recall_threshold(probs, PORTABLE_MIN_TPR)


def default_rows(
    r_bfcl: ToolRetriever,
    r_mt: ToolRetriever,
    sets: dict[str, list[Query]],
    classifiers: dict[str, tuple[ClassifierWeights | None, float | None]],
) -> dict:
    """BFCL balanced accuracy / TPR / TNR and MetaTool TPR (single, two-tool) per classifier.

    ``sets`` holds ``bfcl_pos``, ``bfcl_neg``, ``mt_single`` and ``mt_two_tool`` of one split;
    ``(None, None)`` is the library default.
    """
    out = {}
    for label, (weights, threshold) in classifiers.items():
        preds = {}
        for name, qs in sets.items():
            clf = make_classifier(r_bfcl if name.startswith("bfcl") else r_mt, weights, threshold)
            preds[name] = np.asarray(
                [d.needs_tool for d in clf.classify_batch([q.text for q in qs])]
            )
        tpr, tnr = float(preds["bfcl_pos"].mean()), float(1 - preds["bfcl_neg"].mean())
        out[label] = {
            "bfcl_balanced_accuracy": round(0.5 * (tpr + tnr), 4),
            "bfcl_tpr": round(tpr, 4),
            "bfcl_tnr": round(tnr, 4),
            "metatool_single_tpr": round(float(preds["mt_single"].mean()), 4),
            "metatool_two_tool_tpr": round(float(preds["mt_two_tool"].mean()), 4),
            "threshold": round(clf.threshold, 4),
            "n": {name: len(qs) for name, qs in sets.items()},
        }
    return out


def default_table(title: str, rows: dict) -> Table:
    table = Table(title=title)
    for col in (
        "classifier",
        "BFCL bal. acc",
        "BFCL TPR",
        "BFCL TNR",
        "MetaTool TPR single",
        "two-tool",
    ):
        table.add_column(col)
    for label, r in rows.items():
        table.add_row(
            label,
            *(
                str(r[k])
                for k in (
                    "bfcl_balanced_accuracy",
                    "bfcl_tpr",
                    "bfcl_tnr",
                    "metatool_single_tpr",
                    "metatool_two_tool_tpr",
                )
            ),
        )
    return table


def decide_timing(retriever: ToolRetriever, texts: list[str]) -> dict:
    """Microseconds per query of the default ``decide`` on ranked queries (no embedding call:
    it reads ``result.dense`` and ``result.query_vector``), and of the arithmetic of the two
    catalog-relative features alone (a replica of their two lines)."""
    clf = QueryClassifier(retriever=retriever)
    results = retriever.rank_batch(texts)
    pairs = [(q, r) for q, r in zip(texts, results, strict=True) if r is not None]
    decide, relative = [], []
    for q, r in pairs:
        t = time.perf_counter()
        clf.decide(q, r)
        decide.append((time.perf_counter() - t) * 1e6)
        t = time.perf_counter()
        dense = np.sort(r.dense)[::-1]
        _ = float(dense[0] - dense[1:10].mean())
        bm25 = r.bm25.astype(np.float64)
        sd = bm25.std()
        _ = float((bm25.max() - bm25.mean()) / sd) if sd > 0 else 0.0
        relative.append((time.perf_counter() - t) * 1e6)
    return {
        "queries": len(pairs),
        "decide_p50_us": round(percentile(decide, 50), 1),
        "decide_p95_us": round(percentile(decide, 95), 1),
        "margin10_bm25_z_replica_p50_us": round(percentile(relative, 50), 1),
    }


def portable_sets(
    bfcl_q: list[Query], bfcl_neg: list[Query], mt_single: list[Query], mt_multi: list[Query]
) -> tuple[dict[str, list[Query]], dict[str, list[Query]]]:
    """Dev and test sets of the default classifier (MetaTool dev single-tool: 3,000 sampled)."""
    mt_dev = [q for q in mt_single if not q.test]
    pick = np.random.default_rng(0).choice(len(mt_dev), min(3000, len(mt_dev)), replace=False)
    dev = {
        "bfcl_pos": [q for q in bfcl_q if not q.test],
        "bfcl_neg": [q for q in bfcl_neg if not q.test],
        "mt_single": [mt_dev[i] for i in sorted(pick)],
        "mt_two_tool": [q for q in mt_multi if not q.test],
    }
    test = {
        "bfcl_pos": [q for q in bfcl_q if q.test],
        "bfcl_neg": [q for q in bfcl_neg if q.test],
        "mt_single": [q for q in mt_single if q.test],
        "mt_two_tool": [q for q in mt_multi if q.test],
    }
    return dev, test


def default_classifier(args: argparse.Namespace) -> None:
    """The shipped default classifier: dev subset search, refit, old vs new on dev and test.

    Rule, fixed before any test number: among feature subsets (up to 4 of
    :data:`PORTABLE_POOL`), weights fitted on BFCL dev (all answerable vs all irrelevance
    questions, the pooled catalog, no example queries), threshold = the highest one that keeps
    >= 95 % of the tool-needing queries of BFCL dev AND MetaTool dev single-tool (3,000 sampled)
    AND MetaTool dev two-tool (MetaTool catalog, no examples); pick the subset with the best
    two-fold held-out BFCL dev balanced accuracy; ship it only if its BFCL dev balanced accuracy
    is not below the previous default's. Then test is read once.
    """
    console = Console()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="tools_bench_"))
    embedder = CachedEmbeddings(cache / "vectors")
    bfcl_cat, bfcl_q, bfcl_neg = load_bfcl(args.data)
    mt_cat, mt_single, mt_multi = load_metatool(args.data)
    r_bfcl = make_retriever(bfcl_cat, None, cache / "s", embeddings=embedder)
    r_mt = make_retriever(mt_cat, None, cache / "s", embeddings=embedder)
    dev, test = portable_sets(bfcl_q, bfcl_neg, mt_single, mt_multi)
    t = time.perf_counter()
    mats = {n: pool_matrix(r_bfcl if n.startswith("bfcl") else r_mt, qs) for n, qs in dev.items()}
    halves = [
        {n: np.asarray([_half(q, salt) for q in qs]) for n, qs in dev.items()}
        for salt in range(SEARCH_SPLITS)
    ]
    lc = long_catalog()
    r_long = make_retriever(lc.LONG_TOOLS, None, cache / "s", embeddings=embedder)
    as_queries = lambda texts: [Query(x, x, (), False, "long") for x in texts]  # noqa: E731
    veto = {
        "tool": pool_matrix(r_long, as_queries(lc.TOOL_QUERIES)),
        "chat": pool_matrix(r_long, as_queries(lc.CHITCHAT)),
    }
    search = portable_search(mats, halves, veto, PORTABLE_MIN_TPR)
    console.print(f"subset search over {len(search)} subsets in {time.perf_counter() - t:.0f}s")
    console.print({"top 12 by dev two-fold balanced accuracy": search[:12]})
    chosen = choose_subset(search)
    console.print({"chosen by the rule": chosen, "shipped": PORTABLE_FEATURES})
    weights, threshold = fit_portable(r_bfcl, r_mt, dev)
    console.print({"refit weights": weights.__dict__, "threshold": round(threshold, 6)})
    timing = decide_timing(r_bfcl, [q.text for q in test["bfcl_pos"]][:400])
    console.print({"classifier cost per query (1,287 tools, ranked once)": timing})
    classifiers = {
        "previous_default": PREVIOUS_DEFAULT,
        "refit_portable": (weights, threshold),
        "shipped_default": (None, None),
    }
    dev_rows = default_rows(r_bfcl, r_mt, dev, classifiers)
    console.print(default_table("default classifier, DEV split", dev_rows))
    test_rows = {} if args.dev_only else default_rows(r_bfcl, r_mt, test, classifiers)
    if test_rows:
        console.print(default_table("default classifier, TEST split", test_rows))
    results = {
        "rule": default_classifier.__doc__,
        "chosen_by_the_rule": chosen,
        "shipped_features": PORTABLE_FEATURES,
        "search_top": search[:30],
        "search_size": len(search),
        "refit": {"weights": weights.__dict__, "threshold": threshold},
        "timing_us": timing,
        "dev": dev_rows,
        "test": test_rows,
    }
    suffix = "_dev" if args.dev_only else ""
    target = write_json(args.results / f"tools_bench_default_classifier{suffix}.json", results)
    console.print(f"wrote {target}")
