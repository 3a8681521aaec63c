"""Redis faults on the real server: kill -9 mid-load, restart, SIGSTOP (slow server).

The chain must never see an exception: lookups are misses while Redis is away, updates are
dropped (counted as errors), both backends reconnect by themselves, and with AOF on every
update acknowledged before the kill is served again after the restart.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from langchain_tokenopt.cache import RedisBackend, SemanticCache
from langchain_tokenopt.monitoring import RedisMetricsStore, RequestRecord
from tests.redis_server import RedisServer

from ...unit_tests.cache.helpers import chat_prompt, llm_string
from .conftest import answer

TIMEOUT = 0.25
LLM = llm_string()


def _cache(url: str, timeout: float = TIMEOUT) -> SemanticCache:
    backend = RedisBackend(
        url=url,
        prefix=f"flt{uuid.uuid4().hex[:6]}:",
        socket_timeout=timeout,
        retry_interval=0.2,
    )
    return SemanticCache(backend=backend, semantic=False)


def _record(i: int) -> RequestRecord:
    return RequestRecord(
        request_id=f"req-{i}", timestamp=time.time(), model="gpt-4o-mini", tenant_id="acme"
    )


def _wait_until(check: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_kill_9_during_cache_and_metrics_load(persistent_redis: RedisServer) -> None:
    # a generous timeout: a refused connection fails at once; only load could time out
    cache = _cache(persistent_redis.url, timeout=2.0)
    store = RedisMetricsStore(
        url=persistent_redis.url, socket_timeout=2.0, flush_interval=0.05, batch_size=16
    )
    acked: dict[str, str] = {}
    written_before_kill = 0
    outage_lookups: list[object] = []
    kill_at, total = 120, 200
    try:
        for i in range(total):
            prompt = chat_prompt(f"question number {i}")
            if i == kill_at:
                assert store.flush(5.0)
                written_before_kill = store.written
                persistent_redis.kill()
            errors_before = cache.stats().errors
            cache.update(prompt, LLM, answer(f"a{i}"))  # never raises
            store.add(_record(i))  # never raises, never blocks
            if cache.stats().errors == errors_before:
                acked[prompt] = f"a{i}"
            if i >= kill_at:
                outage_lookups.append(cache.lookup(chat_prompt(f"question number {i - 50}"), LLM))
            else:
                assert cache.lookup(prompt, LLM) == answer(f"a{i}")
        # every update before the kill acknowledged, none during the outage
        assert len(acked) == kill_at
        assert outage_lookups == [None] * (total - kill_at)
        assert cache.stats().errors >= total - kill_at

        persistent_redis.restart(kill=True)
        # the backend reconnects by itself (after its retry interval)
        probe = chat_prompt("question number 0")
        assert _wait_until(lambda: cache.lookup(probe, LLM) is not None)
        served = {p: cache.lookup(p, LLM) for p in acked}
        lost = [p for p, text in acked.items() if served[p] != answer(text)]
        assert lost == []
        # new writes work again, on both stores
        cache.update(chat_prompt("after restart"), LLM, answer("fresh"))
        assert cache.lookup(chat_prompt("after restart"), LLM) == answer("fresh")
        for i in range(total, total + 10):
            store.add(_record(i))
        assert store.flush(10.0)
        assert _wait_until(lambda: store.count() >= written_before_kill + 10)
        ids = {r.request_id for r in store.records(None)}
        assert {f"req-{i}" for i in range(kill_at)} <= ids
        assert {f"req-{i}" for i in range(total, total + 10)} <= ids
    finally:
        store.close()
        cache.close()


async def test_kill_9_during_concurrent_async_load(persistent_redis: RedisServer) -> None:
    cache = _cache(persistent_redis.url, timeout=2.0)
    try:
        prompts = [chat_prompt(f"async question {i}") for i in range(100)]
        await asyncio.gather(*(cache.aupdate(p, LLM, answer(p[-20:])) for p in prompts))
        assert cache.stats().errors == 0
        persistent_redis.kill()
        # a burst of concurrent calls during the outage: misses and dropped updates only
        results = await asyncio.gather(
            *(cache.alookup(p, LLM) for p in prompts),
            *(cache.aupdate(chat_prompt(f"lost {i}"), LLM, answer("x")) for i in range(50)),
        )
        assert results == [None] * 150
        persistent_redis.restart(kill=True)
        deadline = time.monotonic() + 10
        while await cache.alookup(prompts[0], LLM) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        served = await asyncio.gather(*(cache.alookup(p, LLM) for p in prompts))
        assert served == [answer(p[-20:]) for p in prompts]
    finally:
        cache.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_paused_server_lookups_time_out_as_misses(
    persistent_redis: RedisServer, mode: str
) -> None:
    cache = _cache(persistent_redis.url)
    prompt = chat_prompt("is the server slow?")
    cache.update(prompt, LLM, answer("yes"))
    if mode == "async":
        assert await cache.alookup(prompt, LLM) == answer("yes")
    persistent_redis.pause()
    try:
        t0 = time.perf_counter()
        if mode == "sync":
            result = cache.lookup(prompt, LLM)
        else:
            result = await cache.alookup(prompt, LLM)
        elapsed = time.perf_counter() - t0
        assert result is None
        # one socket timeout (plus scheduling slack), not a retry storm
        assert elapsed < TIMEOUT * 2 + 0.3, elapsed
        # while the backend is marked down, further lookups skip Redis entirely
        t0 = time.perf_counter()
        assert cache.lookup(prompt, LLM) is None
        assert time.perf_counter() - t0 < TIMEOUT / 2
    finally:
        persistent_redis.resume()
    assert _wait_until(lambda: cache.lookup(prompt, LLM) == answer("yes"))
    cache.close()
