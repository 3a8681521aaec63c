"""The graph and the step protocols pass ``mypy --strict`` (issue 25's typed seams)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def test_graph_and_protocols_pass_mypy_strict(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    stdout, stderr, status = api.run(
        [
            "--strict",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            str(ROOT / "langchain_tokenopt" / "graph"),
            str(ROOT / "langchain_tokenopt" / "protocols.py"),
        ]
    )
    assert status == 0, stdout + stderr
