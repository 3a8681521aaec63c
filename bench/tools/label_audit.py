"""Label audit of the two unmet tool-selection targets (issue 6), on the dev split only.

Run from the repo root, pinned to one core:

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c 0 \\
        .venv/bin/python -m bench tools label-audit --cache /tmp/tb_cache

-> ``bench/results/tools_label_audit.json`` (about 10 s with a warm ``--cache``; a cold
one embeds the catalog first).

The bench pools the function lists of every BFCL file into one catalog of 1,287 tools. BFCL
wrote its labels against the few functions it gave with each question, so in the pooled
catalog two kinds of label can be wrong:

1. **Irrelevance questions that a pooled tool serves.** "What is the gold price today in
   USA?" is an irrelevance question in BFCL, and ``get_metal_price`` (from another BFCL file)
   answers it. Abstaining there is scored right; binding the tool is scored wrong.
2. **Multi-tool misses where a duplicate took the slot.** "Area under the curve ... and the
   derivative" has gold ``integral`` + ``derivative``; the top 5 holding
   ``calculate_area_under_curve`` instead of ``integral`` is scored a miss.

Annotations (``bench/audits/``, ids and tool names only, no question text):

* ``bfcl_irrelevance_dev_labels.json``: a random dev sample of 80 questions from each
  irrelevance file (sorted dev keys shuffled with ``random.Random(0)``; this script re-draws
  the sample and checks it), labelled *answerable* / *partial* / *irrelevant* by two
  annotators working blind to each other, under the rule stored in the file.
* ``bfcl_multi_dev_equivalents.json``: every dev fold-b question needing >= 2 tools that the
  headline configuration (fold-a dev questions + generated questions as example queries) misses,
  with, per missing gold tool, the top-5 tools each annotator judged functionally equivalent.

What it prints (nothing here is tuned; the test split is read only for its group sizes):

* per annotator: the share of irrelevance questions a pooled tool answers, agreement and
  Cohen's kappa; the consensus share (both said *answerable*) with a Wilson 95 % interval;
* the balanced accuracy a *truthful* classifier (binds a tool exactly when one answers) would
  score against BFCL's labels on the test split's mix of the two files: the ceiling of the
  metric as defined;
* the headline fitted classifier refitted without the audited questions, scored on them by
  consensus label;
* dev fold-b all-gold@5 on >= 2-tool questions, strict and counting a consensus equivalent.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.common import BENCH, write_json
from bench.tools.abstention import FITTED_FEATURES
from bench.tools.data import (
    CachedEmbeddings,
    Query,
    dev_fold,
    examples_from,
    gen_dir,
    generated_examples,
    load_bfcl,
    make_retriever,
    merge_examples,
)
from langchain_tokenopt.tools import QueryClassifier

AUDITS = BENCH / "audits"
LABELS = ("answerable", "partial", "irrelevant")
SAMPLE_PER_GROUP = 80
console = Console(width=150)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion k / n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(centre - half, 4), round(centre + half, 4))


def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Cohen's kappa of two annotators' labels over the same items."""
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in LABELS) / (n * n)
    return round((observed - expected) / (1 - expected), 4) if expected < 1 else 1.0


def draw_sample(negatives: list[Query]) -> dict[str, list[str]]:
    """The audited sample: per irrelevance file, sorted dev keys shuffled with seed 0."""
    out = {}
    for group in ("irrelevance", "live_irrelevance"):
        keys = sorted(q.key for q in negatives if not q.test and q.group == group)
        random.Random(0).shuffle(keys)
        out[group] = keys[:SAMPLE_PER_GROUP]
    return out


