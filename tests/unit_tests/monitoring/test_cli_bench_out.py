"""``tokenopt bench`` never overwrites the repository's tracked results."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from langchain_tokenopt.cli import app

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """The argv each bench script would have run with (the script itself is not run)."""
    monkeypatch.setenv("LANGCHAIN_TOKENOPT_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(ROOT)
    calls: list[list[str]] = []

    def fake_run_path(path: str, **_: Any) -> dict[str, Any]:
        calls.append(list(sys.argv))
        return {}

    monkeypatch.setattr(runpy, "run_path", fake_run_path)
    return calls


def test_bench_monitoring_writes_under_the_user_cache_dir(
    ran: list[list[str]], tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["bench", "monitoring", "--quick"])
    assert result.exit_code == 0, result.output
    (argv,) = ran
    out = Path(argv[argv.index("--out") + 1])
    assert out == tmp_path / "home" / "bench" / "monitoring_quick.json"
    assert ROOT / "bench" / "results" not in out.parents


def test_an_explicit_out_is_passed_through(ran: list[list[str]], tmp_path: Path) -> None:
    chosen = str(tmp_path / "mine.json")
    result = CliRunner().invoke(app, ["bench", "monitoring", "--out", chosen])
    assert result.exit_code == 0, result.output
    assert ran[0][1:] == ["--out", chosen]


def test_the_monitoring_bench_accepts_out() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "monitoring_bench.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "--out" in done.stdout
