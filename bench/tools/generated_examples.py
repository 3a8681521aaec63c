"""Toolshed-style generated example queries for BFCL tool retrieval (issue 6), dev first.

Run from the repo root, pinned to one core::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c 1 \\
        .venv/bin/python -m bench tools generated-examples --cache /tmp/tools_gen_examples

Setup (the dev two-fold of ``python -m bench tools reranker``): the pooled BFCL catalog
(1,287 tools), questions of dev fold b ranked by the library's default retriever (fused first
stage + learned second stage, default weights) whose example queries are:

* ``a_fold_a_examples``: the single-tool questions of dev fold a, attached to their gold tool;
* ``b_fold_a_plus_generated``: those plus ``--per-tool`` questions per tool written by the
  local SmolLM2-135M-Instruct (:func:`langchain_tokenopt.tools.augment.generate_example_queries`);
* ``c_generated_only``: the generated questions alone;
* ``no_examples``: none (reference).

Generation time is measured on the first 20 tools; the whole catalog is generated when the
estimate is under ``--budget-min`` minutes, else only the tools the dev evaluation needs (gold
tools of fold-b questions plus every tool ranked in the top 10 of a fold-b question by
``a_fold_a_examples``; the rule is stored in the JSON). Generated queries persist in
``<cache>/generated_examples.json`` (never committed). The test split is run once, only when
(b) beats (a) on dev by at least 0.003 R@5 and the query p50 of (b) stays at most 10 ms.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from bench.common import write_json
from bench.tools.data import (
    CachedEmbeddings,
    Query,
    dev_fold,
    examples_from,
    load_bfcl,
    make_retriever,
    merge_examples,
    rank_all,
)
from bench.tools.latency import measure_latency
from bench.tools.ranking import metrics
from langchain_tokenopt.tools import ToolRetriever
from langchain_tokenopt.tools.augment import generate_example_queries

MIN_GAIN = 0.003
MIN_GAIN_MULTI = 0.02
MAX_P50_MS = 10.0


def generation_scope(
    catalog: list[dict], dev_b: list[Query], r_a: ToolRetriever, orders_a: list, *, whole: bool
) -> tuple[str, list[dict]]:
    """Which tools to generate for: the whole catalog, or only what the dev evaluation reads."""
    if whole:
        return "all tools of the catalog", catalog
    needed = {g for q in dev_b for g in q.gold}
    needed |= {r_a.names[int(i)] for o in orders_a for i in o[:10]}
    scope = "gold tools of dev fold-b questions + tools in the top 10 of (a) for them"
    return scope, [c for c in catalog if c["name"] in needed]


def timed_generation(
    catalog: list[dict],
    ex_a: dict[str, list[str]],
    dev_b: list[Query],
    args: argparse.Namespace,
    gen_kw: dict[str, Any],
    embedder: CachedEmbeddings,
) -> dict[str, Any]:
    """Load SmolLM2, time a 20-tool probe, pick the scope from the estimate, generate it.

    Returns the timings, the probe tools, the fold-a baseline (``base``, ``r_a``,
    ``orders_a``), the scope and its tools, and the generated questions.
    """
    from langchain_tokenopt._assets import load_smollm2

    t = time.perf_counter()
    load_smollm2(dtype="bfloat16")
    load_s = time.perf_counter() - t
    probe = catalog[::64][:20]
    t = time.perf_counter()
    generate_example_queries(probe, progress=False, **gen_kw)
    per_tool_s = (time.perf_counter() - t) / len(probe)
    estimate_min = per_tool_s * len(catalog) / 60
    base, r_a, orders_a = evaluate(catalog, ex_a, dev_b, args.cache, ex_a, embedder)
    scope, targets = generation_scope(
        catalog, dev_b, r_a, orders_a, whole=estimate_min <= args.budget_min
    )
    t = time.perf_counter()
    generated = generate_example_queries(targets, **gen_kw)
    return {
        "load_s": load_s,
        "probe": probe,
        "per_tool_s": per_tool_s,
        "estimate_min": estimate_min,
        "base": base,
        "r_a": r_a,
        "orders_a": orders_a,
        "scope": scope,
        "targets": targets,
        "generated": generated,
        "run_s": time.perf_counter() - t,
    }


def evaluate(
    catalog: list[dict],
    examples: dict,
    queries: list[Query],
    cache: Path,
    known: dict,
    embedder: CachedEmbeddings,
) -> tuple[dict, ToolRetriever, list]:
    """Metrics of the default retriever, plus R@5 split by whether the gold tool has a
    question example in ``known`` (dev: the fold-a examples; test: all dev examples)."""
    r = make_retriever(catalog, examples or None, cache / "s", embeddings=embedder)
    orders = [res.order for res in rank_all(r, [q.text for q in queries])]
    out = metrics(orders, queries, r.index.position)
    hit: dict[bool, list[bool]] = {True: [], False: []}
    for q, order in zip(queries, orders, strict=True):
        top = set(order[:5].tolist())
        for g in q.gold:
            hit[g in known].append(r.index.position[g] in top)
    out["recall@5_gold_with_question_example"] = round(float(np.mean(hit[True])), 4)
    out["recall@5_gold_without_question_example"] = round(float(np.mean(hit[False])), 4)
    out["gold_pairs_with_without"] = [len(hit[True]), len(hit[False])]
    return out, r, orders


def run(args: argparse.Namespace) -> None:
    """Generated example queries, dev first (see the module docstring)."""
    torch.set_num_threads(1)
    console = Console()
    args.cache.mkdir(parents=True, exist_ok=True)
    gen_path = args.cache / "generated_examples.json"
    cold = not gen_path.exists()  # timings below are only meaningful on a cold cache
    embedder = CachedEmbeddings(args.cache / "vectors")
    catalog, questions, _ = load_bfcl(args.data)
    fold_a = lambda q: dev_fold(q.key) == 0  # noqa: E731
    ex_a = examples_from(questions, fold_a)
    dev_b = [q for q in questions if not q.test and not fold_a(q)]
    results: dict = {"setup": __doc__.split("Setup")[1].split("Generated queries")[0].strip()}

    # ------------------------------------------------------------- generation, timed
    gen_kw = {"per_tool": args.per_tool, "cache_path": gen_path, "batch_size": args.batch_size}
    run = timed_generation(catalog, ex_a, dev_b, args, gen_kw, embedder)
    load_s, probe, per_tool_s = run["load_s"], run["probe"], run["per_tool_s"]
    estimate_min, scope, targets = run["estimate_min"], run["scope"], run["targets"]
    generated, whole_s = run["generated"], run["run_s"]
    base, r_a = run["base"], run["r_a"]
    counts = [len(v) for v in generated.values()]
    results["generation"] = {
        "model": f"SmolLM2-135M-Instruct (bf16, greedy, batch {args.batch_size}, 1 thread)",
        "cold_cache": cold,
        "per_tool_requested": args.per_tool,
        "model_load_s": round(load_s, 2),
        "probe_tools": len(probe),
        "probe_s_per_tool": round(per_tool_s, 3),
        "estimated_whole_catalog_min": round(estimate_min, 1),
        "scope": scope,
        "tools_generated_for": len(targets),
        "run_s_incl_cached_probe": round(whole_s, 1),
        "s_per_generated_tool": round(whole_s / max(1, len(targets) - len(probe)), 3),
        "queries_per_tool_mean": round(float(np.mean(counts)), 2),
        "tools_with_no_usable_query": int(sum(c == 0 for c in counts)),
        "sample": {c["name"]: generated[c["name"]] for c in probe[:5]},
    }
    console.print(results["generation"])

    # ------------------------------------------------------------- dev fold b
    configs = {
        "no_examples": {},
        "a_fold_a_examples": ex_a,
        "b_fold_a_plus_generated": merge_examples(ex_a, generated),
        "c_generated_only": merge_examples(generated),
    }
    dev: dict = {}
    retrievers = {}
    for label, examples in configs.items():
        if label == "a_fold_a_examples":
            dev[label], retrievers[label] = base, r_a
        else:
            dev[label], retrievers[label], _ = evaluate(
                catalog, examples, dev_b, args.cache, ex_a, embedder
            )
    lat_q = [q.text for q in dev_b][: args.latency_queries]
    embedder.bypass = True
    latency = {}
    for label in ("a_fold_a_examples", "b_fold_a_plus_generated"):
        lat = measure_latency(embedder, retrievers[label], lat_q)
        latency[label] = lat["ours_invoke"]
    embedder.bypass = False
    results["dev_fold_b"] = dev
    results["dev_query_latency_ms"] = {**latency, "cpu_affinity": sorted(os.sched_getaffinity(0))}
    gain = dev["b_fold_a_plus_generated"]["recall@5"] - dev["a_fold_a_examples"]["recall@5"]
    p50 = latency["b_fold_a_plus_generated"]["p50_ms"]
    helped = gain >= MIN_GAIN and p50 <= MAX_P50_MS
    results["decision"] = {
        "dev_gain_recall@5_b_minus_a": round(gain, 4),
        "rule": f"test run only if gain >= {MIN_GAIN} and (b) query p50 <= {MAX_P50_MS} ms",
        "helped": helped,
    }
    table = Table(title=f"BFCL dev fold b (n={len(dev_b)}), default retriever")
    for col in ("examples", "R@1", "R@3", "R@5", "R@10", "all-gold@5", "R@5 gold w/ ex", "w/o"):
        table.add_column(col)
    for label, m in dev.items():
        table.add_row(
            label,
            *(str(m[k]) for k in ("recall@1", "recall@3", "recall@5", "recall@10", "all_gold@5")),
            str(m["recall@5_gold_with_question_example"]),
            str(m["recall@5_gold_without_question_example"]),
        )
    console.print(table)
    console.print(results["dev_query_latency_ms"])
    console.print(results["decision"])

    # ------------------------------------------------------------- test (only if it helped)
    if helped:
        test_q = [q for q in questions if q.test]
        ex_dev = examples_from(questions, lambda q: True)
        test = {}
        for label, examples in {
            "dev_examples": ex_dev,
            "dev_examples_plus_generated": merge_examples(ex_dev, generated),
        }.items():
            test[label], _, _ = evaluate(catalog, examples, test_q, args.cache, ex_dev, embedder)
        results["test"] = test
        console.print({"test": test})
    target = write_json(args.results / "tools_generated_examples.json", results)
    console.print(f"wrote {target}")
