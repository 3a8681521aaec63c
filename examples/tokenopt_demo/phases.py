"""The demo's phases: install, one-time preparation, loading and run, with their times.

``make demo`` (``scripts/demo.sh``) times ``make install`` when it has to run and passes the
seconds to ``examples/demo.py --install-seconds``; the demo resolves its assets first
(:func:`prepare_demo_assets`: on a first run this builds what is neither shipped nor cached
yet, each build announced by one log line with its expected duration), then builds the agent
and loads its models, asks the questions, and prints the phases with :func:`render_phases`.

Example:
    .. code-block:: python

        from examples.tokenopt_demo.phases import DemoPhases, prepare_demo_assets, render_phases

        seconds, builds = prepare_demo_assets()
        render_phases(
            DemoPhases(
                install_seconds=None,
                already_installed=True,
                preparation_seconds=seconds,
                one_time_builds=builds,
                loading_seconds=6.1,
                run_seconds=95.0,
            )
        )
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from langchain_tokenopt.errors import MissingDependencyError, TokenOptConfigError

__all__ = ["DemoPhases", "prepare_demo_assets", "render_phases"]

#: The logger whose INFO records announce a one-time build (``build_cached_asset``).
_ASSETS_LOGGER = "langchain_tokenopt._assets"


@dataclass(frozen=True, kw_only=True)
class DemoPhases:
    """The demo's measured phases (wall time), printed at its end by :func:`render_phases`.

    Example:
        .. code-block:: python

            DemoPhases(install_seconds=184.0, already_installed=False,
                       preparation_seconds=0.2, loading_seconds=6.1, run_seconds=95.0)
    """

    install_seconds: float | None
    """``make install`` (pip) run by this ``make demo``; ``None`` when it did not run."""
    already_installed: bool
    """``make demo`` found the venv installed and skipped the install."""
    preparation_seconds: float
    """One-time preparation: resolving the demo's assets, building those a first run lacks."""
    loading_seconds: float
    """Building the agent and loading its models (every run)."""
    run_seconds: float
    """The token breakdown, the questions through the agent and the report."""
    one_time_builds: tuple[str, ...] = ()
    """What the one-time preparation built (empty when everything was shipped or cached)."""

    def __post_init__(self) -> None:
        for name in ("install_seconds", "preparation_seconds", "loading_seconds", "run_seconds"):
            value = getattr(self, name)
            if value is not None and value < 0:
                msg = f"{name} must be >= 0, got {value!r}"
                raise TokenOptConfigError(msg)
        if self.already_installed and self.install_seconds is not None:
            msg = "already_installed=True means no install ran: install_seconds must be None"
            raise TokenOptConfigError(msg)

    @property
    def total_seconds(self) -> float:
        """All measured phases together."""
        return (
            (self.install_seconds or 0.0)
            + self.preparation_seconds
            + self.loading_seconds
            + self.run_seconds
        )


class _BuildRecorder(logging.Handler):
    """Collect the one-time build announcements logged while it is attached."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.builds: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "one-time preparation" in message:
            # "tokenopt: one-time preparation: <what> (<expected>), into <folder>; ..."
            what = message.split("one-time preparation:", 1)[1].split(" (", 1)[0].strip()
            self.builds.append(what)


def prepare_demo_assets() -> tuple[float, tuple[str, ...]]:
    """Resolve every asset the demo uses, building those that are neither shipped nor cached.

    The assets: the tiktoken encodings, the int8 ONNX MiniLM query embedder and the
    compressor's static table (shipped as package data when the install has them), and the
    local SmolLM2 converted from its GGUF file. Each build logs one line with its expected
    duration before it starts (``langchain_tokenopt._assets``). A warm run only checks
    files.

    Returns:
        ``(seconds, builds)``: the wall time and what was built (empty when nothing was).

    Raises:
        MissingDependencyError: an asset's package is not installed (the message names it).
    """
    from langchain_tokenopt._assets import ensure_tiktoken_cache, smollm2_model_dir
    from langchain_tokenopt.compression.static_embeddings import static_model_dir
    from langchain_tokenopt.embeddings import onnx_int8_model_dir

    recorder = _BuildRecorder()
    assets = logging.getLogger(_ASSETS_LOGGER)
    previous = assets.level
    if assets.getEffectiveLevel() > logging.INFO:
        assets.setLevel(logging.INFO)
    assets.addHandler(recorder)
    started = time.perf_counter()
    try:
        ensure_tiktoken_cache()
        onnx_int8_model_dir()
        static_model_dir()
        smollm2_model_dir()
    finally:
        assets.removeHandler(recorder)
        assets.setLevel(previous)
    return time.perf_counter() - started, tuple(recorder.builds)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def rich_console(console: Any = None) -> tuple[Any, Any]:
    """``(console, Table)`` from rich, for the demo's tables (``console`` kept when given).

    Raises:
        MissingDependencyError: rich is not installed (extra ``cli``).
    """
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError as exc:  # pragma: no cover - rich ships with the cli extra
        raise MissingDependencyError("rich", extra="cli") from exc
    return console or Console(), Table


def render_phases(phases: DemoPhases, *, console: Any = None) -> None:
    """Print the demo's phases (install, one-time preparation, loading, run) with their times.

    Raises:
        MissingDependencyError: rich is not installed (extra ``cli``).
    """
    console, Table = rich_console(console)
    table = Table(title="Demo phases (wall time on this machine)")
    for col in ("phase", "time", "what it did"):
        table.add_column(col, justify="right" if col == "time" else "left")
    if phases.install_seconds is not None:
        table.add_row(
            "install",
            _duration(phases.install_seconds),
            "make install: pip installed the package, its extras and the local LM",
        )
    elif phases.already_installed:
        table.add_row("install", "already installed", "make demo found the venv installed")
    else:
        table.add_row("install", "not measured", "run through make demo to time it")
    builds = "; ".join(phases.one_time_builds) if phases.one_time_builds else None
    table.add_row(
        "one-time preparation",
        _duration(phases.preparation_seconds),
        f"built: {builds}" if builds else "nothing to build (assets shipped or cached)",
    )
    table.add_row("loading", _duration(phases.loading_seconds), "build the agent, load its models")
    table.add_row(
        "run",
        _duration(phases.run_seconds),
        "token breakdown, the questions through the optimized agent, report",
    )
    table.add_row("[b]total[/b]", _duration(phases.total_seconds), "")
    console.print(table)
