"""Vectors of the demo's system-prompt sentences, kept on disk between runs.

The demo's system-prompt step ranks every sentence of the workload's optional modules with
the int8 ONNX MiniLM (:func:`~examples.tokenopt_demo.prompt.demo_system_fitter`). Within a
run each sentence is embedded once and reused; across runs the same sentences were embedded
again, about a thousand texts, the largest share of a warm demo's first minute on two busy
cores. :class:`PersistentVectors` keeps those vectors in one file per embedder model, so
a warm run reads them instead.

The vectors are the embedder's own: :class:`~langchain_tokenopt.embeddings.OnnxEmbeddings`
embeds each text on its own (a text's vector never depends on the others), so a stored
vector equals a fresh one bit for bit and the run's rankings, and every figure, are the same
with or without the file. Only texts are stored that the embedder has embedded; the file is
keyed by the model file (path, size, modification time), so a new model starts a new file.

Example:
    .. code-block:: python

        from examples.tokenopt_demo.vectors import PersistentVectors
        from langchain_tokenopt.embeddings import OnnxEmbeddings

        vectors = PersistentVectors(OnnxEmbeddings(), name="demo-prompt")
        vectors.encode(["Refunds go to the original payment method."])  # (1, 384)
        vectors.stored  # texts read from the file or embedded so far
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from langchain_tokenopt.errors import TokenOptConfigError

__all__ = ["PersistentVectors"]

logger = logging.getLogger(__name__)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PersistentVectors:
    """A deterministic embedder's vectors per exact text, read from and written to a file.

    Args:
        embeddings: An object with ``encode(list[str])`` returning one vector per text, each
            computed on its own (``OnnxEmbeddings``).
        name: The file's name under ``user_cache_dir()/demo_vectors`` (one per use).
        model_file: The embedder's model file, which keys the stored vectors; default: the
            int8 ONNX MiniLM that ``OnnxEmbeddings`` loads.
        folder: Where the file is kept (default ``user_cache_dir()/demo_vectors``).
        keep: Which embedded texts are stored (default: all); the demo leaves its questions
            out, so each run still embeds every question as a user's would be.

    Example:
        .. code-block:: python

            vectors = PersistentVectors(OnnxEmbeddings(), name="demo-prompt")
            vectors.encode(["a sentence"]).shape  # (1, 384)
    """

    def __init__(
        self,
        embeddings: Any,
        *,
        name: str,
        model_file: Path | str | None = None,
        folder: Path | str | None = None,
        keep: Callable[[str], bool] | None = None,
    ) -> None:
        if not hasattr(embeddings, "encode"):
            msg = f"embeddings must have encode(list[str]), got {type(embeddings).__name__}"
            raise TokenOptConfigError(msg)
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            msg = f"name must be a plain file name, got {name!r}"
            raise TokenOptConfigError(msg)
        self.embeddings = embeddings
        self.name = name
        self._model_file = Path(model_file) if model_file is not None else None
        self._folder = Path(folder) if folder is not None else None
        if keep is not None and not callable(keep):
            msg = f"keep must be a callable or None, got {keep!r}"
            raise TokenOptConfigError(msg)
        self.keep = keep
        """Which embedded texts are stored (``None``: all)."""
        self._vectors: dict[str, np.ndarray] | None = None
        self._lock = threading.Lock()
        self.embedded = 0
        """Texts sent to the embedder by this object (not found in the file)."""

    @property
    def path(self) -> Path:
        """The file holding the vectors (its name carries the model file's key)."""
        from langchain_tokenopt._assets import user_cache_dir

        model = self._model_file
        if model is None:
            from langchain_tokenopt.embeddings import ONNX_ASSET, onnx_int8_model_dir

            model = Path(onnx_int8_model_dir()) / "model.int8.onnx"
            key_name = ONNX_ASSET
        else:
            key_name = model.name
        stat = model.stat()
        key = _digest(f"{model.resolve()}|{stat.st_size}|{stat.st_mtime_ns}")[:16]
        folder = self._folder or user_cache_dir() / "demo_vectors"
        return folder / f"{self.name}-{key_name}-{key}.npz"

    @property
    def stored(self) -> int:
        """Texts whose vectors are held (read from the file or embedded)."""
        return len(self._load())

    def _load(self) -> dict[str, np.ndarray]:
        if self._vectors is None:
            vectors: dict[str, np.ndarray] = {}
            path = self.path
            if path.is_file():
                try:
                    with np.load(path, allow_pickle=False) as data:
                        keys, matrix = data["keys"], data["vectors"]
                        vectors = {str(k): matrix[i] for i, k in enumerate(keys)}
                except (OSError, ValueError, KeyError) as exc:
                    logger.warning("ignoring the unreadable vector file %s (%r)", path, exc)
            self._vectors = vectors
        return self._vectors

    def _save(self, vectors: dict[str, np.ndarray]) -> None:
        from langchain_tokenopt._assets import atomic_write_bytes

        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        keys = sorted(vectors)
        np.savez(buffer, keys=np.asarray(keys), vectors=np.stack([vectors[k] for k in keys]))
        try:
            atomic_write_bytes(path, buffer.getvalue())
        except OSError as exc:  # a read-only cache folder only costs the next run's time
            logger.warning("could not keep the vectors in %s (%r)", path, exc)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Return one vector per text, embedding (and storing) only the texts not held yet."""
        with self._lock:
            vectors = self._load()
            keys = [_digest(t) for t in texts]
            held = {k: vectors[k] for k in keys if k in vectors}
            missing = list(dict.fromkeys(t for t in texts if _digest(t) not in held))
            if missing:
                fresh = np.asarray(self.embeddings.encode(missing))
                kept = False
                for text, vector in zip(missing, fresh, strict=True):
                    held[_digest(text)] = vector
                    if self.keep is None or self.keep(text):
                        vectors[_digest(text)] = vector
                        kept = True
                self.embedded += len(missing)
                if kept:
                    self._save(vectors)
            if not texts:
                return np.asarray(self.embeddings.encode([]))
            return np.stack([held[k] for k in keys])
