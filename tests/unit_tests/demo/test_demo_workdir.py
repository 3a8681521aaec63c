"""The demo runner leaves no temporary folder behind, and keeps a folder it was given."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from examples.tokenopt_demo import load_workload
from examples.tokenopt_demo.agent_run import run_workload


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


def test_the_run_times_its_preparation_and_prices_the_local_model_as_gpt_4o(
    tmp_path: Path,
) -> None:
    from examples.tokenopt_demo.agent_run import DEMO_PRICE_AS
    from langchain_tokenopt.monitoring import SQLiteMetricsStore

    db = tmp_path / "metrics.sqlite"
    report = run_workload(
        load_workload(), limit=2, model=_writer(), metrics_path=db, workdir=tmp_path / "w"
    )
    assert report.prepare_seconds > 0
    records = [r for r in SQLiteMetricsStore(path=db).records() if r.llm_called]
    assert records
    for record in records:
        assert record.price_as == DEMO_PRICE_AS == "gpt-4o"
        assert record.cost is not None and record.cost.priced_as == "gpt-4o"
