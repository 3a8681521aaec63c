"""Run every benchmark in bench/ one after the other (``make bench``).

Usage:
    python bench/run_all.py            # full runs (long: tens of minutes on 2 cores)
    python bench/run_all.py --quick    # small runs of each
    python bench/run_all.py cache tools --quick
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ORDER = ["cache", "tools", "compression", "context", "monitoring", "e2e"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks.")
    parser.add_argument("names", nargs="*", default=ORDER, help=f"subset of {ORDER}")
    parser.add_argument("--quick", action="store_true", help="pass --quick to each bench")
    args = parser.parse_args(argv)
    failed: list[str] = []
    for name in args.names:
        script = BENCH / f"{name}_bench.py"
        if not script.exists():
            print(f"no such bench: {script.name}", file=sys.stderr)
            failed.append(name)
            continue
        cmd = [sys.executable, str(script), *(["--quick"] if args.quick else [])]
        print(f"\n=== {' '.join(cmd[1:])}", flush=True)
        start = time.perf_counter()
        code = subprocess.call(cmd, cwd=BENCH.parent)
        print(f"=== {name}: exit {code} in {time.perf_counter() - start:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
