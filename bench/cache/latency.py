"""Lookup latency of the semantic cache: ``python -m bench cache latency``.

Stores MeanCache's ``question1`` s, then times exact repeats, duplicates and fresh questions
through the real int8 ONNX embedder (its memo cleared before every lookup), grouped by the
lookup's outcome, on the embedded backend and on Redis (``--no-redis`` skips it). Also the
async Redis burst of the full run (:func:`run_burst`). Writes
``bench/results/cache_bench_latency.json``. Latency is meaningful only on a quiet machine
(pin with ``taskset -c 1``; ``--redis-cpu`` pins the server); on a shared host, upper bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.outputs import Generation

from bench.cache.data import LLM_STRING, base_report, console, load_pairs, prompt_of, table
from bench.common import percentile, write_json
from langchain_tokenopt.cache import LocalBackend, RedisBackend, SemanticCache
from langchain_tokenopt.embeddings import OnnxEmbeddings
from tests.redis_server import RedisServer

__all__ = [
    "latency_table",
    "local_latency",
    "measure_latency",
    "ms_summary",
    "pin_server",
    "redis_latency",
    "run",
    "run_burst",
    "time_lookups",
    "warm_embedder",
]


def ms_summary(values: Sequence[float]) -> dict[str, float]:
    """``{"p50": ..., "p95": ...}`` of ``values`` (NaN for none)."""
    if not values:
        return {"p50": float("nan"), "p95": float("nan")}
    return {"p50": percentile(values, 50), "p95": percentile(values, 95)}


def warm_embedder() -> OnnxEmbeddings:
    """The packaged int8 ONNX MiniLM, loaded and run once."""
    emb = OnnxEmbeddings()
    emb.encode(["warm"])
    return emb


def time_lookups(
    lookup: Callable[[str], Any], queries: Sequence[str], before: Callable[[], Any] | None = None
) -> dict[str, float]:
    """p50 / p95 ms of ``lookup`` over ``queries`` (``before`` runs untimed before each)."""
    times = []
    for q in queries:
        if before is not None:
            before()
        t0 = time.perf_counter()
        lookup(q)
        times.append((time.perf_counter() - t0) * 1000)
    return ms_summary(times)


def measure_latency(
    cache: SemanticCache, pairs: Sequence[tuple[str, str, int]], n: int = 300
) -> dict[str, Any]:
    """Store question1s, then time exact repeats, duplicates and fresh questions.

    Timings are grouped by the lookup's actual outcome (exact_hit / semantic_hit / miss,
    rejections counted with misses); the embedding memo is cleared before every lookup.
    """
    stored = list(dict.fromkeys(p[0] for p in pairs))
    for q in stored:
        cache.update(prompt_of(q), LLM_STRING, [Generation(text="x")])
    dups = [p[1] for p in pairs if p[2] == 1]
    fresh = [f"{p[1]} Please answer briefly." for p in pairs if p[2] == 0]
    queries = stored[:n] + dups[: 3 * n] + fresh[:n]
    groups: dict[str, dict[str, list[float]]] = {}
    for q in queries:
        cache._memo.clear()  # noqa: SLF001 - measure real embedding cost, not the memo
        t0 = time.perf_counter()
        result, _ = cache.lookup_detailed(prompt_of(q), LLM_STRING)
        total = (time.perf_counter() - t0) * 1000
        kind = "miss" if result.outcome == "rejected" else result.outcome
        g = groups.setdefault(kind, {"total": [], "emb": [], "search": []})
        g["total"].append(total)
        g["emb"].append(result.embedding_ms)
        g["search"].append(result.search_ms)
    return {
        k: {
            "total_ms": ms_summary(v["total"]),
            "embedding_ms": ms_summary(v["emb"]),
            "search_ms": ms_summary(v["search"]),
            "n": len(v["total"]),
        }
        for k, v in groups.items()
    }


def run_burst(redis_url: str, n: int) -> dict[str, Any]:
    """``n`` concurrent async calls on a RedisBackend at its defaults (half updates, half lookups).

    The load bench's burst (exact path, as there): before the backend's concurrency gate
    a 10,000-call burst timed out on the connection pool and was served as misses.
    """
    cache = SemanticCache(backend=RedisBackend(url=redis_url, prefix="burst:"), semantic=False)
    prompts = [prompt_of(f"burst question {i}") for i in range(n // 2)]
    latencies: list[float] = []

    async def timed(coro: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await coro
        finally:
            latencies.append((time.perf_counter() - t0) * 1000)

    async def burst() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(
            *(
                timed(cache.aupdate(p, LLM_STRING, [Generation(text=str(i))]))
                for i, p in enumerate(prompts)
            ),
            *(timed(cache.alookup(p, LLM_STRING)) for p in prompts),
        )
        return time.perf_counter() - t0

    wall = asyncio.run(burst())
    stats = cache.stats()
    served = sum(
        cache.lookup(p, LLM_STRING) == [Generation(text=str(i))] for i, p in enumerate(prompts)
    )
    cache.clear()
    cache.close()
    spread = ms_summary(latencies)
    return {
        "calls": n,
        "errors": stats.errors,
        "lookups_in_burst": n // 2,
        "burst_hits": stats.hits,
        "stored_and_served_after": served,
        "wall_s": wall,
        "p50_ms": spread["p50"],
        "p95_ms": spread["p95"],
    }


def pin_server(server: RedisServer, cpu: int | None) -> None:
    """Move the Redis server to one CPU (as on its own host); ``None`` leaves it as started."""
    if cpu is not None and server.pid is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(server.pid, {cpu})


def local_latency(
    emb: OnnxEmbeddings, pairs: Sequence[tuple[str, str, int]], folder: Path
) -> dict[str, Any]:
    """Lookup latency of the embedded backend (a fresh SQLite file in ``folder``)."""
    cache = SemanticCache(
        backend=LocalBackend(path=folder / "l.sqlite3", max_entries=None), embeddings=emb
    )
    try:
        return measure_latency(cache, pairs)
    finally:
        cache.close()


def redis_latency(
    emb: OnnxEmbeddings, pairs: Sequence[tuple[str, str, int]], url: str, prefix: str
) -> dict[str, Any]:
    """Lookup latency of a RedisBackend (keys under ``prefix``, cleared after)."""
    cache = SemanticCache(backend=RedisBackend(url=url, prefix=prefix), embeddings=emb)
    try:
        return measure_latency(cache, pairs)
    finally:
        cache.clear()
        cache.close()


def latency_table(report: dict[str, Any]) -> None:
    """Print the latency rows of ``report`` (local, Redis, anchors)."""
    lat_rows = []
    for backend in ("latency_local", "latency_redis"):
        for kind, v in report.get(backend, {}).items():
            lat_rows.append(
                [
                    backend.split("_")[1],
                    kind,
                    v["total_ms"]["p50"],
                    v["total_ms"]["p95"],
                    v["embedding_ms"]["p50"],
                    v["search_ms"]["p50"],
                    v["n"],
                ]
            )
    for k, v in report.get("anchors", {}).items():
        lat = v["lookup_latency_ms"]
        lat_rows.append([k, "lookup (mixed)", lat["p50"], lat["p95"], "", "", ""])
    table(
        "lookup latency (ms)",
        ["backend", "case", "p50", "p95", "embed p50", "search p50", "n"],
        lat_rows,
    )


def run(args: argparse.Namespace) -> None:
    """The latency section alone: local and Redis backends, real int8 embedder."""
    report = base_report()
    pairs = load_pairs(args.data, None)
    emb = warm_embedder()
    with tempfile.TemporaryDirectory() as tmp:
        report["latency_local"] = local_latency(emb, pairs, Path(tmp))
    if not args.no_redis:
        with RedisServer() as server:
            pin_server(server, args.redis_cpu)
            report["latency_redis"] = redis_latency(emb, pairs, server.url, "lat:")
    report["redis_cpu"] = args.redis_cpu
    latency_table(report)
    out = write_json(args.results / "cache_bench_latency.json", report, indent=1, default=str)
    console.print(f"wrote {out}")
