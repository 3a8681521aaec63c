"""Abstention in BFCL's own setting: each question against the functions BFCL gave with it.

Run from the repo root, pinned to one core:

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c 0 \\
        .venv/bin/python -m bench tools abstention-own --cache /tmp/tb_cache

-> ``bench/results/tools_abstention_own.json``.

``python -m bench tools run`` scores abstention against a pooled catalog of 1,287 tools, where about
a third of BFCL's irrelevance questions have a tool that serves them
(``python -m bench tools label-audit``). BFCL itself defines irrelevance per question: *none of the
functions given with this question fits*. Here every question (answerable files and both
irrelevance files; the bench's hash split) gets a :class:`ToolRetriever` over its own function
list only (1 to ~40 tools; questions sharing a list share the index), and the classifier decides
"tool needed" from that ranking, as an agent with a small tool set would.

Methods (every weight and threshold on the dev split; the threshold maximizes dev balanced
accuracy; test read once): the best dense cosine and the best BM25 score alone; the library's
:class:`QueryClassifier` fitted with its default features (``FIT_FEATURES``) and with all 13;
and the shipped default classifier with no fit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from bench.common import read_jsonl, write_json
from bench.tools.data import (
    BFCL_FILES,
    IRRELEVANCE_FILES,
    CachedEmbeddings,
    is_test,
    make_retriever,
    question_text,
)
from langchain_tokenopt.tools import QueryClassifier
from langchain_tokenopt.tools.classifier import DEFAULT_THRESHOLD, FEATURES, FIT_FEATURES
from langchain_tokenopt.tools.logistic import balanced_accuracy, fit_logistic

console = Console(width=140)


@dataclass
class Item:
    key: str
    text: str
    needs_tool: bool
    group: str
    test: bool
    catalog: str  # hash of the function list


def load(data: Path) -> tuple[list[Item], dict[str, list[dict]]]:
    """Every BFCL question with the hash of its own function list, and the lists."""
    items: list[Item] = []
    catalogs: dict[str, list[dict]] = {}
    for name in [*BFCL_FILES, *IRRELEVANCE_FILES]:
        irrelevant = name in IRRELEVANCE_FILES
        for e in read_jsonl(data / "bfcl" / f"BFCL_v4_{name}.json"):
            text = question_text(e)
            functions = list({fn["name"]: fn for fn in e["function"]}.values())
            if not text or not functions:
                continue
            digest = hashlib.sha1(
                json.dumps(functions, sort_keys=True).encode("utf-8")
            ).hexdigest()[:16]
            catalogs.setdefault(digest, functions)
            group = name if irrelevant else ("live" if name.startswith("live") else "non_live")
            items.append(Item(e["id"], text, not irrelevant, group, is_test(e["id"]), digest))
    return items, catalogs


def feature_rows(
    items: list[Item], catalogs: dict[str, list[dict]], cache: Path, embedder: CachedEmbeddings
) -> tuple[np.ndarray, np.ndarray]:
    """Raw :data:`FEATURES` of every item ranked by its own catalog, and the default P(tool)."""
    by_catalog: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_catalog[item.catalog].append(i)
    x = np.zeros((len(items), len(FEATURES)))
    default_p = np.zeros(len(items))
    for digest, rows in tqdm(
        by_catalog.items(), desc="own catalogs", unit="catalog", mininterval=5
    ):
        retriever = make_retriever(catalogs[digest], None, cache / "own", embeddings=embedder)
        clf = QueryClassifier(retriever=retriever)
        texts = [items[i].text for i in rows]
        for i, text, result in zip(rows, texts, retriever.rank_batch(texts), strict=True):
            decision = clf.decide(text, result)  # the shipped default's decision and features
            x[i] = [decision.features[f] for f in FEATURES]
            default_p[i] = decision.probability
    return x, default_p


def best_threshold(scores: np.ndarray, y: np.ndarray) -> float:
    levels = np.unique(scores)
    candidates = (levels[:-1] + levels[1:]) / 2 if len(levels) > 1 else levels
    accs = [balanced_accuracy(scores >= t, y) for t in candidates]
    return float(candidates[int(np.argmax(accs))])


def fitted(
    x_dev: np.ndarray, y_dev: np.ndarray, cols: list[int]
) -> tuple[Callable[[np.ndarray], np.ndarray], dict[str, float]]:
    """Logistic regression on standardized dev features ``cols``: a scorer and its weights."""
    mean = x_dev.mean(axis=0)
    scale = x_dev.std(axis=0)
    scale[scale < 1e-6] = 1.0
    coef, intercept = fit_logistic(((x_dev - mean) / scale)[:, cols], y_dev.astype(np.float64))

    def score(x: np.ndarray) -> np.ndarray:
        z = ((x - mean) / scale)[:, cols]
        return np.asarray(1.0 / (1.0 + np.exp(-(z @ coef + intercept))))

    return score, {FEATURES[c]: round(float(w), 4) for c, w in zip(cols, coef, strict=True)}


def evaluate(pred: np.ndarray, items: list[Item]) -> dict[str, Any]:
    y = np.asarray([it.needs_tool for it in items])
    groups = np.asarray([it.group for it in items])
    out: dict[str, Any] = {"balanced_accuracy": round(balanced_accuracy(pred, y), 4)}
    out["tpr"] = round(float(pred[y].mean()), 4)
    out["tnr"] = round(float((~pred[~y]).mean()), 4)
    for g in ("non_live", "live", "irrelevance", "live_irrelevance"):
        sel = groups == g
        hit = pred[sel] if g in ("non_live", "live") else ~pred[sel]
        out[f"{'tpr' if g in ('non_live', 'live') else 'tnr'}_{g}"] = round(float(hit.mean()), 4)
    return out


def run(args: argparse.Namespace) -> None:
    """Abstention against each question's own functions (see the module docstring)."""
    t0 = time.perf_counter()
    embedder = CachedEmbeddings(args.cache / "vectors")
    items, catalogs = load(args.data)
    sizes = [len(c) for c in catalogs.values()]
    x, default_p = feature_rows(items, catalogs, args.cache, embedder)
    y = np.asarray([it.needs_tool for it in items])
    dev = np.asarray([not it.test for it in items])
    test = ~dev
    test_items = [it for it, t in zip(items, test, strict=True) if t]
    rows: dict[str, Any] = {}
    for name in ("dense", "bm25"):
        col = x[:, FEATURES.index(name)]
        t = best_threshold(col[dev], y[dev])
        rows[f"{name}_score_threshold"] = {
            **evaluate(col[test] >= t, test_items),
            "threshold": round(t, 4),
            "dev_balanced_accuracy": round(balanced_accuracy(col[dev] >= t, y[dev]), 4),
        }
    for label, feats in (("fitted_FIT_FEATURES", FIT_FEATURES), ("fitted_all_13", FEATURES)):
        score, weights = fitted(x[dev], y[dev], [FEATURES.index(f) for f in feats])
        t = best_threshold(score(x[dev]), y[dev])
        rows[label] = {
            **evaluate(score(x[test]) >= t, test_items),
            "threshold": round(t, 4),
            "dev_balanced_accuracy": round(balanced_accuracy(score(x[dev]) >= t, y[dev]), 4),
            "weights": weights,
        }
    rows["shipped_default_no_fit"] = {
        **evaluate(default_p[test] >= DEFAULT_THRESHOLD, test_items),
        "threshold": DEFAULT_THRESHOLD,
        "dev_balanced_accuracy": round(
            balanced_accuracy(default_p[dev] >= DEFAULT_THRESHOLD, y[dev]), 4
        ),
    }
    table = Table(
        title=(
            f"abstention against each question's own BFCL functions, TEST split "
            f"({int(y[test].sum())} answerable, {int((~y[test]).sum())} irrelevant)"
        )
    )
    for column in (
        "method",
        "balanced acc",
        "dev BA",
        "TPR",
        "TNR",
        "TPR non-live/live",
        "TNR irr/live",
    ):
        table.add_column(column)
    for name, r in rows.items():
        table.add_row(
            name,
            str(r["balanced_accuracy"]),
            str(r["dev_balanced_accuracy"]),
            str(r["tpr"]),
            str(r["tnr"]),
            f"{r['tpr_non_live']} / {r['tpr_live']}",
            f"{r['tnr_irrelevance']} / {r['tnr_live_irrelevance']}",
        )
    console.print(table)
    report = {
        "questions": {"dev": int(dev.sum()), "test": int(test.sum())},
        "catalogs": {
            "distinct": len(catalogs),
            "tools_median": float(np.median(sizes)),
            "tools_max": int(max(sizes)),
        },
        "methods": rows,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    target = write_json(args.results / "tools_abstention_own.json", report)
    console.print(report["catalogs"], f"wrote {target} in {report['seconds']} s")
