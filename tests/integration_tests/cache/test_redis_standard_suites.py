"""langchain_tests standard cache suites on the Redis backend (real Redis 8 + RediSearch)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from langchain_tests.integration_tests.cache import AsyncCacheTestSuite, SyncCacheTestSuite

from langchain_tokenopt.cache import SemanticCache


class TestRedisSemanticCacheSync(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self, make_redis_cache: Callable[..., SemanticCache]) -> SemanticCache:
        return make_redis_cache()


class TestRedisSemanticCacheAsync(AsyncCacheTestSuite):
    @pytest.fixture
    async def cache(self, make_redis_cache: Callable[..., SemanticCache]) -> SemanticCache:
        return make_redis_cache()