def irrelevance_audit(negatives: list[Query], audit: dict[str, Any]) -> dict[str, Any]:
    sample = draw_sample(negatives)
    annotators = list(audit["annotators"])
    labels: dict[str, dict[str, str]] = {
        name: {k: v["label"] for k, v in audit["labels"][name].items()} for name in annotators
    }
    keys = [k for g in sample.values() for k in g]
    for name in annotators:
        if sorted(labels[name]) != sorted(keys):
            msg = f"annotator {name!r} did not label exactly the drawn sample"
            raise SystemExit(msg)
        bad = {v for v in labels[name].values()} - set(LABELS)
        if bad:
            raise SystemExit(f"unknown labels {bad}")
    a, b = annotators[:2]
    consensus = {k: labels[a][k] if labels[a][k] == labels[b][k] else "disputed" for k in keys}
    test_sizes = Counter(q.group for q in negatives if q.test)
    weights = {g: test_sizes[g] / sum(test_sizes.values()) for g in sample}
    out: dict[str, Any] = {
        "sample_per_group": SAMPLE_PER_GROUP,
        "test_irrelevance_sizes": dict(test_sizes),
        "agreement": round(sum(labels[a][k] == labels[b][k] for k in keys) / len(keys), 4),
        "cohen_kappa": cohen_kappa([labels[a][k] for k in keys], [labels[b][k] for k in keys]),
        "groups": {},
    }
    shares: dict[str, dict[str, float]] = {}
    for group, gkeys in sample.items():
        row: dict[str, Any] = {}
        for name in [*annotators, "consensus"]:
            lab = consensus if name == "consensus" else labels[name]
            counts = Counter(lab[k] for k in gkeys)
            k_ans = counts["answerable"]
            row[name] = {
                "counts": dict(counts),
                "answerable_share": round(k_ans / len(gkeys), 4),
                "answerable_wilson95": wilson(k_ans, len(gkeys)),
                "answerable_or_partial_share": round((k_ans + counts["partial"]) / len(gkeys), 4),
            }
            shares.setdefault(name, {})[group] = k_ans / len(gkeys)
        out["groups"][group] = row
    # A truthful classifier binds a tool exactly when one answers: TPR 1 on the answerable
    # questions, and on BFCL's irrelevance labels a TNR of 1 - (answerable share).
    out["truthful_ceiling_balanced_accuracy"] = {
        name: round(0.5 * (1 + 1 - sum(weights[g] * s[g] for g in sample)), 4)
        for name, s in shares.items()
    }
    lo_hi = []
    for bound in (0, 1):
        tnr = 1 - sum(
            weights[g]
            * wilson(sum(consensus[k] == "answerable" for k in sample[g]), len(sample[g]))[bound]
            for g in sample
        )
        lo_hi.append(round(0.5 * (1 + tnr), 4))
    out["truthful_ceiling_consensus_wilson95"] = sorted(lo_hi)
    out["consensus"] = consensus
    return out


def classifier_on_audit(
    cache: Path,
    embedder: CachedEmbeddings,
    catalog: list[dict],
    questions: list[Query],
    negatives: list[Query],
    consensus: dict[str, str],
) -> dict[str, Any]:
    """The headline fitted classifier, refitted without the audited questions, on them."""
    audited = set(consensus)
    pos_dev = [q for q in questions if not q.test and dev_fold(q.key) == 1]
    neg_dev = [q for q in negatives if not q.test and q.key not in audited]
    neg_a = [q for q in neg_dev if dev_fold(q.key) == 0]
    neg_b = [q for q in neg_dev if dev_fold(q.key) == 1]
    retriever = make_retriever(
        catalog,
        examples_from(questions, lambda q: dev_fold(q.key) == 0),
        cache / "s",
        embeddings=embedder,
    )
    clf = QueryClassifier(retriever=retriever, negative_examples=[q.text for q in neg_a])
    dev_acc = clf.fit(
        [q.text for q in pos_dev + neg_b],
        [True] * len(pos_dev) + [False] * len(neg_b),
        features=FITTED_FEATURES,
    )
    by_key = {q.key: q for q in negatives}
    rows: dict[str, Any] = {"dev_fit_balanced_accuracy": round(dev_acc, 4)}
    for label in (*LABELS, "disputed"):
        keys = [k for k, v in consensus.items() if v == label]
        if not keys:
            continue
        decisions = clf.classify_batch([by_key[k].text for k in keys])
        binds = sum(d.needs_tool for d in decisions)
        rows[label] = {"n": len(keys), "binds_a_tool": binds, "share": round(binds / len(keys), 4)}
    tests = [q for q in questions if q.test]
    tpr = sum(d.needs_tool for d in clf.classify_batch([q.text for q in tests])) / len(tests)
    rows["test_tpr"] = round(tpr, 4)
    nominal_tnr = 1 - sum(
        rows[k]["binds_a_tool"] for k in rows if k in (*LABELS, "disputed")
    ) / len(consensus)
    irr = rows.get("irrelevant", {"share": 0.0})
    rows["balanced_accuracy_nominal_labels"] = round(0.5 * (tpr + nominal_tnr), 4)
    rows["balanced_accuracy_consensus_irrelevant_only"] = round(0.5 * (tpr + 1 - irr["share"]), 4)
    return rows


