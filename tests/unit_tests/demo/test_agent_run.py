"""The demo runner through the real graph: its figures come from this run only."""

from __future__ import annotations

import os
from pathlib import Path

from langchain_tokenopt.demo import load_workload
from langchain_tokenopt.demo.agent_run import demo_threads, run_workload


def test_figures_ignore_earlier_runs_in_the_same_metrics_file(tmp_path: Path) -> None:
    workload = load_workload()
    db = tmp_path / "metrics.sqlite"
    first = run_workload(workload, limit=2, metrics_path=db, workdir=tmp_path / "a")
    second = run_workload(workload, limit=2, metrics_path=db, workdir=tmp_path / "b")
    for a, b in zip(first.results, second.results, strict=True):
        assert not a.cache_hit and not b.cache_hit
        assert b.tokens_unoptimized == a.tokens_unoptimized > 20_000
        assert b.tokens_sent == a.tokens_sent > 0
        assert {k: v[:2] for k, v in b.steps.items()} == {k: v[:2] for k, v in a.steps.items()}
        assert set(b.steps) == {"cache", "tool_selection", "compression", "context"}


def test_demo_threads_is_within_the_usable_cores() -> None:
    assert 1 <= demo_threads() <= len(os.sched_getaffinity(0))
