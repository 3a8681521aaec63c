"""The full semantic-cache bench: ``python -m bench cache run [--quick]``.

On MeanCache's test split (``--quick``: 1,000 pairs, 200 paraphrases, 20,000 entries at
scale, a 1,000-call burst): the threshold curve and recall at fixed false-hit rates, the
pairwise protocol, the shared index (ours on the embedded backend and on Redis, beside
redisvl, langchain-redis and GPTCache unless ``--no-anchors``), GPTCache paraphrases,
contextual follow-ups (``history_policy`` "always" and "standalone"), lookup latency (local
and Redis), an async Redis burst and the scale section (:mod:`bench.cache.scale`). About
15-25 min on 2 cores (``--quick`` ~3 min). Writes ``bench/results/cache_bench.json``,
``cache_threshold_curve.png``, ``cache_shared_wrong_hits.json`` and
``cache_followups_crossed.json`` (``_quick`` with ``--quick``).

Each section also runs alone: ``cache pairwise``, ``cache latency``, ``cache anchors``,
``cache scale``; ``cache dev-curve`` is the threshold curve on the dev split.
Latency is meaningful only on a quiet machine (pin with ``taskset -c 1``).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.cache.anchors import run_anchors
from bench.cache.data import (
    CAVEAT,
    Precomputed,
    base_report,
    console,
    load_followups,
    load_pairs,
    load_paraphrases,
    normalized,
    table,
)
from bench.cache.latency import (
    latency_table,
    local_latency,
    pin_server,
    redis_latency,
    run_burst,
    warm_embedder,
)
from bench.cache.pairwise import (
    TEST_THRESHOLDS,
    pairwise_protocol,
    paraphrase_recall,
    recall_at_fixed_fhr,
)
from bench.cache.protocols import (
    curve,
    ours_shared,
    pair_decisions,
    plot_curve,
    run_followups,
    run_shared,
)
from bench.cache.scale import scale_section
from bench.common import write_json
from langchain_tokenopt.cache import LocalBackend, NearMissVerifier, RedisBackend, SemanticCache
from langchain_tokenopt.embeddings import OnnxEmbeddings
from tests.redis_server import RedisServer

__all__ = ["run"]

#: The fields of an anchor's shared-index row copied beside ours.
_SHARED_FIELDS = ("recall", "fhr", "precision", "hits", "wrong_on_duplicates")


def _shared_local(
    pairs: list[tuple[str, str, int]], emb: Precomputed, folder: Path
) -> dict[str, Any]:
    shared: dict[str, Any] = {}
    for name, verify in (
        ("SemanticCache (verifier on)", True),
        ("SemanticCache (verifier off)", False),
    ):
        cache = SemanticCache(
            backend=LocalBackend(path=folder / f"s{len(shared)}.sqlite3", max_entries=None),
            embeddings=emb,
            verify_hits=verify,
        )
        shared[name] = run_shared(*ours_shared(cache), pairs)
        cache.close()
    return shared


def _followups(
    records: list[dict[str, str]], emb: Precomputed, folder: Path, report: dict[str, Any]
) -> list[dict[str, str]]:
    """Both history policies into ``report``; returns the standalone policy's crossed hits."""
    for policy in ("always", "standalone"):
        cache = SemanticCache(
            backend=LocalBackend(path=folder / f"f-{policy}.sqlite3", max_entries=None),
            embeddings=emb,
            history_policy=policy,
        )
        key = "followups" if policy == "always" else "followups_standalone"
        report[key] = run_followups(cache, records)
        cache.close()
    report["followups"].pop("other_conversation_hits")
    crossed: list[dict[str, str]] = report["followups_standalone"].pop("other_conversation_hits")
    return crossed


def _redis_section(
    args: argparse.Namespace,
    pairs: list[tuple[str, str, int]],
    records: list[dict[str, str]],
    emb: Precomputed,
    real: OnnxEmbeddings,
    report: dict[str, Any],
    shared: dict[str, Any],
) -> None:
    with RedisServer() as server:
        pin_server(server, args.redis_cpu)
        report["latency_redis"] = redis_latency(real, pairs, server.url, "bench:")
        rcache = SemanticCache(
            backend=RedisBackend(url=server.url, prefix="benchacc:"), embeddings=emb
        )
        res = run_shared(*ours_shared(rcache), pairs)
        res.pop("wrong_examples")
        shared["SemanticCache on Redis (verifier on)"] = res
        rcache.clear()
        rcache.close()
        if args.burst:
            report["redis_burst"] = run_burst(server.url, args.burst)
        if not args.no_anchors:
            report["anchors"] = run_anchors(server.url, emb, real, pairs, records)
            for k, v in report["anchors"].items():
                shared[f"{k} (dist {v['distance_threshold']})"] = {
                    kk: vv for kk, vv in v.items() if kk in _SHARED_FIELDS
                }


