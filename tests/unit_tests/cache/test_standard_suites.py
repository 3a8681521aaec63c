"""langchain_tests standard cache suites on the embedded backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from langchain_tests.integration_tests.cache import AsyncCacheTestSuite, SyncCacheTestSuite

from langchain_tokenopt.cache import SemanticCache


class TestLocalSemanticCacheSync(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self, make_cache: Callable[..., SemanticCache]) -> SemanticCache:
        return make_cache()


class TestLocalSemanticCacheAsync(AsyncCacheTestSuite):
    @pytest.fixture
    async def cache(self, make_cache: Callable[..., SemanticCache]) -> SemanticCache:
        return make_cache()
