"""Persist tool embeddings keyed by a content hash, so only changed tools are re-embedded.

One folder per embedder (``<root>/<embedder id hash>/``) holds ``keys.json`` (the content
hashes, in row order, plus the embedder id) and ``vectors.npy`` (float32 rows). No pickle:
``numpy.load(..., allow_pickle=False)``. Writes merge with what is on disk under a file lock
and land atomically (temp file + rename), so several processes can share the folder. A
corrupt or unreadable store is logged and ignored (vectors are recomputed).

Example:
    .. code-block:: python

        store = EmbeddingStore(user_cache_dir() / "tool_embeddings", embedder_id="minilm")
        vectors = store.embed(["get weather: current weather"], embed_fn)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from langchain_tokenopt._assets import atomic_write, file_lock
from langchain_tokenopt.tools.catalog import content_hash

logger = logging.getLogger(__name__)

__all__ = ["EmbeddingStore"]

_FORMAT = 1


class EmbeddingStore:
    """Content-addressed vectors on disk (JSON + ``.npy``), with an in-memory copy.

    Args:
        directory: Root folder; one sub-folder per embedder id.
        embedder_id: Identifies the embedding model; vectors of different ids never mix.

    Example:
        .. code-block:: python

            store = EmbeddingStore(tmp_path, embedder_id="LocalEmbeddings")
            store.embed(["a", "b"], lambda texts: my_embedder.encode(texts))
            store.last_computed  # 2 the first time, 0 the next
    """

    def __init__(self, directory: Path | str, *, embedder_id: str) -> None:
        digest = hashlib.sha256(embedder_id.encode()).hexdigest()[:16]
        self.directory = Path(directory) / digest
        self.embedder_id = embedder_id
        self._lock = threading.Lock()
        self._memory: dict[str, np.ndarray] = {}
        self._loaded = False
        self.last_computed = 0
        """How many texts the last :meth:`embed` call had to compute."""

    # ------------------------------------------------------------------ disk
    def _read(self) -> dict[str, np.ndarray]:
        keys_path = self.directory / "keys.json"
        vec_path = self.directory / "vectors.npy"
        if not keys_path.exists() or not vec_path.exists():
            return {}
        try:
            meta = json.loads(keys_path.read_text("utf-8"))
            matrix = np.load(vec_path, allow_pickle=False)
            keys = meta["keys"]
            if meta.get("format") != _FORMAT or meta.get("embedder_id") != self.embedder_id:
                return {}
            if matrix.ndim != 2 or matrix.shape[0] != len(keys):
                raise ValueError("row count does not match keys")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring unreadable tool-embedding store %s: %s", self.directory, exc)
            return {}
        return {k: matrix[i] for i, k in enumerate(keys)}

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with file_lock(self.directory / ".lock"):
            yield

    def _write(self, new: dict[str, np.ndarray]) -> None:
        with self._file_lock():
            merged = self._read()
            merged.update(new)
            keys = list(merged)
            dim = next(iter(merged.values())).shape[0]
            matrix = np.zeros((len(keys), dim), dtype=np.float32)
            for i, k in enumerate(keys):
                matrix[i] = merged[k]
            meta = {"format": _FORMAT, "embedder_id": self.embedder_id, "keys": keys}
            atomic_write(self.directory / "vectors.npy", lambda f: np.save(f, matrix), fsync=False)
            atomic_write(
                self.directory / "keys.json",
                lambda f: f.write(json.dumps(meta).encode("utf-8")),
                fsync=False,
            )
            self._memory.update(merged)

    # ------------------------------------------------------------------ api
    def embed(
        self, texts: Sequence[str], embed_fn: Callable[[list[str]], np.ndarray]
    ) -> np.ndarray:
        """Return one vector per text, computing (and persisting) only the unknown ones."""
        with self._lock:
            if not self._loaded:
                self._memory.update(self._read())
                self._loaded = True
            keys = [content_hash(t) for t in texts]
            missing: dict[str, str] = {}
            for key, text in zip(keys, texts, strict=True):
                if key not in self._memory and key not in missing:
                    missing[key] = text
            self.last_computed = len(missing)
            if missing:
                vectors = np.asarray(embed_fn(list(missing.values())), dtype=np.float32)
                new = {k: vectors[i] for i, k in enumerate(missing)}
                self._memory.update(new)
                try:
                    self._write(new)
                except OSError as exc:
                    logger.warning(
                        "could not persist tool embeddings to %s: %s", self.directory, exc
                    )
            if not keys:
                return np.zeros((0, 0), dtype=np.float32)
            return np.stack([self._memory[k] for k in keys]).astype(np.float32, copy=False)
