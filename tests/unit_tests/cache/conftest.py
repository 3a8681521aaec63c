"""Fixtures for cache unit tests: the real packaged embedder (int8 ONNX MiniLM)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from langchain_tokenopt.cache import LocalBackend, SemanticCache
from langchain_tokenopt.embeddings import OnnxEmbeddings


class CountingEmbeddings(OnnxEmbeddings):
    """The real int8 MiniLM, counting how many texts it embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        return super().encode(texts)


@pytest.fixture(scope="session")
def shared_embeddings() -> CountingEmbeddings:
    emb = CountingEmbeddings()
    emb.encode(["warm up"])
    return emb


@pytest.fixture
def embeddings(shared_embeddings: CountingEmbeddings) -> CountingEmbeddings:
    shared_embeddings.calls = 0
    return shared_embeddings


@pytest.fixture
def make_cache(
    tmp_path: Path, embeddings: CountingEmbeddings
) -> Iterator[Callable[..., SemanticCache]]:
    made: list[SemanticCache] = []

    def make(
        name: str = "cache.sqlite3", backend_kw: dict[str, Any] | None = None, **kw: Any
    ) -> SemanticCache:
        backend = LocalBackend(path=tmp_path / name, **(backend_kw or {}))
        cache = SemanticCache(backend=backend, embeddings=embeddings, **kw)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.close()
