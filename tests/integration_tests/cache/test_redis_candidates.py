"""Top-k candidates on real Redis: the RediSearch KNN index and the 3-master cluster.

The same checks as the LocalBackend (``tests/unit_tests/cache/candidate_checks.py``): a
near miss the verifier refuses does not hide the paraphrase behind it, sync and async.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from langchain_tokenopt.cache import SemanticCache
from langchain_tokenopt.embeddings import OnnxEmbeddings

from ...unit_tests.cache import candidate_checks
from .test_redis_cluster import make_cluster_cache  # noqa: F401  (the cluster fixture)

MakeCache = Callable[..., SemanticCache]


@pytest.fixture(params=["redis", "cluster"])
def make_any(request: pytest.FixtureRequest) -> MakeCache:
    fixture = "make_redis_cache" if request.param == "redis" else "make_cluster_cache"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


@pytest.mark.parametrize("check", candidate_checks.CHECKS, ids=lambda c: c.__name__)
def test_further_candidates(make_any: MakeCache, check: Callable[[MakeCache], None]) -> None:
    check(make_any)


def test_backend_returns_nearest_first(make_any: MakeCache, embeddings: OnnxEmbeddings) -> None:
    def embed(text: str) -> np.ndarray:
        vec = embeddings.encode([text])[0]
        return vec / np.linalg.norm(vec)

    candidate_checks.backend_returns_nearest_first(make_any, embed)


async def test_async_further_candidates(make_any: MakeCache) -> None:
    await candidate_checks.async_nearest_refused_next_served(make_any)
