"""RedisBackend under load and the lean KNN reply path, on the real Redis server."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable

import numpy as np
import pytest
import redis
from langchain_core.outputs import Generation

from langchain_tokenopt.cache import RedisBackend, SemanticCache
from langchain_tokenopt.cache.backends.redis_schema import knn_args, knn_fields
from langchain_tokenopt.embeddings import OnnxEmbeddings
from langchain_tokenopt.errors import TokenOptConfigError

from ...unit_tests.cache.helpers import chat_prompt, llm_string

MakeCache = Callable[..., SemanticCache]
GEN = [Generation(text="Paris.")]


async def test_async_burst_queues_instead_of_failing(
    make_redis_cache: MakeCache, redis_url: str
) -> None:
    # 4,000 concurrent lookups (8,000 Redis calls) through a gate of 2: they queue in the
    # event loop (never on the pool, whose timeout would turn them into misses), and the
    # server sees at most 2 new connections from the burst.
    cache = make_redis_cache(backend_kw={"max_concurrency": 2, "socket_timeout": 5.0})
    llm = llm_string()
    prompts = [chat_prompt(f"What is burst question number {i}?") for i in range(20)]
    for p in prompts:
        await cache.aupdate(p, llm, GEN)
    cache.reset_stats()
    admin = redis.Redis.from_url(redis_url)
    try:
        before = len(admin.client_list())
        results = await asyncio.gather(*(cache.alookup(prompts[i % 20], llm) for i in range(4000)))
        opened = len(admin.client_list()) - before
    finally:
        admin.close()
    stats = cache.stats()
    assert stats.errors == 0, stats
    assert stats.exact_hits == 4000
    assert all(r == GEN for r in results)
    assert opened <= 2


async def test_burst_while_redis_is_down_fails_open_fast(make_redis_cache: MakeCache) -> None:
    from tests.redis_server import free_port

    cache = make_redis_cache(
        url=f"redis://127.0.0.1:{free_port()}/0",
        backend_kw={"max_concurrency": 4, "socket_timeout": 0.2, "retry_interval": 5.0},
    )
    llm = llm_string()
    started = time.perf_counter()
    results = await asyncio.gather(
        *(cache.alookup(chat_prompt(f"question {i % 10}"), llm) for i in range(500))
    )
    # queued calls see the outage and return misses at once, not 500 timeouts one by one
    assert time.perf_counter() - started < 5.0
    assert results == [None] * 500
    assert cache.stats().errors == 500


def test_max_concurrency_is_validated() -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(TokenOptConfigError, match="max_concurrency"):
            RedisBackend(url="redis://localhost:1/0", max_concurrency=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", [2, 3])
def test_knn_reply_parses_in_both_protocols(
    make_redis_cache: MakeCache, redis_url: str, protocol: int
) -> None:
    cache = make_redis_cache()
    llm = llm_string()
    cache.update(chat_prompt("What is the capital of France?"), llm, GEN)
    backend = cache.backend
    assert isinstance(backend, RedisBackend) and backend.url == redis_url
    key = cache.entry_id(chat_prompt("What is the capital of France?"), llm)
    entry = backend.get(key, now=time.time())
    assert entry is not None and entry.vector is not None
    client = redis.Redis.from_url(redis_url, protocol=protocol)
    try:
        vec = np.frombuffer(entry.vector, dtype=np.float32)
        reply = client.execute_command(*knn_args(backend.index_name, entry.scope, vec.tobytes()))
        fields = knn_fields(reply)
        assert fields is not None
        text = {k.decode() if isinstance(k, bytes) else k: v for k, v in fields.items()}
        assert text["eid"] in (key, key.encode())
        assert float(text["dist"]) < 1e-5
        other = knn_args(backend.index_name, "ab" * 16, vec.tobytes())
        assert knn_fields(client.execute_command(*other)) is None  # another scope: nothing
    finally:
        client.close()


class _ConcurrencyProbe(OnnxEmbeddings):
    """The real int8 MiniLM, recording how many queries it embeds at once."""

    def __init__(self) -> None:
        super().__init__()
        self.active = 0
        self.peak = 0
        self._probe_lock = threading.Lock()

    def embed_query(self, text: str) -> list[float]:
        with self._probe_lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(0.002)  # hold the slot long enough for overlaps to show
            return super().embed_query(text)
        finally:
            with self._probe_lock:
                self.active -= 1


async def test_whole_calls_are_admitted_before_any_work(redis_url: str) -> None:
    # the admission gate bounds whole cache calls (key building, embedding, Redis), so a
    # burst does no work for queued calls; without it the embeds of 200 calls overlap
    probe = _ConcurrencyProbe()
    backend = RedisBackend(url=redis_url, prefix=f"adm{uuid.uuid4().hex[:6]}:", max_concurrency=2)
    cache = SemanticCache(backend=backend, embeddings=probe)
    llm = llm_string()
    try:
        await cache.aupdate(chat_prompt("What is the capital of France?"), llm, GEN)
        probe.peak = 0
        asks = [chat_prompt(f"What's the capital of France, question {i}?") for i in range(200)]
        await asyncio.gather(*(cache.alookup(p, llm) for p in asks))
        stats = cache.stats()
        assert stats.errors == 0
        assert stats.lookups == 200
        assert 1 <= probe.peak <= 2
    finally:
        cache.clear()
        cache.close()
