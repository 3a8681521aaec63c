"""Offline demo (what `make demo` runs): a realistic agent workload through the optimized graph.

Loads the workload shipped in examples/workload (a ~10k-token modular system prompt, 131 tool
schemas, a ~46k-token support conversation with tool calls, 64 questions across two tenants),
prints the token breakdown of the unoptimized request for GPT-4o, GPT-4 and Claude Sonnet, then
asks every question through ``build_optimized_agent`` with the local SmolLM2 (cache check, tool
selection, prompt compression, context optimization, model, tool loop, cache store) and prints
what each step saved, next to it the next-call sufficiency (were the tools each question needs
bound, and its argument values kept?), the cache hits (a turn that called a tool not declared
cacheable is never stored, and the run counts it), latency and the estimated cost against the
unoptimized requests. SmolLM2 cannot call tools: the agent makes the calls each question needs
when the graph binds them (``langchain_tokenopt.demo.tool_loop``) and SmolLM2 writes the answer.

    python examples/demo.py                   # the whole demo
    python examples/demo.py --breakdown-only  # only the token breakdown (seconds)
    python examples/demo.py --limit 10        # the first 10 questions
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import Counter

from rich.console import Console

from langchain_tokenopt.demo import Workload, compare_families, load_workload, render_breakdowns
from langchain_tokenopt.demo.agent_run import QuestionResult


def show_preparation_notices() -> None:
    """Print the package's one-time preparation notices (and its warnings) on stderr.

    Only the ``langchain_tokenopt`` logger gets a handler: other libraries keep theirs.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(
        lambda r: r.levelno >= logging.WARNING or r.name == "langchain_tokenopt._assets"
    )
    package = logging.getLogger("langchain_tokenopt")
    package.addHandler(handler)
    package.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Token breakdown of the demo agent request.")
    parser.add_argument(
        "--question",
        default=None,
        help="question id to send (default: first in the history's conversation)",
    )
    parser.add_argument(
        "--workload", default=None, help="workload folder (default: examples/workload)"
    )
    parser.add_argument(
        "--breakdown-only", action="store_true", help="print the token breakdown and stop"
    )
    parser.add_argument("--limit", type=int, default=None, help="ask only the first N questions")
    args = parser.parse_args(argv)
    show_preparation_notices()

    console = Console(width=max(Console().width, 100))
    started = time.perf_counter()
    workload = load_workload(args.workload)
    calls = sum(len(getattr(m, "tool_calls", []) or []) for m in workload.history)
    kinds = Counter(q.kind for q in workload.questions)
    console.rule(
        f"[bold]langchain-tokenopt demo[/bold]: {workload.company} customer-operations agent"
    )
    domains = len(set(workload.tool_domains.values()))
    console.print(
        f"Workload: {len(workload.modules)} prompt modules, {len(workload.tools)} tools in "
        f"{domains} domains, {len(workload.history)} history messages "
        f"({calls} tool calls), {len(workload.questions)} questions "
        f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}) from {workload.path}"
    )
    breakdowns = compare_families(workload, question=args.question)
    render_breakdowns(breakdowns, workload=workload, console=console)
    elapsed = time.perf_counter() - started
    console.print(f"\n[dim]Counted in {elapsed:.2f} s with the offline tokenizers.[/dim]")
    if args.breakdown_only:
        return 0
    run_agent(workload, console, limit=args.limit)
    return 0


def run_agent(workload: Workload, console: Console, *, limit: int | None) -> None:
    """Ask the questions through the optimized graph with a progress bar, then report."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from langchain_tokenopt.demo.agent_run import run_workload
    from langchain_tokenopt.demo.report import render_report
    from langchain_tokenopt.monitoring.store_sqlite import default_metrics_path

    total = min(limit or len(workload.questions), len(workload.questions))
    console.rule("[bold]The optimized agent[/bold] (local SmolLM2, every optimizer on)")
    metrics = default_metrics_path()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("loading models, then q01", total=total)

        def tick(result: QuestionResult) -> None:
            state = f"hit ({result.cache_layer})" if result.cache_hit else "miss"
            progress.update(
                task,
                advance=1,
                description=f"{result.question.id} {state} {result.latency_ms / 1000:.1f} s",
            )

        report = run_workload(workload, limit=limit, metrics_path=metrics, on_result=tick)
    render_report(report, console=console)
    console.print(
        f"\nEvery request was recorded in [b]{metrics}[/b]. See the summary with "
        "[b]tokenopt stats[/b] and the charts with [b]tokenopt dashboard[/b] "
        "(http://127.0.0.1:8765)."
    )


if __name__ == "__main__":
    raise SystemExit(main())
