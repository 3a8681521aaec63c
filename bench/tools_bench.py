"""Tool-selection benchmark: recall@k, all-gold@5, abstention, schema tokens, latency.

Run from the repo root (pin one core for latency, as the numbers in the report were taken):

    taskset -c 1 python bench/tools_bench.py            # full run
    taskset -c 1 python bench/tools_bench.py --quick    # small run

Data: ``../shared/datasets/tools`` (``--data DIR``). Calibration (fusion weights, clause
weight, classifier weights and threshold) uses the **dev** split only; every headline number
is on the **test** split (``sha1(key) % 5 == 0``; key = BFCL ``id`` / MetaTool ``Query``).

Catalogs:
* BFCL: the ``function`` lists of all 8 answered files pooled; **dedupe rule: one definition
  per name, the first one met in file order** (simple_python, multiple, parallel,
  parallel_multiple, live_simple, live_multiple, live_parallel, live_parallel_multiple), then
  line order. Indexed fields: name, description, parameter names and descriptions.
* MetaTool: the 199 tools of ``plugin_des.json`` (name + description; no parameters exist).

Methods side by side (same run, same split): plain BM25 (bm25s over the same text), plain
dense (MiniLM cosine), reciprocal-rank fusion of the two, ours (score fusion + names +
multi-intent clauses), and ours with example queries (the dev split's queries attached to
their gold tools, Tool2Vec-style).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from langchain_tokenopt.embeddings import LocalEmbeddings  # noqa: E402
from langchain_tokenopt.tokens import TokenCounter  # noqa: E402
from langchain_tokenopt.tools import QueryClassifier, ToolRetriever  # noqa: E402
from langchain_tokenopt.tools.classifier import balanced_accuracy  # noqa: E402
from langchain_tokenopt.tools.index import (  # noqa: E402
    ToolIndex,
    interleave_orders,
    place_forced,
    split_intents,
)
from langchain_tokenopt.tools.store import EmbeddingStore  # noqa: E402


class CachedEmbeddings(LocalEmbeddings):
    """The packaged MiniLM with every vector persisted (so re-runs skip embedding).

    ``bypass = True`` turns the cache off (used while timing queries).
    """

    def __init__(self, store_dir: Path) -> None:
        super().__init__(batch_size=64, num_threads=1)
        self.store = EmbeddingStore(store_dir, embedder_id="bench-minilm-v1")
        self.bypass = False

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.bypass or not texts:
            return super().encode(texts)
        return self.store.embed(texts, super().encode)


BFCL_FILES = [
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
]
IRRELEVANCE_FILES = ["irrelevance", "live_irrelevance"]
KS = (1, 3, 5, 10)


def is_test(key: str) -> bool:
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % 5 == 0


def dev_fold(key: str) -> int:
    return (int(hashlib.sha1(key.encode()).hexdigest(), 16) // 5) % 2


@dataclass
class Query:
    key: str
    text: str
    gold: tuple[str, ...]
    test: bool
    group: str
    extra: dict = field(default_factory=dict)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _question_text(entry: dict) -> str:
    turns = entry["question"]
    msgs = [m for turn in turns for m in turn if m.get("role") == "user"]
    return "\n".join(str(m.get("content", "")) for m in msgs).strip()


def load_bfcl(data: Path) -> tuple[list[dict], list[Query], list[Query]]:
    catalog: dict[str, dict] = {}
    questions: list[Query] = []
    for name in BFCL_FILES:
        entries = _jsonl(data / "bfcl" / f"BFCL_v4_{name}.json")
        answers = {
            a["id"]: a for a in _jsonl(data / "bfcl" / "possible_answer" / f"BFCL_v4_{name}.json")
        }
        for e in entries:
            for fn in e["function"]:
                catalog.setdefault(fn["name"], fn)
            gold = tuple(dict.fromkeys(next(iter(g)) for g in answers[e["id"]]["ground_truth"]))
            group = "live" if name.startswith("live") else "non_live"
            questions.append(Query(e["id"], _question_text(e), gold, is_test(e["id"]), group))
    negatives = []
    for name in IRRELEVANCE_FILES:
        for e in _jsonl(data / "bfcl" / f"BFCL_v4_{name}.json"):
            text = _question_text(e)
            if text:
                negatives.append(Query(e["id"], text, (), is_test(e["id"]), name))
    return list(catalog.values()), questions, negatives


def load_metatool(data: Path) -> tuple[list[dict], list[Query], list[Query]]:
    des = json.loads((data / "metatool" / "plugin_des.json").read_text("utf-8"))
    catalog = [
        {"name": k, "description": v, "parameters": {"type": "object", "properties": {}}}
        for k, v in des.items()
    ]
    single = []
    with open(data / "metatool" / "all_clean_data.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            single.append(
                Query(row["Query"], row["Query"], (row["Tool"],), is_test(row["Query"]), "single")
            )
    multi = []
    for item in json.loads((data / "metatool" / "multi_tool_query_golden.json").read_text("utf-8")):
        multi.append(
            Query(
                item["query"], item["query"], tuple(item["tool"]), is_test(item["query"]), "multi"
            )
        )
    return catalog, single, multi


# ---------------------------------------------------------------------------------------
# Precomputed components so that weight sweeps are cheap


@dataclass
class Components:
    dense: list[np.ndarray]  # per query: (texts, n)
    lexical: list[np.ndarray]  # per query: (texts, n) normalized BM25
    bm25: list[np.ndarray]  # per query: raw whole-query BM25 (n,)
    forced: list[tuple[list[int], list[int]]]  # (strong, weak) name mentions


def query_vectors(embedder: LocalEmbeddings, queries: list[Query]) -> list[np.ndarray]:
    texts_per = [[q.text, *split_intents(q.text)] for q in queries]
    flat = [t for ts in texts_per for t in ts]
    vecs = embedder.encode(flat) if flat else np.zeros((0, 384), np.float32)
    out, pos = [], 0
    for ts in texts_per:
        out.append(vecs[pos : pos + len(ts)])
        pos += len(ts)
    return out


def components(index: ToolIndex, queries: list[Query], vecs: list[np.ndarray]) -> Components:
    dense, lexical, bm25, forced = [], [], [], []
    for q, v in zip(queries, vecs, strict=True):
        texts = [q.text, *split_intents(q.text)]
        d = index.dense_scores(v)
        lex = []
        for i, t in enumerate(texts):
            raw = index.bm25_scores(t)
            if i == 0:
                bm25.append(raw)
            top = float(raw.max())
            lex.append(raw / top if top > 0 else raw)
        dense.append(d)
        lexical.append(np.vstack(lex))
        mentions = index.matcher.find_with_strength(q.text)
        forced.append(
            (
                [index.position[n] for n, strong in mentions if strong],
                [index.position[n] for n, strong in mentions if not strong],
            )
        )
    return Components(dense, lexical, bm25, forced)


def rank_fused(c: Components, i: int, w: float, cw: float, names: bool = True) -> np.ndarray:
    """Mirror of ToolIndex.rank; ``cw < 0`` interleaves the whole query's and clauses' orders."""
    scores = w * c.dense[i] + (1 - w) * c.lexical[i]
    fused = scores[0]
    if cw < 0 and scores.shape[0] > 1:
        order = interleave_orders([np.argsort(-row, kind="stable") for row in scores])
    else:
        if cw > 0 and scores.shape[0] > 1:
            fused = np.maximum(fused, cw * scores[1:].max(axis=0))
        order = np.argsort(-fused, kind="stable")
    if names:
        strong, weak = c.forced[i]
        order = place_forced(order, strong=strong, weak=weak)
    return order


def rank_bm25(c: Components, i: int) -> np.ndarray:
    return np.argsort(-c.bm25[i], kind="stable")


def rank_dense(c: Components, i: int) -> np.ndarray:
    return np.argsort(-c.dense[i][0], kind="stable")


def rank_rrf(c: Components, i: int, k0: int = 60) -> np.ndarray:
    n = c.bm25[i].shape[0]
    score = np.zeros(n)
    for order in (rank_bm25(c, i), rank_dense(c, i)):
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


EMBEDDER: list[LocalEmbeddings] = []


def make_retriever(catalog: list[dict], examples: dict | None, cache: Path, **kw) -> ToolRetriever:
    kw.setdefault("embeddings", EMBEDDER[0])
    return ToolRetriever(tools=catalog, examples=examples, cache_dir=cache, **kw)


def examples_from(queries: list[Query], keep) -> dict[str, list[str]]:
    ex: dict[str, list[str]] = defaultdict(list)
    for q in queries:
        if not q.test and keep(q) and len(q.gold) == 1:
            ex[q.gold[0]].append(q.text)
    return dict(ex)


def calibrate(
    sets: list[tuple[Components, list[Query], dict[str, int]]],
) -> tuple[float, float, dict]:
    grid = {}
    best = (0.6, 0.9)
    best_score = -1.0
    for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        for cw in (0.0, 0.8, 0.9, 1.0, -1.0):
            vals = []
            for c, qs, pos in sets:
                orders = [rank_fused(c, i, w, cw) for i in range(len(qs))]
                m = metrics(orders, qs, pos)
                vals.append(m["recall@5"])
                vals.append(m["all_gold@5"])
            score = float(np.mean(vals))
            grid[f"w={w},cw={cw}"] = round(score, 4)
            if score > best_score:
                best_score, best = score, (w, cw)
    return best[0], best[1], grid


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "tools")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tools_bench.json")
    ap.add_argument("--cache", type=Path, default=None, help="tool-vector store (default: temp)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t0 = time.perf_counter()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="tools_bench_"))
    embedder = CachedEmbeddings(cache / "vectors")
    rng = np.random.default_rng(0)
    EMBEDDER.append(embedder)

    bfcl_cat, bfcl_q, bfcl_neg = load_bfcl(args.data)
    mt_cat, mt_single, mt_multi = load_metatool(args.data)
    if args.quick:
        bfcl_q = [q for q in bfcl_q if rng.random() < 0.3]
        bfcl_neg = [q for q in bfcl_neg if rng.random() < 0.3]
        mt_single = [q for q in mt_single if rng.random() < 0.08]
        mt_multi = [q for q in mt_multi if rng.random() < 0.5]
    console.print(
        f"BFCL catalog {len(bfcl_cat)} tools, {len(bfcl_q)} questions "
        f"({sum(q.test for q in bfcl_q)} test), {len(bfcl_neg)} irrelevance; MetaTool "
        f"{len(mt_cat)} tools, {len(mt_single)} single ({sum(q.test for q in mt_single)} test), "
        f"{len(mt_multi)} two-tool ({sum(q.test for q in mt_multi)} test)"
    )

    # ----------------------------------------------------------- index build time
    t = time.perf_counter()
    cold_dir = Path(tempfile.mkdtemp(prefix="tools_index_cold_"))
    make_retriever(bfcl_cat, None, cold_dir, embeddings=LocalEmbeddings(num_threads=1))
    index_cold_s = time.perf_counter() - t
    t = time.perf_counter()
    make_retriever(bfcl_cat, None, cold_dir, embeddings=LocalEmbeddings(num_threads=1))
    index_warm_s = time.perf_counter() - t
    r_cold = make_retriever(bfcl_cat, None, cache / "s")
    console.print(
        f"index {len(bfcl_cat)} tools: cold {index_cold_s:.2f}s, warm {index_warm_s:.2f}s"
    )

    # ----------------------------------------------------------- examples (dev only)
    bfcl_ex_all = examples_from(bfcl_q, lambda q: True)
    bfcl_ex_a = examples_from(bfcl_q, lambda q: dev_fold(q.key) == 0)
    mt_ex_all = examples_from(mt_single, lambda q: True)
    mt_ex_a = examples_from(mt_single, lambda q: dev_fold(q.key) == 0)

    def dev_b(qs: list[Query], cap: int | None = None) -> list[Query]:
        out = [q for q in qs if not q.test and dev_fold(q.key) == 1]
        if cap and len(out) > cap:
            idx = rng.choice(len(out), cap, replace=False)
            out = [out[i] for i in sorted(idx)]
        return out

    # ----------------------------------------------------------- query vectors
    t = time.perf_counter()
    bfcl_test = [q for q in bfcl_q if q.test]
    mt_test = [q for q in mt_single if q.test]
    multi_test = [q for q in mt_multi if q.test]
    bfcl_devb = dev_b(bfcl_q)
    mt_devb = dev_b(mt_single, cap=600 if args.quick else 3000)
    multi_dev = [q for q in mt_multi if not q.test]
    sets = {
        "bfcl_test": bfcl_test,
        "mt_test": mt_test,
        "multi_test": multi_test,
        "bfcl_devb": bfcl_devb,
        "mt_devb": mt_devb,
        "multi_dev": multi_dev,
    }
    vecs = {name: query_vectors(embedder, qs) for name, qs in sets.items()}
    console.print(f"query vectors in {time.perf_counter() - t:.1f}s")

    # ----------------------------------------------------------- retrievers
    t = time.perf_counter()
    r_bfcl = r_cold
    r_bfcl_a = make_retriever(bfcl_cat, bfcl_ex_a, cache / "s")
    r_bfcl_ex = make_retriever(bfcl_cat, bfcl_ex_all, cache / "s")
    r_mt = make_retriever(mt_cat, None, cache / "s")
    r_mt_a = make_retriever(mt_cat, mt_ex_a, cache / "s")
    r_mt_ex = make_retriever(mt_cat, mt_ex_all, cache / "s")
    r_bfcl_noparam = make_retriever(bfcl_cat, None, cache / "s", index_parameters=False)
    console.print(f"retrievers built in {time.perf_counter() - t:.1f}s")
    bpos = r_bfcl.index.position
    mpos = r_mt.index.position

    # ----------------------------------------------------------- calibration on dev
    def comp(r: ToolRetriever, name: str) -> Components:
        return components(r.index, sets[name], vecs[name])

    cal_plain = [
        (comp(r_bfcl, "bfcl_devb"), bfcl_devb, bpos),
        (comp(r_mt, "mt_devb"), mt_devb, mpos),
        (comp(r_mt, "multi_dev"), multi_dev, mpos),
    ]
    w_plain, cw_plain, grid_plain = calibrate(cal_plain)
    cal_ex = [
        (comp(r_bfcl_a, "bfcl_devb"), bfcl_devb, bpos),
        (comp(r_mt_a, "mt_devb"), mt_devb, mpos),
        (comp(r_mt_a, "multi_dev"), multi_dev, mpos),
    ]
    w_ex, cw_ex, grid_ex = calibrate(cal_ex)
    console.print(
        f"dev calibration: no examples w={w_plain} cw={cw_plain}; examples w={w_ex} cw={cw_ex}"
    )

    # ----------------------------------------------------------- test evaluation
    results: dict = {"retrieval": {}}
    evals = {
        "bfcl": (r_bfcl, r_bfcl_ex, "bfcl_test", bpos),
        "metatool_single": (r_mt, r_mt_ex, "mt_test", mpos),
        "metatool_two_tool": (r_mt, r_mt_ex, "multi_test", mpos),
    }
    for label, (rb, rx, name, pos) in evals.items():
        qs = sets[name]
        cb = comp(rb, name)
        cx = comp(rx, name)
        n = len(qs)
        methods = {
            "bm25": [rank_bm25(cb, i) for i in range(n)],
            "dense": [rank_dense(cb, i) for i in range(n)],
            "rrf_hybrid": [rank_rrf(cb, i) for i in range(n)],
            "fused(w=.5,no names/clauses)": [rank_fused(cb, i, 0.5, 0.0, False) for i in range(n)],
            "ours_no_examples": [rank_fused(cb, i, w_plain, cw_plain) for i in range(n)],
            "ours_no_clauses": [rank_fused(cx, i, w_ex, 0.0) for i in range(n)],
            "ours_no_names": [rank_fused(cx, i, w_ex, cw_ex, False) for i in range(n)],
            "ours_interleave": [rank_fused(cx, i, w_ex, -1.0) for i in range(n)],
            "ours_max_clause(cw=.9)": [rank_fused(cx, i, w_ex, 0.9) for i in range(n)],
            "ours": [rank_fused(cx, i, w_ex, cw_ex) for i in range(n)],
        }
        if label == "bfcl":
            cnp = comp(r_bfcl_noparam, name)
            methods["ours_no_examples_no_params"] = [
                rank_fused(cnp, i, w_plain, cw_plain) for i in range(n)
            ]
        res = {m: metrics(o, qs, pos) for m, o in methods.items()}
        if label == "bfcl":
            for grp in ("non_live", "live"):
                sub = [i for i, q in enumerate(qs) if q.group == grp]
                for m in ("bm25", "dense", "rrf_hybrid", "ours"):
                    res[f"{m}[{grp}]"] = metrics(
                        [methods[m][i] for i in sub], [qs[i] for i in sub], pos
                    )
        results["retrieval"][label] = res
        table = Table(title=f"{label} (test split, n={n})")
        for col in ("method", "R@1", "R@3", "R@5", "R@10", "all@5", "all@5 (>=2 gold)"):
            table.add_column(col)
        for m, r in res.items():
            table.add_row(
                m,
                *(str(r[f"recall@{k}"]) for k in KS),
                str(r["all_gold@5"]),
                f"{r['all_gold@5_multi']} (n={r['n_multi']})",
            )
        console.print(table)

    # ----------------------------------------------------------- abstention
    pos_dev = [q for q in bfcl_q if not q.test and dev_fold(q.key) == 1]
    neg_dev = [q for q in bfcl_neg if not q.test]
    neg_dev_a = [q for q in neg_dev if dev_fold(q.key) == 0]
    neg_dev_b = [q for q in neg_dev if dev_fold(q.key) == 1]
    pos_test = [q for q in bfcl_q if q.test]
    neg_test = [q for q in bfcl_neg if q.test]
    abst: dict = {}
    y_test = np.asarray([1] * len(pos_test) + [0] * len(neg_test), dtype=bool)
    test_q = [q.text for q in pos_test + neg_test]

    def evaluate(clf: QueryClassifier) -> dict:
        decisions = clf.classify_batch(test_q)
        pred = np.asarray([d.needs_tool for d in decisions])
        return {
            "balanced_accuracy": round(balanced_accuracy(pred, y_test), 4),
            "tpr_tool_needed": round(float(pred[y_test].mean()), 4),
            "tnr_abstain": round(float((~pred[~y_test]).mean()), 4),
            "threshold": round(clf.threshold, 4),
        }

    # single-feature baselines, thresholds on dev
    for feat in ("bm25", "dense"):
        fi = ["dense", "bm25", "fused", "gap", "negative", "words"].index(feat)
        clf = QueryClassifier(retriever=r_bfcl)
        dev_x = np.asarray(
            [
                clf.features(q, r)[fi]
                for q, r in zip(
                    [q.text for q in pos_dev + neg_dev],
                    r_bfcl.rank_batch([q.text for q in pos_dev + neg_dev]),
                    strict=True,
                )
            ]
        )
        dev_y = np.asarray([1] * len(pos_dev) + [0] * len(neg_dev), dtype=bool)
        best_t, best_a = 0.0, -1.0
        for tval in np.quantile(dev_x, np.linspace(0.01, 0.99, 197)):
            a = balanced_accuracy(dev_x >= tval, dev_y)
            if a > best_a:
                best_t, best_a = float(tval), a
        test_x = np.asarray(
            [clf.features(q, r)[fi] for q, r in zip(test_q, r_bfcl.rank_batch(test_q), strict=True)]
        )
        abst[f"{feat}_score_threshold"] = {
            "balanced_accuracy": round(balanced_accuracy(test_x >= best_t, y_test), 4),
            "threshold": round(best_t, 4),
        }
    clf_plain = QueryClassifier(retriever=r_bfcl)
    dev_acc = clf_plain.fit(
        [q.text for q in pos_dev + neg_dev], [True] * len(pos_dev) + [False] * len(neg_dev)
    )
    abst["classifier_no_examples"] = {
        **evaluate(clf_plain),
        "dev_balanced_accuracy": round(dev_acc, 4),
        "weights": clf_plain.weights.__dict__,
    }
    clf_ex = QueryClassifier(retriever=r_bfcl_a, negative_examples=[q.text for q in neg_dev_a])
    dev_acc = clf_ex.fit(
        [q.text for q in pos_dev + neg_dev_b], [True] * len(pos_dev) + [False] * len(neg_dev_b)
    )
    clf_ex_test = QueryClassifier(
        retriever=r_bfcl_ex,
        weights=clf_ex.weights,
        threshold=clf_ex.threshold,
        negative_examples=[q.text for q in neg_dev],
    )
    abst["classifier_examples_negatives"] = {
        **evaluate(clf_ex_test),
        "dev_balanced_accuracy": round(dev_acc, 4),
        "weights": clf_ex.weights.__dict__,
    }
    head = QueryClassifier(retriever=r_bfcl_a, negative_examples=[q.text for q in neg_dev_a])
    dev_acc = head.fit(
        [q.text for q in pos_dev + neg_dev_b],
        [True] * len(pos_dev) + [False] * len(neg_dev_b),
        use_embedding=True,
    )
    head_test = QueryClassifier(
        retriever=r_bfcl_ex,
        weights=head.weights,
        threshold=head.threshold,
        negative_examples=[q.text for q in neg_dev],
    )
    abst["classifier_embedding_head"] = {
        **evaluate(head_test),
        "dev_balanced_accuracy": round(dev_acc, 4),
    }
    all_pos_dev = [q.text for q in bfcl_q if not q.test]
    portable = QueryClassifier(retriever=r_bfcl)
    dev_acc = portable.fit(
        all_pos_dev + [q.text for q in neg_dev],
        [True] * len(all_pos_dev) + [False] * len(neg_dev),
        features=("dense", "gap"),
        min_recall=0.95,
    )
    abst["classifier_portable_dense_gap_recall95"] = {
        **evaluate(portable),
        "dev_balanced_accuracy": round(dev_acc, 4),
        "weights": portable.weights.__dict__,
    }
    default_clf = QueryClassifier(retriever=r_bfcl)
    abst["classifier_shipped_defaults"] = evaluate(default_clf)
    results["abstention"] = abst
    table = Table(
        title=f"abstention, BFCL test (answerable {len(pos_test)}, irrelevant {len(neg_test)})"
    )
    table.add_column("method")
    table.add_column("balanced acc")
    table.add_column("threshold (dev)")
    for m, r in abst.items():
        table.add_row(m, str(r["balanced_accuracy"]), str(r["threshold"]))
    console.print(table)

    # ----------------------------------------------------------- tokens
    counter = TokenCounter("gpt-4", encoding="cl100k_base")
    per_tool = {s.name: counter.count_tool(s.schema) for s in r_bfcl.specs}
    catalog_tokens = counter.count_tools([s.schema for s in r_bfcl.specs])
    cx = comp(r_bfcl_ex, "bfcl_test")
    bound = []
    for i in range(len(bfcl_test)):
        top = rank_fused(cx, i, w_ex, cw_ex)[:5]
        bound.append(
            sum(per_tool[r_bfcl.names[j]] for j in top) + (catalog_tokens - sum(per_tool.values()))
        )
    results["tokens"] = {
        "catalog_tokens_cl100k": catalog_tokens,
        "top5_bound_tokens_mean": round(float(np.mean(bound)), 1),
        "top5_share_of_catalog": round(float(np.mean(bound)) / catalog_tokens, 5),
    }
    console.print(results["tokens"])

    # ----------------------------------------------------------- latency (one thread)
    lat_q = [q.text for q in bfcl_test][: (100 if args.quick else 400)]
    r_lat = make_retriever(
        bfcl_cat,
        bfcl_ex_all,
        cache / "s",
        dense_weight=w_ex,
        clause_weight=cw_ex if cw_ex >= 0 else 0.9,
        interleave=cw_ex < 0,
    )
    r_lat.invoke("warm up", k=5)
    lat: dict = {}
    embedder.bypass = True
    for label, fn in {
        "ours_invoke": lambda q: r_lat.invoke(q, k=5),
        "bm25_only": lambda q: np.argsort(-r_lat.index.bm25_scores(q))[:5],
        "dense_only": lambda q: np.argsort(-(embedder.encode([q]) @ r_lat.index.doc_vectors.T)[0])[
            :5
        ],
    }.items():
        times = []
        for q in lat_q:
            r_lat._query_cache.clear()
            t = time.perf_counter()
            fn(q)
            times.append((time.perf_counter() - t) * 1000)
        lat[label] = {
            "p50_ms": round(percentile(times, 50), 2),
            "p95_ms": round(percentile(times, 95), 2),
        }
    results["latency_ms"] = lat
    console.print(lat)

    results["config"] = {
        "quick": args.quick,
        "calibrated": {
            "no_examples": {"dense_weight": w_plain, "clause_weight": cw_plain},
            "examples": {"dense_weight": w_ex, "clause_weight": cw_ex},
        },
        "calibration_grid": {"no_examples": grid_plain, "examples": grid_ex},
        "dedupe_rule": "BFCL: first definition per name in file order " + ",".join(BFCL_FILES),
        "indexed_fields": "name, description, parameter names+descriptions, dev example queries",
        "index_seconds": {
            "cold_1287_tools": round(index_cold_s, 2),
            "warm": round(index_warm_s, 2),
        },
        "torch_threads": torch.get_num_threads(),
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
        "machine": platform.platform(),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))
    console.print(f"wrote {args.out} in {results['config']['seconds']}s")


if __name__ == "__main__":
    main()
