"""The local backend at scale: ``python -m bench cache scale [--quick] [--scale N ...]``.

* crossover: exact numpy search vs usearch HNSW per scope size (what ``exact_limit`` rests on);
* scale: synthetic unit vectors (384-d) in one scope of a ``LocalBackend`` (SQLite + usearch
  int8 HNSW): load rate, search p50 / p95, top-1 recall, RSS, file size, reopen time.

Default sizes: 100,000 entries (``--quick``: 20,000); ``--scale 1000000`` for the 1M run.
Writes ``bench/results/cache_bench_scale.json``; the full ``cache run`` includes this section.
Latency and memory are upper bounds on a shared host (pin with ``taskset -c 1``).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import resource
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.cache.data import base_report, console, table
from bench.common import percentile, write_json
from langchain_tokenopt.cache import LocalBackend
from langchain_tokenopt.cache.backends.vector_index import ScopeIndex
from langchain_tokenopt.cache.records import CacheEntry

__all__ = ["rss_mb", "run", "run_crossover", "run_scale", "scale_section"]


def rss_mb() -> float:
    """This process's resident memory in MB (peak where ``/proc`` is missing)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_crossover(sizes: Sequence[int]) -> list[dict[str, float]]:
    """Exact numpy search vs usearch HNSW per scope size (justifies ``exact_limit``)."""
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        vecs = rng.normal(size=(n, 384)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        queries = vecs[rng.integers(0, n, 200)] + rng.normal(scale=0.05, size=(200, 384)).astype(
            np.float32
        )
        ids = [str(i) for i in range(n)]
        res: dict[str, float] = {"n": n}
        for name, limit in (("exact", n + 1), ("usearch", 0)):
            index = ScopeIndex(dim=384, exact_limit=max(limit, 1))
            index.add_many(ids, vecs)
            times = []
            for q in queries:
                t0 = time.perf_counter()
                index.top1(q)
                times.append((time.perf_counter() - t0) * 1000)
            res[f"{name}_p50_ms"] = percentile(times, 50)
            res[f"{name}_p95_ms"] = percentile(times, 95)
        rows.append(res)
    return rows


def _entries(start: int, vecs: np.ndarray, scope: str, now: float) -> list[CacheEntry]:
    return [
        CacheEntry(
            entry_id=hashlib.blake2b(str(start + i).encode(), digest_size=16).hexdigest(),
            scope=scope,
            model="m",
            model_name="m",
            tenant="t",
            user="u",
            text=f"q{start + i}",
            payload="[]",
            created_at=now,
            expires_at=None,
            vector=vecs[i].tobytes(),
        )
        for i in range(len(vecs))
    ]


def run_scale(n: int, *, reopen: bool | None = None) -> dict[str, float]:
    """Synthetic unit vectors in one scope of a LocalBackend (SQLite + usearch int8 HNSW).

    Loaded with ``LocalBackend.put_many`` in batches of 20k (one transaction and one bulk
    index add each), then 200 queries (a stored vector plus noise, cosine ~0.93 to it)
    through ``LocalBackend.search`` (HNSW candidates, rescored with the stored floats,
    entries read back from SQLite). ``reopen`` (default: n <= 100k) also times a reopen,
    which rebuilds the index from the file.
    """
    rng = np.random.default_rng(1)
    gc.collect()
    rss0 = rss_mb()
    scope = "0" * 32
    out: dict[str, float] = {"entries": n}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scale.sqlite3"
        backend = LocalBackend(path=path, max_entries=None)
        batch = 20_000
        t0 = time.perf_counter()
        vec_sample = None
        for start in range(0, n, batch):
            k = min(batch, n - start)
            vecs = rng.normal(size=(k, 384)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            if vec_sample is None:
                vec_sample = vecs[:200].copy()
            backend.put_many(_entries(start, vecs, scope, time.time()))
            del vecs
        insert_s = time.perf_counter() - t0
        assert vec_sample is not None
        queries = vec_sample + rng.normal(scale=0.02, size=vec_sample.shape).astype(np.float32)
        times, found = [], 0
        for i, q in enumerate(queries):
            q /= np.linalg.norm(q)
            t1 = time.perf_counter()
            cand = backend.search(scope, q, now=time.time())
            times.append((time.perf_counter() - t1) * 1000)
            found += cand is not None and cand.entry.text == f"q{i}"
        gc.collect()
        rss = rss_mb()
        out.update(
            {
                "insert_per_s": n / insert_s,
                "insert_s": insert_s,
                "search_p50_ms": percentile(times, 50),
                "search_p95_ms": percentile(times, 95),
                "top1_recall": found / len(queries),
                "rss_mb": rss,
                "rss_growth_mb": rss - rss0,
                "file_mb": path.stat().st_size / 2**20,
            }
        )
        backend.close()
        del backend
        gc.collect()
        if reopen if reopen is not None else n <= 100_000:
            t2 = time.perf_counter()
            again = LocalBackend(path=path, max_entries=None)
            out["reopen_s"] = time.perf_counter() - t2
            out["reopen_count_ok"] = float(again.count() == n)
            again.close()
    return out


def scale_section(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """Crossover and scale runs into ``report`` (sizes from ``--scale`` / ``--quick``)."""
    quick = args.quick
    sizes = args.scale if args.scale is not None else ([20_000] if quick else [100_000])
    report["crossover"] = run_crossover(
        [1_000, 2_000, 5_000, 10_000, 50_000] if not quick else [2_000, 5_000, 10_000]
    )
    table(
        "exact numpy vs usearch HNSW, one scope (ms)",
        ["n", "exact p50", "exact p95", "usearch p50", "usearch p95"],
        [
            [r["n"], r["exact_p50_ms"], r["exact_p95_ms"], r["usearch_p50_ms"], r["usearch_p95_ms"]]
            for r in report["crossover"]
        ],
    )
    report["scale"] = [run_scale(n) for n in sizes]
    table(
        "scale run, LocalBackend (SQLite + usearch i8 HNSW), synthetic 384-d vectors, ms",
        [
            "entries",
            "insert/s",
            "load s",
            "search p50",
            "search p95",
            "top1 recall",
            "RSS MB",
            "RSS growth MB",
            "file MB",
            "reopen s",
        ],
        [
            [
                r["entries"],
                r["insert_per_s"],
                r["insert_s"],
                r["search_p50_ms"],
                r["search_p95_ms"],
                r["top1_recall"],
                r["rss_mb"],
                r["rss_growth_mb"],
                r["file_mb"],
                r.get("reopen_s", "not run"),
            ]
            for r in report["scale"]
        ],
    )


def run(args: argparse.Namespace) -> None:
    """The scale section alone."""
    report = base_report()
    scale_section(args, report)
    out = write_json(args.results / "cache_bench_scale.json", report, indent=1, default=str)
    console.print(f"wrote {out}")
