"""Where the compressors' per-text vector cache has always been imported from.

:class:`~langchain_tokenopt._vectors.CachedEncoder` (an LRU of unit vectors keyed by the exact
text, in front of any embedder) lives in the base layer, since the int8 embedder keeps its own
newest vectors with it too; this module keeps the import path users and the compressors know.
"""

from __future__ import annotations

from langchain_tokenopt._vectors import CachedEncoder, encode_texts

__all__ = ["CachedEncoder", "encode_texts"]
