"""A quiet, announced first run: one INFO line before a one-time build, no third-party noise."""

from __future__ import annotations

import io
import logging
import types
import warnings
from pathlib import Path

import pytest
from tqdm import tqdm

from langchain_tokenopt import _assets
from langchain_tokenopt._quiet import labelled_progress, quiet_first_run, quiet_third_party_logs


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LANGCHAIN_TOKENOPT_HOME", str(tmp_path))
    return tmp_path


def _onnxruntime_root_record(message: str, level: int = logging.WARNING) -> logging.LogRecord:
    """A record as onnxruntime's quantizer makes it: ``logging.warning`` on the root logger."""
    path = "/site-packages/onnxruntime/quantization/quantize.py"
    return logging.getLogger().makeRecord("root", level, path, 733, message, (), None)


def test_build_is_announced_once_with_its_duration_before_it_runs(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen_before_build: list[str] = []

    def build(folder: Path) -> None:
        seen_before_build.extend(r.getMessage() for r in caplog.records)
        (folder / "done").write_text("ok")

    caplog.set_level(logging.INFO, logger="langchain_tokenopt")
    kwargs = {"marker": "done", "build": build, "what": "make the thing", "expected": "about 3 s"}
    folder = _assets.build_cached_asset("thing-v1", **kwargs)  # type: ignore[arg-type]
    assert (folder / "done").read_text() == "ok"
    assert len(seen_before_build) == 1
    line = seen_before_build[0]
    assert "one-time preparation" in line and "make the thing" in line and "about 3 s" in line
    assert caplog.records[0].name.startswith("langchain_tokenopt")
    assert caplog.records[0].levelno == logging.INFO
    caplog.clear()
    assert _assets.build_cached_asset("thing-v1", **kwargs) == folder  # type: ignore[arg-type]
    assert caplog.records == []  # built: no second announcement


def test_third_party_noise_is_silenced_inside_a_build_only(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bm25s_logger = logging.getLogger("bm25s")
    bm25s_logger.setLevel(logging.DEBUG)  # what bm25s does to itself at import

    def noisy(message: str) -> None:
        warnings.warn_explicit(message, UserWarning, "tracer.py", 1, module="torch.jit._trace")
        warnings.warn_explicit(message, UserWarning, "x.py", 1, module="onnxruntime.quant")
        logging.getLogger().handle(_onnxruntime_root_record(message))
        bm25s_logger.debug("%s Building index from tokens", message)

    def build(folder: Path) -> None:
        noisy("inside")
        warnings.warn("ours, inside", UserWarning, stacklevel=1)  # our own warnings still show
        (folder / "done").write_text("ok")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _assets.build_cached_asset(
            "noisy-v1", marker="done", build=build, what="build noisily", expected="now"
        )
        noisy("outside")
    assert [str(w.message) for w in caught] == ["ours, inside", "outside", "outside"]
    messages = [r.getMessage() for r in caplog.records]
    assert not any(m.startswith("inside") for m in messages)
    assert "outside" in messages and "outside Building index from tokens" in messages
    assert bm25s_logger.level == logging.DEBUG  # restored, not changed for good
    assert not logging.getLogger().filters


def test_quiet_logs_nest_and_restore_levels() -> None:
    target = logging.getLogger("bm25s")
    target.setLevel(logging.DEBUG)
    with quiet_third_party_logs():
        with quiet_third_party_logs():
            assert not target.isEnabledFor(logging.INFO)
        assert not target.isEnabledFor(logging.INFO)  # the outer block still holds
    assert target.level == logging.DEBUG
    with quiet_first_run():
        assert not target.isEnabledFor(logging.DEBUG)
    assert target.isEnabledFor(logging.DEBUG)


def test_a_root_handler_installed_by_a_library_is_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    """``logging.warning`` (onnxruntime's quantizer) calls basicConfig when root has none."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    with quiet_first_run():
        logging.warning("Please consider to run pre-processing before quantization")
        assert root.handlers  # what logging.warning did
    assert root.handlers == []


def test_progress_bars_are_labelled_with_their_purpose() -> None:
    library = types.ModuleType("fake_library")
    library.tqdm = tqdm  # type: ignore[attr-defined]
    with labelled_progress(library, "tokenopt one-time table"):
        bar = library.tqdm(total=3, desc="Encoding tokens", file=io.StringIO())
        plain = library.tqdm(total=3, file=io.StringIO())
    assert bar.desc == "tokenopt one-time table: Encoding tokens"
    assert plain.desc == "tokenopt one-time table"
    assert library.tqdm is tqdm  # restored
    without = types.ModuleType("other_version")
    with labelled_progress(without, "label"):  # no tqdm attribute: nothing to do
        assert not hasattr(without, "tqdm")


def test_the_static_distillation_bar_is_labelled() -> None:
    """model2vec still opens its bar through the module attribute we label."""
    inference = pytest.importorskip("model2vec.distill.inference")
    assert isinstance(inference.tqdm, type) and issubclass(inference.tqdm, tqdm)
