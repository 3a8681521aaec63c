"""LLMLingua on the local SmolLM2, end to end and offline (a few hundred tokens)."""

from __future__ import annotations

import socket

import pytest
from langchain_core.documents import Document

from langchain_tokenopt.compression import (
    CompressorDocumentCompressor,
    LLMLinguaCompressor,
)
from langchain_tokenopt.tokens import TokenCounter

pytestmark = pytest.mark.requires_lm


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_longllmlingua_offline_end_to_end(no_network: None) -> None:
    docs = [
        Document(
            page_content=f"Document {i}: the river Foo{i} flows north through the valley "
            f"and is {i * 10 + 5} km long with many fish.",
            metadata={"i": i},
        )
        for i in range(8)
    ]
    docs.append(
        Document(page_content="The Eiffel Tower in Paris was completed in 1889.", metadata={"i": 8})
    )
    counter = TokenCounter()
    before = counter.count("\n\n".join(d.page_content for d in docs))
    lingua = LLMLinguaCompressor(target_tokens=before // 3)
    result = lingua.invoke({"context": docs, "question": "When was the Eiffel Tower completed?"})
    assert result.method == "longllmlingua", result.warnings
    assert result.tokens_before == before
    assert 0 < result.tokens_after < before
    assert result.tokens_after == counter.count(result.text)
    adapter = CompressorDocumentCompressor(compressor=lingua.with_budget(before // 2))
    out = adapter.compress_documents(docs, "When was the Eiffel Tower completed?")
    assert len(out) == 1 and 0 < counter.count(out[0].page_content) < before


def test_plain_llmlingua_and_unchanged(no_network: None) -> None:
    text = " ".join(
        f"Sentence number {i} is about apples and pears in the orchard." for i in range(20)
    )
    lingua = LLMLinguaCompressor(target_tokens=60, dtype="float32")
    result = lingua.invoke(text)
    assert result.method == "llmlingua"
    assert result.tokens_after < result.tokens_before
    assert lingua.invoke("short").method == "unchanged"
