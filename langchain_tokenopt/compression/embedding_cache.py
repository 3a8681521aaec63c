"""A bounded per-text cache in front of an embedder, so repeated items are embedded once.

System prompts, few-shot demonstrations and retrieved documents recur across calls; their
vectors are kept in an LRU keyed by the exact text (:class:`CachedEncoder`, which lives in the
base layer: the int8 embedder keeps its own newest vectors with it too).

Example:
    .. code-block:: python

        from langchain_tokenopt.compression.embedding_cache import CachedEncoder
        from langchain_tokenopt.embeddings import OnnxEmbeddings

        encoder = CachedEncoder(OnnxEmbeddings(), max_entries=4096)
        vectors = encoder.encode(["a sentence", "another one"])  # (2, 384) unit vectors
        encoder.encode(["a sentence"])  # served from the cache
"""

from __future__ import annotations

from langchain_tokenopt._vectors import CachedEncoder, encode_texts

__all__ = ["CachedEncoder", "encode_texts"]
