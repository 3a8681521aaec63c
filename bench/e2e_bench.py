"""End-to-end benchmark of the headline claims, through the optimized LangGraph agent.

Runs the project's demo workload (examples/workload: ~10k-token modular system prompt, 131
tools, ~46k-token history, 64 questions over two tenants) through ``build_optimized_agent``
with the local SmolLM2, and reports:

* prompt tokens per request before/after, on the cache-miss path and averaged over the workload;
* cache hit rate against the workload's achievable rate (true repeats / paraphrases), with false
  hits (hits on questions that must miss) and missed hits counted;
* end-to-end latency through the graph for cache hits and misses (p50 / p95);
* quality proxies carried over from the component benches' JSON in bench/results
  (answer-string retention, tool recall, fact retention), when those files exist.

Usage:
    python bench/e2e_bench.py            # all 64 questions
    python bench/e2e_bench.py --quick    # first 20 questions
Writes bench/results/e2e.json (or e2e_quick.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
GOALS = {
    "tokens_per_request": "50k -> 500 tokens (99 %) on average",
    "hit_rate": "> 60 % where the traffic allows it",
    "hit_latency": "< 100 ms per cache hit",
    "quality": "> 95 % of quality kept",
}


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _read(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def quality_proxies() -> dict[str, Any]:
    """Point at the component benches' results (test split) that carry the quality figures.

    Each component bench writes its own JSON with its own tables; the e2e report lists which
    ones exist and their top-level sections so a reader can follow the figures quoted in the
    notes (answer retention: compression.json; tool recall: tools_bench.json; fact retention:
    context_bench.json; cache false hits: cache_bench.json).
    """
    out: dict[str, Any] = {}
    for name in ("compression.json", "tools_bench.json", "context_bench.json", "cache_bench.json"):
        data = _read(name)
        if data is not None:
            out[name] = sorted(data)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="first 20 questions only")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from langchain_tokenopt.demo import load_workload
    from langchain_tokenopt.demo.agent_run import run_workload
    from langchain_tokenopt.demo.report import estimate_cost, render_report

    console = Console(width=110)
    limit = args.limit or (20 if args.quick else None)
    workload = load_workload(REPO / "examples" / "workload")
    with tempfile.TemporaryDirectory(prefix="tokenopt-e2e-") as tmp:
        started = time.perf_counter()
        report = run_workload(
            workload,
            limit=limit,
            workdir=Path(tmp),
            on_result=lambda r: console.print(
                f"[dim]{r.question.id} {r.question.kind:12} "
                f"{'hit ' + str(r.cache_layer) if r.cache_hit else 'miss':14} "
                f"{r.latency_ms:9.1f} ms  {r.tokens_unoptimized:6} -> {r.tokens_sent:5}[/dim]"
            ),
        )
        seconds = time.perf_counter() - started
    render_report(report, console=console)

    misses, hits = report.misses(), report.hits()
    miss_before = statistics.fmean(r.tokens_unoptimized for r in misses) if misses else 0.0
    miss_after = statistics.fmean(r.tokens_sent for r in misses) if misses else 0.0
    hit_ms = [r.latency_ms for r in hits]
    miss_ms = [r.latency_ms for r in misses]
    cost = estimate_cost(report)
    result = {
        "questions": len(report.results),
        "seconds": round(seconds, 1),
        "tokens": {
            "miss_path_mean_before": round(miss_before, 1),
            "miss_path_mean_after": round(miss_after, 1),
            "miss_path_reduction": round(1 - miss_after / miss_before, 4) if miss_before else None,
            "workload_mean_before": round(report.mean_tokens_before, 1),
            "workload_mean_after": round(report.mean_tokens_after, 1),
            "workload_reduction": round(1 - report.mean_tokens_after / report.mean_tokens_before, 4)
            if report.mean_tokens_before
            else None,
        },
        "cache": {
            "hit_rate": round(report.hit_rate, 4),
            "achievable_hit_rate": round(report.achievable_hit_rate, 4),
            "false_hits": report.false_hits,
            "missed_hits": report.missed_hits,
            "hits_by_layer": {
                layer: sum(r.cache_layer == layer for r in hits) for layer in ("exact", "semantic")
            },
        },
        "latency_ms": {
            "hit_p50": _pct(hit_ms, 50),
            "hit_p95": _pct(hit_ms, 95),
            "miss_p50": _pct(miss_ms, 50),
            "miss_p95": _pct(miss_ms, 95),
        },
        "cost_usd_at_gpt_4o": {
            "unoptimized": cost.unoptimized_usd,
            "optimized": cost.optimized_usd,
            "saving": cost.saving,
        },
        "quality_proxies": quality_proxies(),
        "goals": GOALS,
        "per_question": [
            {
                "id": r.question.id,
                "kind": r.question.kind,
                "tenant": r.question.tenant_id,
                "expect_hit": r.question.expect_cache_hit,
                "hit": r.cache_hit,
                "layer": r.cache_layer,
                "latency_ms": round(r.latency_ms, 2),
                "tokens_before": r.tokens_unoptimized,
                "tokens_after": r.tokens_sent,
                "tools_bound": r.tools_bound,
                "expected_tools": list(r.question.expected_tools),
            }
            for r in report.results
        ],
    }
    table = Table(title="Headline claims (e2e, this run)")
    for col in ("claim", "goal", "measured"):
        table.add_column(col)
    t = result["tokens"]
    table.add_row(
        "tokens per request",
        GOALS["tokens_per_request"],
        f"miss path {t['miss_path_mean_before']:,.0f} -> {t['miss_path_mean_after']:,.0f}; "
        f"workload {t['workload_mean_before']:,.0f} -> {t['workload_mean_after']:,.0f} "
        f"({100 * (t['workload_reduction'] or 0):.1f} % fewer)",
    )
    c = result["cache"]
    table.add_row(
        "cache hit rate",
        GOALS["hit_rate"],
        f"{100 * c['hit_rate']:.1f} % of {100 * c['achievable_hit_rate']:.1f} % achievable; "
        f"false hits {c['false_hits']}, missed {c['missed_hits']}",
    )
    lat = result["latency_ms"]
    table.add_row(
        "cache-hit latency",
        GOALS["hit_latency"],
        "no hits"
        if lat["hit_p50"] is None
        else f"p50 {lat['hit_p50']:.1f} ms, p95 {lat['hit_p95']:.1f} ms",
    )
    table.add_row(
        "quality kept",
        GOALS["quality"],
        "see quality_proxies in the JSON (component benches, test split)",
    )
    console.print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("e2e_quick.json" if args.quick or args.limit else "e2e.json")
    out.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
