"""``python -m bench tools latency``: query latency alone, one thread.

The library default weights (the dev-calibrated ones) on the first 400 BFCL test questions: the
headline configuration (dev questions plus the generated ones as example queries, unless
``--no-generated``) beside dev questions only and langgraph-bigtool's default retrieval (the
store search alone, at its default limit of 2 and at 5) ->
``bench/results/tools_bench_latency.json``. Methods take turns on each query (order rotated),
so a busy spell on a shared machine hits them alike; read the figures as upper bounds.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from bench.common import percentile, write_json
from bench.tools.baselines import bigtool_latency_methods, bigtool_store
from bench.tools.data import (
    CachedEmbeddings,
    examples_from,
    gen_dir,
    generated_examples,
    load_bfcl,
    make_retriever,
    merge_examples,
)
from langchain_tokenopt.tools import ToolRetriever


def measure_latency(
    embedder: CachedEmbeddings,
    r_lat: ToolRetriever,
    lat_q: list[str],
    extra: dict[str, Callable[[str], Any]] | None = None,
) -> dict:
    """Wall and CPU time per query (query-vector cache cleared before each call)."""
    r_lat.invoke("warm up", k=5)
    doc_vectors = r_lat.index.doc_vectors
    if doc_vectors is None:
        msg = "the latency retriever has no dense index (embeddings=None)"
        raise ValueError(msg)
    methods = {
        "ours_invoke": lambda q: r_lat.invoke(q, k=5),
        **(extra or {}),
        "bm25_only": lambda q: np.argsort(-r_lat.index.bm25_scores(q))[:5],
        "dense_only": lambda q: np.argsort(-(embedder.encode([q]) @ doc_vectors.T)[0])[:5],
    }
    times: dict[str, list[float]] = {label: [] for label in methods}
    cpu: dict[str, list[float]] = {label: [] for label in methods}
    labels = list(methods)
    # methods take turns on each query (order rotated), so a busy spell hits them alike
    for i, q in enumerate(lat_q):
        for label in labels[i % len(labels) :] + labels[: i % len(labels)]:
            r_lat.forget()
            t = time.perf_counter()
            c = time.process_time()
            methods[label](q)
            cpu[label].append((time.process_time() - c) * 1000)
            times[label].append((time.perf_counter() - t) * 1000)
    return {
        label: {
            "p50_ms": round(percentile(times[label], 50), 2),
            "p95_ms": round(percentile(times[label], 95), 2),
            "cpu_p50_ms": round(percentile(cpu[label], 50), 2),
            "cpu_p95_ms": round(percentile(cpu[label], 95), 2),
        }
        for label in labels
    }


def run(args: argparse.Namespace) -> None:
    """Latency alone (library default weights = the dev-calibrated ones) on the first 400 BFCL
    test questions: the headline configuration (dev questions plus the generated ones as
    example queries, unless ``--no-generated``) beside dev questions only and langgraph-bigtool's
    default retrieval (the store search alone, at its default limit of 2 and at 5)."""
    console = Console()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="tools_bench_"))
    embedder = CachedEmbeddings(cache / "vectors")
    bfcl_cat, bfcl_q, _ = load_bfcl(args.data)
    examples = examples_from(bfcl_q, lambda q: True)
    generated: dict[str, list[str]] = {}
    if not args.no_generated:
        generated, _ = generated_examples(bfcl_cat, gen_dir(args.generated) / "gen_bfcl.json")
    r_lat = make_retriever(
        bfcl_cat, merge_examples(examples, generated), cache / "s", embeddings=embedder
    )
    r_dev = make_retriever(bfcl_cat, examples, cache / "s", embeddings=embedder)

    def dev_examples_only_invoke(q: str) -> None:
        r_dev.forget()
        r_dev.invoke(q, k=5)

    r_dev.invoke("warm up", k=5)
    store = bigtool_store(bfcl_cat, embedder)
    embedder.bypass = True
    lat_q = [q.text for q in bfcl_q if q.test][:400]
    extra = {"dev_examples_only_invoke": dev_examples_only_invoke, **bigtool_latency_methods(store)}
    lat = measure_latency(embedder, r_lat, lat_q, extra)
    lat["cpu_affinity"] = sorted(os.sched_getaffinity(0))
    console.print(lat)
    target = write_json(args.results / "tools_bench_latency.json", lat)
    console.print(f"wrote {target}")
