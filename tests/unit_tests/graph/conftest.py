from __future__ import annotations

from pathlib import Path

import pytest

from langchain_tokenopt.cache import LocalBackend, SemanticCache
from langchain_tokenopt.llms import LocalChatModel
from langchain_tokenopt.monitoring import MemoryMetricsStore, TokenOptCallbackHandler


@pytest.fixture(scope="session")
def llm() -> LocalChatModel:
    # Greedy decoding (temperature 0) so answers are reproducible and cacheable.
    return LocalChatModel(max_new_tokens=12, dtype="bfloat16")


@pytest.fixture
def cache(tmp_path: Path) -> SemanticCache:
    return SemanticCache(backend=LocalBackend(path=tmp_path / "cache.sqlite"))


@pytest.fixture
def monitor() -> TokenOptCallbackHandler:
    return TokenOptCallbackHandler(store=MemoryMetricsStore())
