"""Helpers every bench shares: paths, percentiles, timing, JSON results, offline switches.

Each helper exists once, here; a bench module imports what it needs::

    from bench.common import RESULTS, percentile, write_json

    write_json(RESULTS / "my_bench.json", {"p95_ms": percentile([1.0, 2.0, 30.0], 95)})
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BENCH",
    "DATASETS",
    "REPO",
    "RESULTS",
    "Stopwatch",
    "bench_options",
    "command_line",
    "handler",
    "offline",
    "percentile",
    "read_jsonl",
    "results_option",
    "stopwatch",
    "write_json",
]

#: The repository root (the folder that holds ``bench/`` and ``langchain_tokenopt/``).
REPO = Path(__file__).resolve().parents[1]
#: This package's folder.
BENCH = REPO / "bench"
#: Where the tracked results live (``--results DIR`` on any subcommand writes elsewhere).
RESULTS = BENCH / "results"
#: The public datasets (``../shared/datasets``; see its README: calibrate on dev, report on test).
DATASETS = REPO.parent / "shared" / "datasets"


def offline() -> None:
    """Keep Hugging Face libraries from reaching the network (the packaged models are local)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0 to 100) with linear interpolation (numpy's default).

    The one percentile of the benches: ``percentile(xs, 50)`` is the median.

    Example:
        >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
        2.5
    """
    data = np.asarray(list(values), dtype=np.float64)
    if data.size == 0:
        msg = "percentile of no values"
        raise ValueError(msg)
    if not 0 <= q <= 100:
        msg = f"q must be within [0, 100], got {q}"
        raise ValueError(msg)
    return float(np.percentile(data, q))


@dataclass
class Stopwatch:
    """Wall and process-CPU time since :func:`stopwatch` started it (seconds)."""

    wall_start: float
    cpu_start: float

    @property
    def wall(self) -> float:
        """Wall-clock seconds so far."""
        return time.perf_counter() - self.wall_start

    @property
    def cpu(self) -> float:
        """Process CPU seconds so far."""
        return time.process_time() - self.cpu_start


@contextmanager
def stopwatch() -> Iterator[Stopwatch]:
    """Time a block: ``with stopwatch() as sw: ...; sw.wall, sw.cpu`` (read inside or after)."""
    yield Stopwatch(time.perf_counter(), time.process_time())


def command_line() -> str:
    """The command that started this process, as a shell line (``python -m bench ...``)."""
    argv = list(getattr(sys, "orig_argv", sys.argv))
    if argv and Path(argv[0]).name.startswith("python"):
        argv[0] = "python"
    return shlex.join(argv)


def write_json(path: Path, data: Any, *, indent: int | None = 2, default: Any = None) -> Path:
    """Write ``data`` as JSON to ``path`` (folders created); a dict gets a ``command`` key.

    The ``command`` key records the command that made the file unless ``data`` has one.
    """
    if isinstance(data, dict) and "command" not in data:
        data = {**data, "command": command_line()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=indent, default=default))
    return path


#: Namespace attributes the dispatcher adds (not options of a bench).
_DISPATCH_KEYS = frozenset({"capability", "subcommand", "func"})


def bench_options(args: argparse.Namespace) -> dict[str, Any]:
    """A bench's own options from its parsed arguments (what its results file records)."""
    return {k: v for k, v in vars(args).items() if k not in _DISPATCH_KEYS}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file (blank lines skipped)."""
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def results_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--results DIR`` (default :data:`RESULTS`): where the bench writes its files."""
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        metavar="DIR",
        help="folder for the results files (default: bench/results; names stay fixed)",
    )


def handler(module: str, function: str = "run") -> Any:
    """A subcommand handler that imports ``module`` only when the subcommand runs.

    ``python -m bench --help`` then stays fast: the heavy imports (models, datasets) happen
    in the chosen bench alone. The handler returns the function's exit code (``None`` = 0).
    """

    def run(args: argparse.Namespace) -> int:
        import importlib

        code = getattr(importlib.import_module(module), function)(args)
        return int(code or 0)

    run.__qualname__ = f"handler({module}.{function})"
    return run
