"""LangChain's standard retriever suite on the real packaged embedder (no network needed)."""

from __future__ import annotations

from typing import Any

from langchain_tests.integration_tests import RetrieversIntegrationTests

from langchain_tokenopt.tools import ToolRetriever

from .conftest import make_catalog


class TestToolRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[ToolRetriever]:
        return ToolRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"tools": make_catalog(), "k": 2, "persist": False}

    @property
    def retriever_query_example(self) -> str:
        return "what is the weather in Lisbon?"
