"""Offline demo (what `make demo` runs): a realistic agent workload through the optimized graph.

Loads the workload shipped in examples/workload (a ~10k-token modular system prompt, 131 tool
schemas, a ~46k-token support conversation with tool calls, 64 questions across two tenants),
prints the token breakdown of the unoptimized request for GPT-4o, GPT-4 and Claude Sonnet, then
asks the questions through ``build_optimized_agent`` with the local SmolLM2 (cache check, tool
selection, prompt compression, context optimization, model, tool loop, cache store) and prints
what each step saved, next to it the next-call sufficiency (were the tools each question needs
bound, and its argument values kept?), the cache hits (a turn that called a tool not declared
cacheable is never stored, and the run counts it), latency and the estimated cost against the
unoptimized requests. SmolLM2 cannot call tools: the agent makes the calls each question needs
when the graph binds them (``examples/tokenopt_demo/tool_loop.py``) and SmolLM2 writes the answer.

    python examples/demo.py                   # the whole demo
    python examples/demo.py --breakdown-only  # only the token breakdown (seconds)
    python examples/demo.py --limit 10        # the first 10 questions
    python examples/demo.py --all             # all 64 questions (as python -m bench e2e)

By default it asks the first :data:`DEMO_SAMPLE` questions, a stated sample that holds every
question kind, repeats that must hit and repeats that must miss (another tenant, another
conversation): SmolLM2 writes every miss's answer on CPU, so the whole workload takes about
twice as long. ``python -m bench e2e --limit 32`` gives the same figures; without
``--limit`` it runs all 64.

At the end it prints its phases with their times: install (``make demo`` times ``make
install`` when it runs and passes ``--install-seconds``), one-time preparation (assets a
first run builds, each announced by one log line with its expected duration), loading (the
agent and its models) and run.
"""

from __future__ import annotations

import time

_STARTED = time.perf_counter()

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

from rich.console import Console  # noqa: E402

# The demo's own code sits next to this script (examples/tokenopt_demo, not in the wheel).
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from examples.tokenopt_demo import (  # noqa: E402
    Workload,
    compare_families,
    load_workload,
    render_breakdowns,
)
from examples.tokenopt_demo.agent_run import QuestionResult  # noqa: E402
from examples.tokenopt_demo.phases import (  # noqa: E402
    DemoPhases,
    prepare_demo_assets,
    render_phases,
)

#: Questions asked by default (the first N of the workload's 64); ``--all`` asks every one.
DEMO_SAMPLE = 32


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
    sample = parser.add_mutually_exclusive_group()
    sample.add_argument(
        "--limit",
        type=int,
        default=DEMO_SAMPLE,
        help=f"ask only the first N questions (default {DEMO_SAMPLE})",
    )
    sample.add_argument("--all", action="store_true", help="ask every question of the workload")
    parser.add_argument(
        "--install-seconds",
        type=_install_seconds,
        default=None,
        help="seconds `make install` took in this `make demo`, or 'installed' when it was "
        "not needed (set by scripts/demo.sh; printed in the phases table)",
    )
    args = parser.parse_args(argv)
    show_preparation_notices()

    console = Console(width=max(Console().width, 100))
    preparation, builds = prepare_demo_assets()
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
    loading = run_agent(workload, console, limit=None if args.all else args.limit)
    run = time.perf_counter() - _STARTED - preparation - loading
    render_phases(
        DemoPhases(
            install_seconds=args.install_seconds
            if isinstance(args.install_seconds, float)
            else None,
            already_installed=args.install_seconds == "installed",
            preparation_seconds=preparation,
            one_time_builds=builds,
            loading_seconds=loading,
            run_seconds=max(0.0, run),
        ),
        console=console,
    )
    return 0


def _install_seconds(value: str) -> float | str:
    """``--install-seconds``: a duration in seconds, or ``installed``."""
    if value == "installed":
        return value
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        msg = f"expected seconds >= 0 or 'installed', got {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return seconds


def run_agent(workload: Workload, console: Console, *, limit: int | None) -> float:
    """Ask the questions through the optimized graph with a progress bar, then report.

    Returns the seconds spent building the agent and loading its models.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from examples.tokenopt_demo.agent_run import run_workload
    from examples.tokenopt_demo.report import render_report
    from langchain_tokenopt.monitoring.store_sqlite import default_metrics_path

    total = min(limit or len(workload.questions), len(workload.questions))
    console.rule("[bold]The optimized agent[/bold] (local SmolLM2, every optimizer on)")
    if total < len(workload.questions):
        asked = list(workload.questions)[:total]
        kinds = Counter(q.kind for q in asked)
        console.print(
            f"Asking the first {total} of the {len(workload.questions)} questions "
            f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}; "
            f"{sum(q.expect_cache_hit for q in asked)} should hit the cache). Every figure "
            f"below is over these {total}; [b]--all[/b] asks all {len(workload.questions)} "
            f"(python -m bench e2e runs all, [b]--limit {total}[/b] there gives these figures)."
        )
    metrics = default_metrics_path()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("questions (loading the agent's models first)", total=total)

        def tick(result: QuestionResult) -> None:
            state = f"hit ({result.cache_layer})" if result.cache_hit else "miss"
            progress.update(
                task,
                advance=1,
                description=f"questions: {result.question.id} {state} "
                f"{result.latency_ms / 1000:.1f} s",
            )

        report = run_workload(workload, limit=limit, metrics_path=metrics, on_result=tick)
    render_report(report, console=console)
    console.print(
        f"\nEvery request was recorded in [b]{metrics}[/b]. See the summary with "
        "[b]tokenopt stats[/b] and the charts with [b]tokenopt dashboard[/b] "
        "(http://127.0.0.1:8765)."
    )
    return report.prepare_seconds


if __name__ == "__main__":
    raise SystemExit(main())
