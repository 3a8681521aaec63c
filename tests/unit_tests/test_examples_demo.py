from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from examples.tokenopt_demo import load_workload

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


def test_the_demo_ends_with_its_phases_and_keeps_third_party_noise_out() -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / "demo.py"),
            "--limit",
            "2",
            "--install-seconds",
            "installed",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    phases = out[out.index("Demo phases") :]
    for row in ("install", "already installed", "one-time preparation", "loading", "run"):
        assert row in phases
    assert "total" in phases
    for noise in (
        "Loading weights",
        "TracerWarning",
        "UserWarning",
        "WARNING:root",
        "DEBUG:bm25s",
        "no tokenizer is known",
    ):
        assert noise not in run.stderr and noise not in out, noise


def test_the_install_seconds_are_checked() -> None:
    run = subprocess.run(
        [sys.executable, str(REPO / "examples" / "demo.py"), "--install-seconds", "soon"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "expected seconds >= 0 or 'installed'" in run.stderr


def test_make_demo_times_the_install_only_when_it_runs(tmp_path: Path) -> None:
    # scripts/demo.sh as `make demo` runs it, against a Makefile whose install is a stamp.
    (tmp_path / "examples").symlink_to(REPO / "examples")
    (tmp_path / "Makefile").write_text("install: stamp\nstamp:\n\ttouch stamp\n")
    runs = [
        subprocess.run(
            ["bash", str(REPO / "scripts" / "demo.sh"), "--breakdown-only"],
            cwd=tmp_path,
            env={**os.environ, "PY": sys.executable},
            capture_output=True,
            text=True,
            timeout=300,
        )
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert "Total request" in run.stdout
    assert "installing the package" in runs[0].stdout
    assert (tmp_path / "stamp").is_file()
    assert "installing the package" not in runs[1].stdout
