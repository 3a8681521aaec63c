"""Every example script runs offline (sockets are disabled in this process; the scripts run
in subprocesses with no network either: nothing they use reaches for one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("drop_in_cache.py", "(globex)"),
        ("langgraph_agent.py", "hit=True"),
        ("compose_runnables.py", "tools bound:"),
    ],
)
def test_example_runs_offline(script: str, expected: str) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, str(REPO / "examples" / script)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert expected in run.stdout
