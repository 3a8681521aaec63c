"""A bounded per-text cache in front of an embedder, so repeated texts are embedded once.

System prompts, few-shot demonstrations and retrieved documents recur across calls; their
vectors are kept in an LRU keyed by the exact text. Only the texts missing from the cache
are sent to the embedder, in one call. The default embedder (int8 ONNX MiniLM) embeds each
text on its own, so a cached vector is identical to a fresh one and results stay
deterministic whatever was cached before.

Example:
    .. code-block:: python

        from langchain_tokenopt._vectors import CachedEncoder
        from langchain_tokenopt.embeddings import OnnxEmbeddings

        encoder = CachedEncoder(OnnxEmbeddings(), max_entries=4096)
        vectors = encoder.encode(["a sentence", "another one"])  # (2, 384) unit vectors
        encoder.encode(["a sentence"])  # served from the cache
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from langchain_tokenopt.errors import TokenOptConfigError

__all__ = ["CachedEncoder", "encode_texts"]


def encode_texts(embeddings: Any, texts: list[str]) -> np.ndarray:
    """Embed ``texts`` into a float64 array of unit vectors.

    Args:
        embeddings: An object with ``encode(list[str])`` returning unit vectors, or a LangChain
            ``Embeddings`` (its vectors are normalized here).
        texts: The texts.
    """
    if hasattr(embeddings, "encode"):
        return np.asarray(embeddings.encode(texts), dtype=np.float64)
    vectors = np.asarray(embeddings.embed_documents(texts), dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


class CachedEncoder:
    """LRU cache of unit vectors per exact text in front of any embedder.

    Args:
        embeddings: What computes the vectors (see :func:`encode_texts`).
        max_entries: Vectors kept (384 floats each: 10,000 entries take about 30 MB).

    Example:
        .. code-block:: python

            encoder = CachedEncoder(OnnxEmbeddings())
            encoder.encode(["hello"]).shape  # (1, 384)
            encoder.hits, encoder.misses  # (0, 1)
    """

    def __init__(self, embeddings: Any, *, max_entries: int = 10_000) -> None:
        if not isinstance(max_entries, int) or isinstance(max_entries, bool) or max_entries < 0:
            msg = f"max_entries must be a non-negative int, got {max_entries!r}"
            raise TokenOptConfigError(msg)
        self.embeddings = embeddings
        self.max_entries = max_entries
        self.hits = 0
        """Texts served from the cache."""
        self.misses = 0
        """Texts sent to the embedder."""
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Return one unit vector per text (rows in the order of ``texts``)."""
        found, missing = self.lookup(texts)
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            self.keep(found, missing, encode_texts(self.embeddings, missing))
        if not texts:
            return np.zeros((0, 0), dtype=np.float64)
        return np.stack([found[t] for t in texts])

    def lookup(self, texts: Sequence[str]) -> tuple[dict[str, np.ndarray], list[str]]:
        """The kept vectors of ``texts`` by text, and the texts (deduplicated) still missing.

        With :meth:`keep`, what :meth:`encode` does, for a caller that embeds the missing
        texts its own way (an async embedder, float32 rows).
        """
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in texts:
                vector = self._vectors.get(text)
                if vector is not None:
                    self._vectors.move_to_end(text)
                    found[text] = vector
        return found, [t for t in dict.fromkeys(texts) if t not in found]

    def keep(self, found: dict[str, np.ndarray], texts: list[str], vectors: Any) -> None:
        """Add the fresh ``vectors`` of ``texts`` to ``found`` and to the cache."""
        for text, vector in zip(texts, vectors, strict=True):
            found[text] = vector
        if self.max_entries:
            with self._lock:
                for text, vector in zip(texts, vectors, strict=True):
                    self._vectors[text] = vector
                    self._vectors.move_to_end(text)
                while len(self._vectors) > self.max_entries:
                    self._vectors.popitem(last=False)

    def clear(self) -> None:
        """Forget every cached vector."""
        with self._lock:
            self._vectors.clear()
