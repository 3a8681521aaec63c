"""``BaseDocumentCompressor`` adapter so our compressors plug into retrievers.

Works with ``langchain_classic.retrievers.ContextualCompressionRetriever`` (and anything
else that takes a ``BaseDocumentCompressor``) for both ``QueryAwareCompressor`` and
``LLMLinguaCompressor``.

Example:
    .. code-block:: python

        from langchain_classic.retrievers import ContextualCompressionRetriever
        from langchain_tokenopt.compression import (
            CompressorDocumentCompressor,
            QueryAwareCompressor,
        )

        retriever = ContextualCompressionRetriever(
            base_compressor=CompressorDocumentCompressor(
                compressor=QueryAwareCompressor(target_tokens=400)
            ),
            base_retriever=vectorstore.as_retriever(k=20),
        )
        docs = retriever.invoke("What is the refund window?")
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict, field_validator

__all__ = ["CompressorDocumentCompressor"]


class CompressorDocumentCompressor(BaseDocumentCompressor):
    """Compress retrieved documents for a query with one of our compressors.

    The compressor gets ``{"context": documents, "question": query}`` and the adapter
    returns ``result.documents`` (for ``QueryAwareCompressor``: the kept parts of each
    document, in retrieval order, with the original metadata dicts).

    Example:
        .. code-block:: python

            qa = QueryAwareCompressor(target_tokens=300)
            adapter = CompressorDocumentCompressor(compressor=qa)
            adapter.compress_documents(docs, "who founded the company?")
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    compressor: Any
    """A ``QueryAwareCompressor`` or ``LLMLinguaCompressor`` (any Runnable returning a
    ``CompressionResult``)."""

    @field_validator("compressor")
    @classmethod
    def _check(cls, value: Any) -> Any:
        if not hasattr(value, "invoke"):
            msg = "compressor must be a Runnable returning a CompressionResult"
            raise ValueError(msg)
        return value

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """Return the compressed documents for ``query``."""
        if not documents:
            return []
        config = {"callbacks": callbacks} if callbacks is not None else None
        result = self.compressor.invoke(
            {"context": list(documents), "question": query}, config=config
        )
        return list(result.documents)

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """Async :meth:`compress_documents` (CPU work in a worker thread)."""
        return await asyncio.to_thread(self.compress_documents, documents, query, callbacks)
