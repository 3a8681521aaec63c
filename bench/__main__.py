"""``python -m bench <capability> [<subcommand>] [options]``: every benchmark, one entry point.

Run from the repository root; ``python -m bench --help`` lists the capabilities and
``python -m bench <capability> --help`` their subcommands. ``bench/README.md`` says what each
measures, how long it runs and which ``bench/results/`` file it writes.
"""

from __future__ import annotations

import argparse
import sys

from bench import agent, compression, context, e2e, load, monitoring, run_all
from bench import tools as tools_benches
from bench.cache import register as register_cache
from bench.common import offline

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The dispatcher: one subparser per capability, each with its subcommands."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run a benchmark of langchain-tokenopt (from the repository root).",
        epilog="bench/README.md lists what each subcommand measures and writes.",
    )
    sub = parser.add_subparsers(dest="capability", required=True, metavar="<capability>")
    tools_benches.register(sub)
    register_cache(sub)
    compression.register(sub)
    context.register(sub)
    load.register(sub)
    monitoring.register(sub)
    agent.register(sub)
    e2e.register(sub)
    run_all.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line) and run the chosen bench."""
    offline()
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
