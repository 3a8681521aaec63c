"""The demo runner through the real graph: its figures come from this run only."""

from __future__ import annotations

import os
import re
from pathlib import Path

from rich.console import Console

from examples.tokenopt_demo import load_workload
from examples.tokenopt_demo.agent_run import demo_threads, run_workload
from examples.tokenopt_demo.report import render_report


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


def test_report_shows_whole_sentence_answers_and_a_replayed_hit(tmp_path: Path) -> None:
    report = run_workload(load_workload(), limit=6, workdir=tmp_path)
    hit = report.results[5]
    assert hit.question.id == "q06" and hit.cache_hit  # exact repeat of q03, same tenant
    assert hit.answer == report.results[2].answer
    for r in report.misses():
        # One complete sentence at most (DEMO_MAX_SENTENCES = 1), never cut after it.
        ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", r.answer)]
        assert r.answer.strip() and not ends, r.answer
        assert r.system_prompt.startswith("You are Juniper")
    console = Console(record=True, width=200)
    render_report(report, console=console)
    out = console.export_text()
    assert "Sample answers" in out and "cache (exact)" in out
    # sufficiency beside the tokens, and the store accounting (q01, q02 need tools)
    assert "next-call sufficiency (2 misses that need tools)" in out
    assert "Next-call sufficiency" in out and "q02" in out
    assert "stored answers of turns that called a non-cacheable tool" in out
    assert report.stored_after_uncacheable_tool == []
    assert report.results[0].answer.split("\n")[0][:40] in out