def multi_audit(
    cache: Path,
    embedder: CachedEmbeddings,
    catalog: list[dict],
    questions: list[Query],
    audit: dict[str, Any],
) -> dict[str, Any]:
    gen, _ = generated_examples(catalog, gen_dir(None) / "gen_bfcl.json")
    ex_a = examples_from(questions, lambda q: dev_fold(q.key) == 0)
    retriever = make_retriever(catalog, merge_examples(ex_a, gen), cache / "s", embeddings=embedder)
    dev = [q for q in questions if not q.test and dev_fold(q.key) == 1 and len(q.gold) >= 2]
    annotators = list(audit["annotators"])
    strict = covered = 0
    unannotated = []
    for q in dev:
        top = [d.metadata["name"] for d in retriever.invoke(q.text, k=5)]
        missing = [g for g in q.gold if g not in top]
        if not missing:
            strict += 1
            covered += 1
            continue
        notes = [audit["labels"][name].get(q.key) for name in annotators]
        if any(n is None for n in notes):
            unannotated.append(q.key)
            continue
        if all(set(notes[0].get(g, [])) & set(notes[1].get(g, [])) & set(top) for g in missing):
            covered += 1
    n = len(dev)
    return {
        "n_dev_fold_b_multi": n,
        "strict_all_gold_at_5": round(strict / n, 4),
        "strict_wilson95": wilson(strict, n),
        "with_consensus_equivalents": round(covered / n, 4),
        "with_consensus_equivalents_wilson95": wilson(covered, n),
        "misses": n - strict,
        "misses_a_duplicate_covers": covered - strict,
        "unannotated_misses": unannotated,
    }


def run(args: argparse.Namespace) -> None:
    """The label audit (see the module docstring)."""
    embedder = CachedEmbeddings(args.cache / "vectors")
    catalog, questions, negatives = load_bfcl(args.data)
    irr_file = json.loads((AUDITS / "bfcl_irrelevance_dev_labels.json").read_text("utf-8"))
    multi_file = json.loads((AUDITS / "bfcl_multi_dev_equivalents.json").read_text("utf-8"))

    irr = irrelevance_audit(negatives, irr_file)
    table = Table(title="BFCL dev irrelevance questions a pooled-catalog tool answers")
    for col in ("file", "annotator", "answerable", "95 % interval", "+ partial", "counts"):
        table.add_column(col)
    for group, row in irr["groups"].items():
        for name, r in row.items():
            table.add_row(
                group,
                name,
                str(r["answerable_share"]),
                str(r["answerable_wilson95"]),
                str(r["answerable_or_partial_share"]),
                str(r["counts"]),
            )
    console.print(table)
    console.print(
        {
            "agreement": irr["agreement"],
            "cohen_kappa": irr["cohen_kappa"],
            "test irrelevance sizes": irr["test_irrelevance_sizes"],
            "truthful classifier, balanced accuracy vs BFCL labels (test mix)": irr[
                "truthful_ceiling_balanced_accuracy"
            ],
            "same, consensus Wilson 95 %": irr["truthful_ceiling_consensus_wilson95"],
        }
    )
    clf = classifier_on_audit(args.cache, embedder, catalog, questions, negatives, irr["consensus"])
    console.print({"headline fitted classifier, refitted without the audited questions": clf})
    multi = multi_audit(args.cache, embedder, catalog, questions, multi_file)
    console.print({"dev fold-b >=2-tool all-gold@5": multi})
    report = {
        "irrelevance": {k: v for k, v in irr.items() if k != "consensus"},
        "classifier_on_audited": clf,
        "multi_tool": multi,
    }
    target = write_json(args.results / "tools_label_audit.json", report)
    console.print(f"wrote {target}")
