"""``tokenopt bench NAME`` runs ``python -m bench NAME`` and never overwrites tracked results."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from langchain_tokenopt._cli_app import _bench_command, _find_checkout
from langchain_tokenopt.cli import app

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fresh user cache dir (``LANGCHAIN_TOKENOPT_HOME``)."""
    folder = tmp_path / "home"
    monkeypatch.setenv("LANGCHAIN_TOKENOPT_HOME", str(folder))
    return folder


def test_a_bench_that_takes_results_writes_under_the_user_cache_dir(home: Path) -> None:
    cmd = _bench_command(ROOT, "monitoring", ["--quick"])
    assert cmd[:5] == [sys.executable, "-m", "bench", "monitoring", "--quick"]
    results = Path(cmd[cmd.index("--results") + 1])
    assert results == home / "bench"
    assert results != ROOT / "bench" / "results"


def test_the_agent_bench_takes_results_too(home: Path) -> None:
    assert _bench_command(ROOT, "agent", ["--quick"])[-2:] == ["--results", str(home / "bench")]


@pytest.mark.parametrize("given", [["--results", "elsewhere"], ["--out", "mine.json"]])
def test_an_explicit_destination_is_passed_through(home: Path, given: list[str]) -> None:
    cmd = _bench_command(ROOT, "monitoring", ["--quick", *given])
    assert cmd == [sys.executable, "-m", "bench", "monitoring", "--quick", *given]


def test_a_command_without_results_gets_none(home: Path) -> None:
    # ``all`` runs each bench in its own process and has no --results of its own
    assert _bench_command(ROOT, "all", ["--quick"]) == [
        sys.executable,
        "-m",
        "bench",
        "all",
        "--quick",
    ]


def test_an_unknown_bench_is_reported_with_the_dispatcher_message(home: Path) -> None:
    with pytest.raises(LookupError, match="not found: .*invalid choice: 'no_such_area'"):
        _bench_command(ROOT, "no_such_area", [])


def test_the_checkout_is_the_folder_that_holds_the_bench_package(tmp_path: Path) -> None:
    assert _find_checkout([tmp_path, ROOT]) == ROOT
    assert _find_checkout([tmp_path]) is None


def test_the_cli_runs_the_dispatcher_and_returns_its_exit_code(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, ["bench", "all", "no-such-bench"])
    assert result.exit_code == 2, result.output
