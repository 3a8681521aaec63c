from __future__ import annotations

from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from langchain_tokenopt.compression import CompressorDocumentCompressor, QueryAwareCompressor
from langchain_tokenopt.tokens import TokenCounter


class _FixedRetriever(BaseRetriever):
    docs: list[Document]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return self.docs


def test_contextual_compression_retriever(documents: list[Document]) -> None:
    retriever = ContextualCompressionRetriever(
        base_compressor=CompressorDocumentCompressor(
            compressor=QueryAwareCompressor(target_tokens=60)
        ),
        base_retriever=_FixedRetriever(docs=documents),
    )
    out = retriever.invoke("When was the Eiffel Tower completed?")
    assert out and any("1889" in d.page_content for d in out)
    assert TokenCounter().count("\n\n".join(d.page_content for d in out)) <= 60
    originals = {id(d.metadata) for d in documents}
    assert all(id(d.metadata) in originals for d in out)


async def test_async_adapter(documents: list[Document]) -> None:
    adapter = CompressorDocumentCompressor(compressor=QueryAwareCompressor(target_tokens=60))
    sync = adapter.compress_documents(documents, "When was the Eiffel Tower completed?")
    got = await adapter.acompress_documents(documents, "When was the Eiffel Tower completed?")
    assert [d.page_content for d in got] == [d.page_content for d in sync]
    assert adapter.compress_documents([], "q") == []
