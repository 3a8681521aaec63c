"""The demo's phases table: install, one-time preparation, loading and run, with their times."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from rich.console import Console

from examples.tokenopt_demo.phases import (
    DemoPhases,
    _BuildRecorder,
    prepare_demo_assets,
    render_phases,
)
from langchain_tokenopt._assets import build_cached_asset
from langchain_tokenopt.errors import TokenOptConfigError


def _printed(phases: DemoPhases) -> str:
    console = Console(record=True, width=160)
    render_phases(phases, console=console)
    return console.export_text()


def test_the_table_gives_each_phase_its_time() -> None:
    out = _printed(
        DemoPhases(
            install_seconds=184.4,
            already_installed=False,
            preparation_seconds=0.2,
            loading_seconds=6.1,
            run_seconds=95.0,
        )
    )
    assert "install" in out and "3 min 04 s" in out
    assert "one-time preparation" in out and "0.2 s" in out
    assert "nothing to build" in out
    assert "loading" in out and "6.1 s" in out
    assert "run" in out and "1 min 35 s" in out
    assert "total" in out and "4 min 46 s" in out


def test_an_installed_venv_and_a_first_run_build_are_named() -> None:
    out = _printed(
        DemoPhases(
            install_seconds=None,
            already_installed=True,
            preparation_seconds=16.0,
            one_time_builds=("convert the local SmolLM2-135M from GGUF",),
            loading_seconds=5.0,
            run_seconds=90.0,
        )
    )
    assert "already installed" in out
    assert "built: convert the local SmolLM2-135M from GGUF" in out
    assert "16.0 s" in out


def test_a_direct_run_says_the_install_was_not_measured() -> None:
    out = _printed(
        DemoPhases(
            install_seconds=None,
            already_installed=False,
            preparation_seconds=0.1,
            loading_seconds=1.0,
            run_seconds=2.0,
        )
    )
    assert "not measured" in out


@pytest.mark.parametrize(
    "kwargs",
    [
        {"install_seconds": -1.0, "already_installed": False},
        {"install_seconds": 3.0, "already_installed": True},
    ],
)
def test_inconsistent_phases_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(TokenOptConfigError):
        DemoPhases(
            **kwargs,  # type: ignore[arg-type]
            preparation_seconds=0.0,
            loading_seconds=0.0,
            run_seconds=0.0,
        )


def test_a_warm_preparation_builds_nothing_and_only_checks_files() -> None:
    prepare_demo_assets()  # a first run in this environment builds here
    started = time.perf_counter()
    seconds, builds = prepare_demo_assets()
    assert builds == ()
    assert 0 <= seconds <= time.perf_counter() - started
    assert seconds < 5


def test_the_recorder_reads_the_announcement_of_a_real_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANGCHAIN_TOKENOPT_HOME", str(tmp_path))
    recorder = _BuildRecorder()
    assets = logging.getLogger("langchain_tokenopt._assets")
    level = assets.level
    assets.setLevel(logging.INFO)
    assets.addHandler(recorder)
    try:
        folder = build_cached_asset(
            "demo-phases-test",
            marker="done.txt",
            build=lambda tmp: (tmp / "done.txt").write_text("ok"),
            what="write a test asset",
            expected="a moment",
        )
        build_cached_asset(  # cached now: no second announcement
            "demo-phases-test",
            marker="done.txt",
            build=lambda tmp: (tmp / "done.txt").write_text("again"),
            what="write a test asset",
            expected="a moment",
        )
    finally:
        assets.removeHandler(recorder)
        assets.setLevel(level)
    assert (folder / "done.txt").read_text() == "ok"
    assert recorder.builds == ["write a test asset"]
