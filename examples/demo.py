"""Offline demo: the token breakdown of a realistic agent request (what `make demo` runs).

Loads the workload shipped in examples/workload (a ~10k-token modular system prompt, 131 tool
schemas, a ~46k-token support conversation with tool calls, 64 questions across two tenants)
and prints, for GPT-4o, GPT-4 and Claude Sonnet, how many tokens each part of the unoptimized
request costs and which optimizer of langchain-tokenopt targets it.

    python examples/demo.py                 # newest question: the next one in the conversation
    python examples/demo.py --question q15  # another question of the stream
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from rich.console import Console

from langchain_tokenopt.demo import compare_families, load_workload, render_breakdowns


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
    args = parser.parse_args(argv)

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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
