from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from langchain_tokenopt.demo import load_workload

REPO = Path(__file__).resolve().parents[2]


def test_demo_runs_and_prints_the_three_families() -> None:
    run = subprocess.run(
        [sys.executable, str(REPO / "examples" / "demo.py"), "--breakdown-only"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    for family in ("GPT-4o", "GPT-4", "Claude Sonnet", "o200k_base", "cl100k_base"):
        assert family in out
    for part in ("System prompt", "Tool schemas", "Conversation history", "Total request"):
        assert part in out
    workload = load_workload(REPO)
    assert f"{len(workload.tools)} tools" in out
    assert f"{len(workload.questions)} questions" in out
