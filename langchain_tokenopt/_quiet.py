"""Silence known third-party chatter around our own calls, never process-wide.

Several libraries we call print things a user cannot act on: torch's ``TracerWarning`` and
ONNX ``UserWarning`` while exporting MiniLM, onnxruntime's quantizer logging through the
*root* logger (``WARNING:root:Please consider to run pre-processing before quantization``
and pages of ``INFO:root:...``), and bm25s, which sets its own logger to ``DEBUG`` at import
(``DEBUG:bm25s:Building index from tokens``). The context managers here quiet exactly those
sources while our code runs and restore everything on exit; nothing is changed at import.

* :func:`quiet_third_party_logs` raises the listed third-party loggers to ``WARNING`` and
  drops root-logger records that come from onnxruntime. Thread-safe and cheap: use it
  around any hot call.
* :func:`quiet_first_run` adds a ``warnings.catch_warnings()`` block that ignores warnings
  raised inside torch, transformers, ONNX and model2vec. ``catch_warnings`` is process-wide
  while it is active, so this is for the one-time asset builds only.
* :func:`labelled_progress` prefixes the description of a library's ``tqdm`` bars, so a bar
  such as model2vec's ``Encoding tokens`` says what it is for.

Example:
    .. code-block:: python

        from langchain_tokenopt._quiet import quiet_third_party_logs

        with quiet_third_party_logs():
            retriever.index(corpus)  # no DEBUG:bm25s lines
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

__all__ = ["labelled_progress", "quiet_first_run", "quiet_third_party_logs"]

#: Third-party loggers raised to WARNING while our code calls into them.
NOISY_LOGGERS = ("bm25s", "skeletoken", "model2vec")
#: Packages that log through the root logger; their root records are dropped.
_ROOT_LOGGING_PACKAGES = ("/onnxruntime/", "\\onnxruntime\\")
#: Modules whose warnings are ignored during a one-time build (``re.match`` on the module).
_NOISY_WARNING_MODULES = (
    r"(torch|transformers|onnx|onnxruntime|onnxscript|model2vec|skeletoken|"
    r"sentence_transformers|huggingface_hub)(\.|$)"
)
#: The TorchScript exporter's deprecation notice, attributed to our own call site.
_LEGACY_EXPORT_MESSAGE = r"You are using the legacy TorchScript-based ONNX export"

_state_lock = threading.Lock()
_depth = 0
_saved_levels: dict[str, int] = {}


class _DropRootRecordsFrom(logging.Filter):
    """Drop records logged on the root logger from a file inside one of the packages."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(part in record.pathname for part in _ROOT_LOGGING_PACKAGES)


_root_filter = _DropRootRecordsFrom()


@contextlib.contextmanager
def quiet_third_party_logs() -> Iterator[None]:
    """Quiet the known noisy third-party loggers until the block ends.

    Nested and concurrent uses share one set of changes: the first entry applies them and
    the last exit restores the loggers' previous levels and removes the root filter.
    """
    global _depth
    with _state_lock:
        if _depth == 0:
            for name in NOISY_LOGGERS:
                noisy = logging.getLogger(name)
                _saved_levels[name] = noisy.level
                if noisy.getEffectiveLevel() < logging.WARNING:
                    noisy.setLevel(logging.WARNING)
            logging.getLogger().addFilter(_root_filter)
        _depth += 1
    try:
        yield
    finally:
        with _state_lock:
            _depth -= 1
            if _depth == 0:
                logging.getLogger().removeFilter(_root_filter)
                for name, level in _saved_levels.items():
                    logging.getLogger(name).setLevel(level)
                _saved_levels.clear()


@contextlib.contextmanager
def quiet_first_run() -> Iterator[None]:
    """Quiet logs and third-party warnings around a one-time preparation step.

    Warnings raised inside our own modules still show, except the TorchScript exporter's
    deprecation notice, which we cannot act on until the dynamo exporter matches it. A root
    handler that a library installed during the block (with none before) is removed again.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with quiet_third_party_logs(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=_NOISY_WARNING_MODULES)
            warnings.filterwarnings("ignore", message=_LEGACY_EXPORT_MESSAGE)
            yield
    finally:
        # onnxruntime's quantizer calls ``logging.warning``, which installs a root handler
        # when there is none (``logging.basicConfig``); after that every DEBUG record of a
        # logger such as bm25s would print. Undo that, and only that.
        if not handlers:
            for added in list(root.handlers):
                root.removeHandler(added)
        root.setLevel(level)


@contextlib.contextmanager
def labelled_progress(module: ModuleType, label: str, *, attribute: str = "tqdm") -> Iterator[None]:
    """Prefix ``label`` to the description of every ``tqdm`` bar ``module`` opens.

    ``module`` must hold the ``tqdm`` class under ``attribute`` (``from tqdm import tqdm``);
    when it does not (another version of the library), bars are left as they are.

    Args:
        module: The library module that creates the bars.
        label: What the bars are for ("tokenopt one-time static table").
        attribute: The name under which ``module`` holds the ``tqdm`` class.
    """
    original = getattr(module, attribute, None)
    if not isinstance(original, type):
        yield
        return

    class _Labelled(original):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            desc = kwargs.get("desc")
            kwargs["desc"] = f"{label}: {desc}" if desc else label
            super().__init__(*args, **kwargs)

    setattr(module, attribute, _Labelled)
    try:
        yield
    finally:
        setattr(module, attribute, original)
