"""The ``tokenopt`` CLI reports problems in one line: missing files, missing extras.

A missing extra is simulated the standard way, ``sys.modules[name] = None``: in a fresh
interpreter for the CLI's own extra (typer and rich are imported with the command module),
with ``monkeypatch`` for a command's extra.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from langchain_tokenopt.cli import app
from langchain_tokenopt.monitoring import RequestRecord, SQLiteMetricsStore

WIDE = {"COLUMNS": "200", "NO_COLOR": "1"}


def _recorded_db(tmp_path: Path) -> Path:
    path = tmp_path / "metrics.sqlite"
    store = SQLiteMetricsStore(path=path, flush_interval=0.01)
    store.add(RequestRecord(request_id="r1", timestamp=time.time(), model="m1"))
    assert store.flush(5)
    store.close()
    return path


def test_stats_on_a_missing_db_is_an_error_and_creates_nothing() -> None:
    missing = Path("/nonexistent/x.sqlite")
    assert not missing.parent.exists()
    result = CliRunner().invoke(app, ["stats", "--db", str(missing)], env=WIDE)
    assert result.exit_code == 2, result.output
    assert f"error: no metrics database at {missing}: the file does not exist" in result.output
    assert not missing.parent.exists()


def test_stats_on_a_missing_file_in_an_existing_folder_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "sub" / "x.sqlite"
    result = CliRunner().invoke(app, ["stats", "--db", str(missing)], env=WIDE)
    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_stats_without_any_recording_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = tmp_path / "cache" / "metrics.sqlite"
    monkeypatch.setattr(
        "langchain_tokenopt.monitoring.store_sqlite.default_metrics_path", lambda: default
    )
    result = CliRunner().invoke(app, ["stats"], env=WIDE)
    assert result.exit_code == 2
    assert "nothing has been recorded on this machine yet" in result.output
    assert not default.parent.exists()


def test_stats_on_a_recorded_db_still_works(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["stats", "--db", str(_recorded_db(tmp_path)), "--window", "1h"], env=WIDE
    )
    assert result.exit_code == 0, result.output
    assert "requests" in result.output


def test_tool_examples_help_keeps_the_brackets() -> None:
    result = CliRunner().invoke(app, ["tool-examples", "--help"], env=WIDE)
    assert result.exit_code == 0
    assert "{tool name: [questions]}" in result.output


def test_cli_without_its_extra_prints_one_line_naming_it() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["typer"] = None
        sys.argv = ["tokenopt", "stats"]
        from langchain_tokenopt.cli import main
        main()
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("tokenopt: error: ")
    assert 'pip install "langchain-tokenopt[cli]"' in lines[0]


def test_command_without_its_extra_prints_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(sys.modules):
        if name.startswith("langchain_tokenopt.monitoring.dashboard"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fastapi", None)
    db = _recorded_db(tmp_path)
    result = CliRunner().invoke(app, ["dashboard", "--db", str(db)], env=WIDE)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert 'pip install "langchain-tokenopt[dashboard]"' in lines[0]  # rich kept "[dashboard]"


def test_redis_store_without_its_extra_keeps_the_extra_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    result = CliRunner().invoke(app, ["stats", "--redis-url", "redis://127.0.0.1:1/0"], env=WIDE)
    assert result.exit_code == 2
    assert 'pip install "langchain-tokenopt[redis]"' in result.output
