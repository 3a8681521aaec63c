"""Fixtures for Redis cache tests: the real int8 MiniLM and a unique key prefix per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from langchain_tokenopt.cache import RedisBackend, SemanticCache
from langchain_tokenopt.embeddings import OnnxEmbeddings


@pytest.fixture(scope="session")
def embeddings() -> OnnxEmbeddings:
    emb = OnnxEmbeddings()
    emb.encode(["warm up"])
    return emb


@pytest.fixture
def make_redis_cache(
    redis_url: str, embeddings: OnnxEmbeddings
) -> Iterator[Callable[..., SemanticCache]]:
    made: list[SemanticCache] = []

    def make(
        url: str | None = None, backend_kw: dict[str, Any] | None = None, **kw: Any
    ) -> SemanticCache:
        kwargs: dict[str, Any] = {"prefix": f"t{uuid.uuid4().hex[:8]}:"}
        kwargs.update(backend_kw or {})
        backend = RedisBackend(url=url or redis_url, **kwargs)
        cache = SemanticCache(backend=backend, embeddings=embeddings, **kw)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.close()
