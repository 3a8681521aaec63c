"""The demo runner leaves no temporary folder behind, and keeps a folder it was given."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from langchain_tokenopt.demo import load_workload
from langchain_tokenopt.demo.agent_run import run_workload


def _writer() -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=itertools.repeat(AIMessage("Here you go.")))


def test_the_run_removes_its_own_temporary_folder_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    workload = load_workload()
    report = run_workload(workload, limit=1, model=_writer())
    assert len(report.results) == 1
    assert list(scratch.glob("tokenopt-demo-*")) == []
    given = tmp_path / "kept"
    run_workload(workload, limit=1, model=_writer(), workdir=given)
    assert (given / "cache.sqlite").is_file()
