"""``python -m bench all [--quick] [NAME ...]``: every benchmark, one after the other.

``make bench`` runs it.

Each runs in its own process (``python -m bench ...``), so one bench's imports, caches and
memory do not leak into the next one's timings::

    python -m bench all            # full runs (long: tens of minutes on 2 cores)
    python -m bench all --quick    # small runs of each
    python -m bench all cache tools --quick
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from bench.common import REPO, stopwatch

__all__ = ["COMMANDS", "register", "run"]

#: What ``all`` runs, in order: name -> the dispatcher's arguments (``--quick`` appended).
COMMANDS: dict[str, list[str]] = {
    "cache": ["cache", "run"],
    "tools": ["tools", "run"],
    "compression": ["compression"],
    "context": ["context", "run"],
    "monitoring": ["monitoring"],
    "e2e": ["e2e"],
}


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``all`` to the dispatcher's subparsers."""
    p = sub.add_parser("all", help="run the benches one after the other (make bench)")
    p.add_argument(
        "names", nargs="*", metavar="NAME", help=f"subset of {', '.join(COMMANDS)} (default: all)"
    )
    p.add_argument("--quick", action="store_true", help="pass --quick to each bench")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen benches in order; exit code 1 if any failed."""
    unknown = [n for n in args.names if n not in COMMANDS]
    if unknown:
        print(
            f"no such bench: {', '.join(unknown)} (known: {', '.join(COMMANDS)})", file=sys.stderr
        )  # noqa: T201
        return 2
    failed: list[str] = []
    for name in args.names or list(COMMANDS):
        cmd = [sys.executable, "-m", "bench", *COMMANDS[name], *(["--quick"] if args.quick else [])]
        print(f"\n=== python -m bench {' '.join(cmd[3:])}", flush=True)  # noqa: T201
        with stopwatch() as sw:
            code = subprocess.call(cmd, cwd=REPO)
        print(f"=== {name}: exit {code} in {sw.wall:.0f} s", flush=True)  # noqa: T201
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)  # noqa: T201
    return 1 if failed else 0