def _print_tables(report: dict[str, Any], paraphrases: int) -> None:
    shared = report["shared_index"]
    table(
        "shared-index protocol (all question1 in one cache)",
        ["cache", "recall", "FHR", "precision", "hits"],
        [[k, v["recall"], v["fhr"], v["precision"], v["hits"]] for k, v in shared.items()],
    )
    f = report["followups"]
    fs = report["followups_standalone"]
    fu_rows: list[list[Any]] = [
        [
            name,
            v["hits_in_other_conversation"],
            v["followup_hits_standalone"],
            v["hits_in_own_conversation"],
        ]
        for name, v in (
            ("SemanticCache (history_policy='always')", f),
            ("SemanticCache (history_policy='standalone'; crossed hits listed in JSON)", fs),
        )
    ]
    for k, v in report.get("anchors", {}).items():
        fu_rows.append([k, "n/a (keys on last message)", v["followup_hits"], "n/a"])
    table(
        f"contextual follow-ups ({f['n']}): hits outside their conversation must be 0",
        [
            "cache",
            "hits in another conversation",
            "standalone hits (follow-up vs stored)",
            "hits in own conversation",
        ],
        fu_rows,
    )
    console.print(
        "GPTCache paraphrases recall: "
        f"{report['gptcache_paraphrases']['recall']:.3f} (n={paraphrases})"
    )
    latency_table(report)
    if "redis_burst" in report:
        b = report["redis_burst"]
        table(
            "Redis async burst (defaults: max_concurrency 64, socket_timeout 0.5 s)",
            ["calls", "errors", "hits in burst", "served after", "wall s", "p50 ms", "p95 ms"],
            [
                [
                    b["calls"],
                    b["errors"],
                    f"{b['burst_hits']} / {b['lookups_in_burst']}",
                    f"{b['stored_and_served_after']} / {b['lookups_in_burst']}",
                    b["wall_s"],
                    b["p50_ms"],
                    b["p95_ms"],
                ]
            ],
        )


def run(args: argparse.Namespace) -> None:
    """Every section, in the order of the module docstring."""
    quick = args.quick
    burst = args.burst if args.burst is not None else (1000 if quick else 10_000)
    args.burst = burst
    suffix = "_quick" if quick else ""
    results: Path = args.results
    report = base_report()
    verifier = NearMissVerifier()
    pairs = load_pairs(args.data, 1000 if quick else None)
    paraphrases = load_paraphrases(args.data, 200 if quick else None)
    records = load_followups(args.data)
    texts = [normalized(t) for p in pairs for t in p[:2]]
    texts += [normalized(t) for p in paraphrases for t in p]
    texts += [normalized(r[k]) for r in records for k in ("Main Query", "Follow-Up Query")]
    t0 = time.perf_counter()
    emb = Precomputed(OnnxEmbeddings(), texts)
    console.print(f"embedded {len(emb.table)} texts in {time.perf_counter() - t0:.1f}s (onnx)")
    console.print(CAVEAT)

    # 1. threshold curve on the test split (same decision function as the cache)
    sims, ok, y = pair_decisions(pairs, emb, verifier)
    rows = curve(sims, ok, y, TEST_THRESHOLDS)
    report["test_curve"] = rows
    table(
        "test (meancache): pairwise threshold curve",
        ["cos", "recall", "FHR", "recall+verifier", "FHR+verifier"],
        [
            [r["threshold"], r["recall"], r["fhr"], r["recall_verified"], r["fhr_verified"]]
            for r in rows
            if r["threshold"] >= 0.78
        ],
    )
    report["recall_at_fhr"] = recall_at_fixed_fhr(rows)
    table(
        "recall at fixed FHR (test; oracle threshold, for comparison only)",
        ["FHR", "cosine only", "cosine+verifier"],
        [
            [t, v["cosine"]["recall"], v["verified"]["recall"]]
            for t, v in report["recall_at_fhr"].items()
        ],
    )
    report["plot"] = plot_curve(
        rows,
        results / f"cache_threshold_curve{suffix}.png",
        f"meancache test.csv, {len(pairs)} pairs, onnx MiniLM",
    )

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # 2. pairwise protocol through the real cache, shipped default
        report["pairwise"] = pairwise_protocol(pairs, emb, folder)
        # 3. shared index
        shared = _shared_local(pairs, emb, folder)
        wrong = shared["SemanticCache (verifier on)"]["wrong_examples"]
        sample = random.Random(0).sample(wrong, min(50, len(wrong)))
        write_json(results / f"cache_shared_wrong_hits{suffix}.json", sample, indent=1)
        for v in shared.values():
            v.pop("wrong_examples")
        # 4. paraphrases + follow-ups
        report["gptcache_paraphrases"] = paraphrase_recall(paraphrases, emb, folder)
        crossed = _followups(records, emb, folder, report)
        write_json(results / f"cache_followups_crossed{suffix}.json", crossed, indent=1)
        # 5. latency, local backend
        real = warm_embedder()
        report["latency_local"] = local_latency(real, pairs, folder)
        # 6. Redis backend + anchors
        if not args.no_redis:
            _redis_section(args, pairs, records, emb, real, report, shared)
        report["shared_index"] = shared
    _print_tables(report, len(paraphrases))
    scale_section(args, report)
    out = write_json(results / f"cache_bench{suffix}.json", report, indent=1, default=str)
    console.print(f"wrote {out}")
