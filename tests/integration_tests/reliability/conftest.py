"""Shared helpers of the reliability suites: real caches on real backends, tiny prompts.

The exact fast path (``semantic=False``) is used where the subject is storage, faults or
isolation, so no embedder is loaded and the suites stay fast.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.outputs import Generation

from langchain_tokenopt.cache import LocalBackend, RedisBackend, SemanticCache

MakeCache = Callable[..., SemanticCache]


def answer(text: str) -> list[Generation]:
    """One cached generation with ``text``."""
    return [Generation(text=text)]


@pytest.fixture
def make_local_cache(tmp_path: Path) -> Iterator[MakeCache]:
    """Build exact-path caches on a fresh LocalBackend file each."""
    made: list[SemanticCache] = []

    def make(**kw: Any) -> SemanticCache:
        backend = LocalBackend(path=tmp_path / f"{uuid.uuid4().hex[:8]}.sqlite3")
        kw.setdefault("semantic", False)
        cache = SemanticCache(backend=backend, **kw)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.close()


@pytest.fixture
def make_redis_cache(redis_url: str) -> Iterator[MakeCache]:
    """Build exact-path caches on the session Redis, one key prefix each."""
    made: list[SemanticCache] = []

    def make(url: str | None = None, backend_kw: dict[str, Any] | None = None, **kw: Any):
        options: dict[str, Any] = {"prefix": f"rel{uuid.uuid4().hex[:8]}:"}
        options.update(backend_kw or {})
        backend = RedisBackend(url=url or redis_url, **options)
        kw.setdefault("semantic", False)
        cache = SemanticCache(backend=backend, **kw)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.close()
