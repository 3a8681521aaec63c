"""Print the demo run as rich tables: steps, cache, latency and estimated cost.

Example:
    .. code-block:: python

        from examples.tokenopt_demo.report import render_report

        render_report(report)  # report from run_workload(...)
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from .agent_run import DEMO_PRICE_AS, DemoReport
from .phases import rich_console

__all__ = ["CostEstimate", "estimate_cost", "render_report"]

_STEPS = (
    ("cache", "Response cache"),
    ("tool_selection", "Tool selection (tool schemas)"),
    ("compression", "Prompt compression (system prompt)"),
    ("context", "Context optimization (history)"),
)


@dataclass(frozen=True)
class CostEstimate:
    """What the run's prompts would cost at a hosted model's list prices."""

    model: str
    """Model whose prices are used (from ``genai-prices``)."""
    unoptimized_usd: float | None
    """Every question sent whole, no cache."""
    optimized_usd: float | None
    """What the optimized run sent (cache hits cost nothing)."""

    @property
    def saving(self) -> float | None:
        """Share of the cost saved."""
        if not self.unoptimized_usd or self.optimized_usd is None:
            return None
        return 1 - self.optimized_usd / self.unoptimized_usd


def estimate_cost(report: DemoReport, *, model: str = DEMO_PRICE_AS) -> CostEstimate:
    """Price the run's input and output tokens at ``model``'s list prices."""
    from langchain_tokenopt.monitoring.pricing import Pricer, cost_of_usage
    from langchain_tokenopt.monitoring.records import TokenUsage
    from langchain_tokenopt.tokens import get_token_counter

    price, _source = Pricer().lookup(model)
    if price is None:
        return CostEstimate(model=model, unoptimized_usd=None, optimized_usd=None)
    counter = get_token_counter(model)
    before = after = 0.0
    for r in report.results:
        out = counter.count(r.answer)
        before += cost_of_usage(
            price, TokenUsage(input_tokens=r.tokens_unoptimized, output_tokens=out)
        )
        if not r.cache_hit:
            after += cost_of_usage(price, TokenUsage(input_tokens=r.tokens_sent, output_tokens=out))
    return CostEstimate(model=model, unoptimized_usd=before, optimized_usd=after)


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def _p(values: list[float], q: float) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:,.1f}"
    return f"{statistics.quantiles(values, n=100, method='inclusive')[int(q) - 1]:,.1f}"


#: Sample answers shown by :func:`render_report`: the first misses and hits of the run.
SAMPLE_MISSES = 4
SAMPLE_HITS = 2


def _render_samples(report: DemoReport, console: Any, table_cls: Any) -> None:
    from rich.markup import escape

    rows = report.misses()[:SAMPLE_MISSES] + report.hits()[:SAMPLE_HITS]
    if not rows:
        return
    table = table_cls(title="Sample answers (SmolLM2-135M writes them; a hit replays one)")
    for col in ("id", "question", "answer", "source"):
        table.add_column(col)
    for r in sorted(rows, key=lambda r: r.question.id):
        source = f"cache ({r.cache_layer})" if r.cache_hit else "model"
        # Model text is not rich markup: "[tool find_tools]: ..." must print as written.
        table.add_row(r.question.id, escape(r.question.text), escape(r.answer), source)
    console.print(table)


def render_report(report: DemoReport, *, console: Any = None) -> None:
    """Print the report's tables with rich.

    Raises:
        MissingDependencyError: rich is not installed (extra ``cli``).
    """
    console, Table = rich_console(console)
    misses = report.misses()
    _render_samples(report, console, Table)

    steps = Table(title=f"Per step, mean over the {len(misses)} cache misses (o200k tokens)")
    for col in ("step", "tokens before", "tokens after", "saved", "p50 ms"):
        steps.add_column(col, justify="left" if col == "step" else "right")
    for key, label in _STEPS:
        rows = [r.steps[key] for r in misses if key in r.steps]
        if not rows:
            continue
        b = statistics.fmean(x[0] for x in rows)
        a = statistics.fmean(x[1] for x in rows) if key != "cache" else b
        ms = [x[2] for x in rows]
        steps.add_row(label, f"{b:,.0f}", f"{a:,.0f}", _pct(b - a, b), _p(ms, 50))
    if misses:
        sent = statistics.fmean(r.tokens_sent for r in misses)
        whole = statistics.fmean(r.tokens_unoptimized for r in misses)
        steps.add_row(
            "[b]Whole request[/b]", f"{whole:,.0f}", f"{sent:,.0f}", _pct(whole - sent, whole), ""
        )
    console.print(steps)

    cache = Table(title="Response cache by question kind")
    for col in ("kind", "questions", "should hit", "hits", "exact", "semantic", "false hits"):
        cache.add_column(col, justify="left" if col == "kind" else "right")
    kinds = sorted({r.question.kind for r in report.results})
    for kind in [*kinds, "all"]:
        rs = [r for r in report.results if kind in ("all", r.question.kind)]
        cache.add_row(
            f"[b]{kind}[/b]" if kind == "all" else kind,
            str(len(rs)),
            str(sum(r.question.expect_cache_hit for r in rs)),
            str(sum(r.cache_hit for r in rs)),
            str(sum(r.cache_layer == "exact" for r in rs)),
            str(sum(r.cache_layer == "semantic" for r in rs)),
            str(sum(r.cache_hit and not r.question.expect_cache_hit for r in rs)),
        )
    console.print(cache)
    after_tools = report.missed_after_tool_turns
    if after_tools:
        console.print(
            f"Missed hits asked after tool turns in their thread (the cache keeps such a "
            f"conversation in the entry's scope): {', '.join(after_tools)}"
        )

    latency = Table(title="End-to-end latency through the graph (ms)")
    for col in ("path", "n", "p50", "p95"):
        latency.add_column(col, justify="left" if col == "path" else "right")
    for label, rs in (("cache hit", report.hits()), ("cache miss (local SmolLM2)", misses)):
        ms = [r.latency_ms for r in rs]
        latency.add_row(label, str(len(rs)), _p(ms, 50), _p(ms, 95))
    console.print(latency)

    cost = estimate_cost(report)
    totals = Table(title=f"Totals over {len(report.results)} questions ({report.seconds:.0f} s)")
    totals.add_column("figure")
    totals.add_column("unoptimized", justify="right")
    totals.add_column("optimized", justify="right")
    totals.add_row(
        "mean prompt tokens per question (all model calls of the turn)",
        f"{report.mean_tokens_before:,.0f}",
        f"{report.mean_tokens_after:,.0f}",
    )
    calls = [r.first_call for r in misses]
    if calls:
        totals.add_row(
            f"mean prompt tokens per first model call ({len(calls)} misses; "
            f"{report.model_calls} calls in all)",
            f"{statistics.fmean(b for b, _ in calls):,.0f}",
            f"{statistics.fmean(a for _, a in calls):,.0f}",
        )
    if cost.unoptimized_usd is not None and cost.optimized_usd is not None:
        saved = _pct(cost.unoptimized_usd - cost.optimized_usd, cost.unoptimized_usd)
        totals.add_row(
            f"estimated cost at {cost.model} list prices",
            f"${cost.unoptimized_usd:,.4f}",
            f"${cost.optimized_usd:,.4f} ({saved} saved)",
        )
    totals.add_row(
        "cache hit rate (achievable)",
        "0 %",
        f"{100 * report.hit_rate:.1f} % ({100 * report.achievable_hit_rate:.1f} %)",
    )
    suff = report.sufficiency
    if suff.questions:
        totals.add_row(
            f"next-call sufficiency ({suff.questions} misses that need tools)",
            "1.00 (every tool bound)",
            f"{suff.sufficient:.2f} (tools bound {suff.tools_bound:.2f}, argument values "
            f"kept {suff.args_kept:.2f}; {suff.sufficient_with_find:.2f} with one find_tools)",
        )
    totals.add_row(
        "stored answers of turns that called a non-cacheable tool",
        "-",
        f"{len(report.stored_after_uncacheable_tool)} (of {len(report.not_stored_after_tools)} "
        f"such turns; {len(report.stored_after_cacheable_tools)} stored after cacheable "
        "tools only)",
    )
    starved = report.stored_without_needed_tool
    totals.add_row(
        "stored answers of turns that needed a non-cacheable tool but never reached it",
        "-",
        f"{len(starved)}" + (f" ({', '.join(starved)})" if starved else ""),
    )
    console.print(totals)
    _render_sufficiency(report, console, Table)


def _render_sufficiency(report: DemoReport, console: Any, table_cls: Any) -> None:
    """Per miss that needs tools: what its first model call kept, next to its tokens."""
    rows = [(r, r.sufficiency) for r in report.misses() if r.sufficiency is not None]
    if not rows:
        return
    table = table_cls(
        title="Next-call sufficiency: the tools each question needs, bound on its first call?"
    )
    for col in ("id", "needs", "bound", "args kept", "tokens sent (first call)", "tools called"):
        table.add_column(col, justify="right" if col.startswith("tokens") else "left")
    for r, s in rows:
        bound = "yes" if s.tools_bound else ("after find_tools" if s.recovered else "no")
        args = (
            "-"
            if not s.args_checked
            else ("yes" if s.args_kept else "lost " + ", ".join(s.args_lost))
        )
        table.add_row(
            r.question.id,
            ", ".join(r.question.expected_tools),
            bound,
            args,
            f"{r.first_call[0]:,} -> {r.first_call[1]:,}",
            ", ".join(r.tools_called) or "-",
        )
    console.print(table)
