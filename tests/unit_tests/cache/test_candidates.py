"""Top-k candidates on the LocalBackend (exact and HNSW scopes), sync and async."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from langchain_tokenopt.cache import SemanticCache
from langchain_tokenopt.errors import TokenOptConfigError

from . import candidate_checks
from .conftest import CountingEmbeddings

MakeCache = Callable[..., SemanticCache]


@pytest.fixture(params=["exact", "hnsw"])
def make_local(request: pytest.FixtureRequest, make_cache: MakeCache) -> MakeCache:
    """A LocalBackend cache whose scope search is exact numpy, or usearch HNSW from 1 vector."""
    made = iter(range(100))
    backend_kw = {"exact_limit": 1} if request.param == "hnsw" else {}
    return lambda **kw: make_cache(name=f"c{next(made)}.sqlite3", backend_kw=backend_kw, **kw)


@pytest.mark.parametrize("check", candidate_checks.CHECKS, ids=lambda c: c.__name__)
def test_further_candidates(make_local: MakeCache, check: Callable[[MakeCache], None]) -> None:
    check(make_local)


def test_backend_returns_nearest_first(
    make_local: MakeCache, embeddings: CountingEmbeddings
) -> None:
    def embed(text: str) -> np.ndarray:
        vec = embeddings.encode([text])[0]
        return vec / np.linalg.norm(vec)

    candidate_checks.backend_returns_nearest_first(make_local, embed)


async def test_async_further_candidates(make_local: MakeCache) -> None:
    await candidate_checks.async_nearest_refused_next_served(make_local)


@pytest.mark.parametrize("bad", [0, -1, 17, 2.0, True, "4"])
def test_max_candidates_is_validated(make_cache: MakeCache, bad: object) -> None:
    with pytest.raises(TokenOptConfigError, match="max_candidates"):
        make_cache(max_candidates=bad)
