"""RedisClusterBackend on a real 3-master Redis Cluster started from the packaged server.

Each scope lives on one slot (hash tag ``{scope}``) in one vector set; these tests check
that scopes land on every master, that lookups, tenant isolation, lifetime, tags, listing,
deletion and the LangChain standard suites behave as on one node, and that a master going
down makes its scopes miss (one warning) while the other masters keep serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from langchain_core.outputs import Generation
from langchain_tests.integration_tests.cache import AsyncCacheTestSuite, SyncCacheTestSuite
from redis.cluster import RedisCluster
from redis.crc import key_slot

from langchain_tokenopt.cache import (
    RedisBackend,
    RedisClusterBackend,
    SemanticCache,
    cache_scope,
)
from langchain_tokenopt.cache.keys import build_key
from langchain_tokenopt.cache.scope import CallerScope
from langchain_tokenopt.embeddings import OnnxEmbeddings
from tests.redis_server import RedisClusterServer

from ...unit_tests.cache import lifetime_checks
from ...unit_tests.cache.helpers import chat_prompt, llm_string

MakeCache = Callable[..., SemanticCache]
GEN = [Generation(text="answer")]


def _factory(url: str, embeddings: OnnxEmbeddings) -> tuple[MakeCache, list[SemanticCache]]:
    made: list[SemanticCache] = []

    def make(backend_kw: dict[str, Any] | None = None, **kw: Any) -> SemanticCache:
        kwargs: dict[str, Any] = {"prefix": f"c{uuid.uuid4().hex[:8]}:"}
        kwargs.update(backend_kw or {})
        backend = RedisClusterBackend(url=url, **kwargs)
        backend.count()  # connected before use: the TTL checks time entries, not the connect
        cache = SemanticCache(backend=backend, embeddings=embeddings, **kw)
        made.append(cache)
        return cache

    return make, made


@pytest.fixture
def make_cluster_cache(
    redis_cluster: RedisClusterServer, embeddings: OnnxEmbeddings
) -> Iterator[MakeCache]:
    make, made = _factory(redis_cluster.url, embeddings)
    yield make
    for cache in made:
        cache.close()


def _master_of(client: RedisCluster, key: str) -> str:
    return str(client.get_node_from_key(key).name)


def test_scopes_spread_over_every_master_and_all_hit(
    make_cluster_cache: MakeCache, redis_cluster: RedisClusterServer
) -> None:
    """60 tenants' entries land on all three masters; each hits exactly and semantically."""
    cache, llm = make_cluster_cache(), llm_string()
    backend = cache.backend
    assert isinstance(backend, RedisClusterBackend)
    tenants = [f"tenant-{n}" for n in range(60)]
    for tenant in tenants:
        with cache_scope(tenant_id=tenant):
            cache.update(chat_prompt("How do I reset my password?"), llm, _gen(tenant))
    spread = backend.spread()
    assert len(spread) == 3
    assert sum(spread.values()) == 60
    assert min(spread.values()) >= 5, spread  # each master holds a share of the scopes
    for tenant in tenants:
        with cache_scope(tenant_id=tenant):
            assert cache.lookup(chat_prompt("How do I reset my password?"), llm) == _gen(tenant)
            hit = cache.lookup(chat_prompt("how can I reset my password"), llm)
            assert hit == _gen(tenant)
    assert backend.count() == 60


def test_a_scope_keeps_all_its_keys_on_one_slot(
    make_cluster_cache: MakeCache, redis_cluster: RedisClusterServer
) -> None:
    cache, llm = make_cluster_cache(), llm_string()
    backend = cache.backend
    assert isinstance(backend, RedisClusterBackend)
    prompts = [chat_prompt(q) for q in ("Where is my order?", "Can I pay by card?")]
    for prompt in prompts:
        cache.update(prompt, llm, GEN, ttl=60)
        assert cache.lookup(prompt, llm) == GEN
    client = RedisCluster.from_url(redis_cluster.url)
    try:
        keys = [k.decode() for k in client.scan_iter(match=f"{backend.prefix}{{*")]
        assert len(keys) == 5  # two entries, two side hashes, one vector set
        assert len({client.keyslot(k) for k in keys}) == 1
        scope = keys[0].split("{")[1].split("}")[0]
        assert client.execute_command("VCARD", backend._set_key(scope)) == 2  # noqa: SLF001
        # the set lives as long as its longest-lived entry
        assert 0 < client.pttl(backend._set_key(scope)) <= 60_000  # noqa: SLF001
    finally:
        client.close()


def test_another_process_finds_entries_by_id_through_the_pointer(
    make_cluster_cache: MakeCache, redis_cluster: RedisClusterServer
) -> None:
    """A backend that never met an id reads its scope from ``id:{I}``; the key expires
    with its entry and goes when the entry is deleted."""
    writer, llm = make_cluster_cache(), llm_string()
    backend = writer.backend
    assert isinstance(backend, RedisClusterBackend)
    prompt = chat_prompt("What are your opening hours?")
    writer.update(prompt, llm, GEN, ttl=30)
    reader = make_cluster_cache(backend_kw={"prefix": backend.prefix})
    assert reader.lookup(prompt, llm) == GEN  # exact path: pointer, then the entry hash
    assert reader.stats().exact_hits == 1
    assert reader.lookup(chat_prompt("what are your opening hours"), llm) == GEN
    entry_id = reader.entries()[0].entry_id
    client = RedisCluster.from_url(redis_cluster.url)
    try:
        pointer = backend._pointer(entry_id)  # noqa: SLF001 - the layout is the subject
        assert 0 < client.pttl(pointer) <= 30_000
        fresh = make_cluster_cache(backend_kw={"prefix": backend.prefix})
        assert fresh.delete(entry_id) is True
        assert not client.exists(pointer)
        assert writer.lookup(prompt, llm) is None
        assert writer.delete(entry_id) is False
    finally:
        client.close()


def test_the_cluster_fixture_is_three_masters_covering_every_slot(
    redis_cluster: RedisClusterServer,
) -> None:
    client = RedisCluster.from_url(redis_cluster.url)
    try:
        info = client.cluster_info(target_nodes=RedisCluster.RANDOM)
        assert info["cluster_state"] == "ok"
        assert int(info["cluster_slots_ok"]) == 16384
        assert len(client.get_primaries()) == 3
        assert not client.get_replicas()
    finally:
        client.close()
    with pytest.raises(ValueError, match=">= 3"):
        RedisClusterServer(masters=2)


def test_tenants_never_see_each_other(make_cluster_cache: MakeCache) -> None:
    cache, llm = make_cluster_cache(), llm_string()
    with cache_scope(tenant_id="acme"):
        cache.update(chat_prompt("What is our refund policy?"), llm, _gen("acme policy"))
    with cache_scope(tenant_id="globex"):
        assert cache.lookup(chat_prompt("What is our refund policy?"), llm) is None
        assert cache.lookup(chat_prompt("what's the refund policy"), llm) is None
    with cache_scope(tenant_id="acme"):
        assert cache.lookup(chat_prompt("what's our refund policy"), llm) == _gen("acme policy")


def test_similarity_is_the_single_node_cosine(
    make_cluster_cache: MakeCache, make_redis_cache: MakeCache, embeddings: OnnxEmbeddings
) -> None:
    """Unquantized vector sets score like the RediSearch index (VSIM score -> cosine)."""
    llm = llm_string()
    stored, asked = "How do I reset my password?", "how can I change my password"
    found = []
    for cache in (make_cluster_cache(), make_redis_cache()):
        cache.update(chat_prompt(stored), llm, GEN)
        key = build_key(chat_prompt(asked), llm, CallerScope())
        vector = embeddings.encode([asked])[0]
        candidate = cache.backend.search(key.scope, vector, now=time.time())
        assert candidate is not None
        found.append(candidate.similarity)
    assert found[0] == pytest.approx(found[1], abs=1e-4)
    assert 0.5 < found[0] < 1.0


def test_lru_bound_holds_over_the_whole_cluster(make_cluster_cache: MakeCache) -> None:
    cache, llm = make_cluster_cache(backend_kw={"max_entries": 5}, semantic=False), llm_string()
    for n in range(12):
        with cache_scope(tenant_id=f"t{n}"):
            cache.update(chat_prompt(f"question {n}"), llm, GEN)
    assert cache.backend.count() == 5
    assert len(cache.entries()) == 5
    for n in range(12):
        with cache_scope(tenant_id=f"t{n}"):
            expected = GEN if n >= 7 else None
            assert cache.lookup(chat_prompt(f"question {n}"), llm) == expected


@pytest.mark.parametrize("check", lifetime_checks.CHECKS, ids=lambda c: c.__name__)
def test_lifetime_and_invalidation(
    make_cluster_cache: MakeCache, check: Callable[[MakeCache], None]
) -> None:
    """The same TTL / refresh / tags / entries / delete checks as both other backends."""
    check(make_cluster_cache)


async def test_async_paths(make_cluster_cache: MakeCache) -> None:
    await lifetime_checks.async_paths(make_cluster_cache)


async def test_async_lookups_across_masters(make_cluster_cache: MakeCache) -> None:
    cache, llm = make_cluster_cache(), llm_string()
    for n in range(20):
        with cache_scope(tenant_id=f"t{n}"):
            await cache.aupdate(chat_prompt("Do you ship to Canada?"), llm, _gen(str(n)))
    for n in range(20):
        with cache_scope(tenant_id=f"t{n}"):
            assert await cache.alookup(chat_prompt("do you ship to canada"), llm) == _gen(str(n))


@pytest.mark.parametrize("victim_is", ["the URL's node", "the LRU order's master"])
def test_a_master_going_down_fails_open_with_one_warning(
    fresh_redis_cluster: RedisClusterServer,
    embeddings: OnnxEmbeddings,
    caplog: pytest.LogCaptureFixture,
    victim_is: str,
) -> None:
    """Killing a master: its scopes miss without an error and one warning is logged, while
    the other masters keep serving theirs through the outage, sync and async."""
    nodes = fresh_redis_cluster.nodes
    first_range = range(16384 // len(nodes))  # the slots of nodes[0]
    prefix = next(  # the LRU order on another master than the URL's node
        p for n in range(1000) if key_slot(f"{(p := f'c{n}x:')}lru".encode()) not in first_range
    )
    make, made = _factory(fresh_redis_cluster.url, embeddings)
    cache = make(backend_kw={"retry_interval": 0.2, "socket_timeout": 0.5, "prefix": prefix})
    backend = cache.backend
    assert isinstance(backend, RedisClusterBackend)
    llm, prompt = llm_string(), chat_prompt("Is the store open on Sundays?")
    tenants = [f"tenant-{n}" for n in range(30)]
    for tenant in tenants:
        with cache_scope(tenant_id=tenant):
            cache.update(prompt, llm, _gen(tenant))
    client = RedisCluster.from_url(fresh_redis_cluster.url)
    lru_master = _master_of(client, backend.lru_key)
    index = (
        0
        if victim_is == "the URL's node"
        else next(n for n, node in enumerate(nodes) if lru_master.endswith(f":{node.port}"))
    )
    victim = nodes[index]
    on_victim = set()
    for tenant in tenants:
        scope = build_key(prompt, llm, CallerScope(tenant_id=tenant)).scope
        if _master_of(client, backend._set_key(scope)).endswith(f":{victim.port}"):  # noqa: SLF001
            on_victim.add(tenant)
    client.close()
    assert 0 < len(on_victim) < len(tenants)

    async def async_round() -> tuple[list[bool], list[bool]]:
        hits, misses = [], []
        for tenant in tenants:
            with cache_scope(tenant_id=tenant):
                found = await cache.alookup(prompt, llm)
                if tenant in on_victim:
                    misses.append(found is None)
                else:
                    hits.append(found == _gen(tenant))
        return hits, misses

    loop = asyncio.new_event_loop()
    # the async client starts before the outage (redis-py's asyncio cluster client cannot
    # start while its default node is down)
    hits, misses = loop.run_until_complete(async_round())
    assert all(hits)
    assert not any(misses)
    caplog.set_level(logging.WARNING)
    fresh_redis_cluster.kill(index)
    served, missed = [], []
    deadline = time.monotonic() + 1.5  # several retry intervals of mixed traffic
    while time.monotonic() < deadline:
        for tenant in tenants:
            with cache_scope(tenant_id=tenant):
                found = cache.lookup(prompt, llm)  # a miss or a hit, never an exception
                if tenant in on_victim:
                    missed.append(found is None)
                    cache.update(prompt, llm, _gen("dropped"))  # dropped, never raises
                else:
                    served.append(found == _gen(tenant))
    assert all(missed)
    assert all(served)
    lines = [r.getMessage() for r in caplog.records if "Redis cache" in r.getMessage()]
    assert len(lines) == 1, lines
    assert f":{victim.port} unavailable" in lines[0]
    hits, misses = loop.run_until_complete(async_round())
    loop.close()
    assert all(hits)
    assert all(misses)
    lines = [r.getMessage() for r in caplog.records if "Redis cache" in r.getMessage()]
    assert len(lines) == 1, lines
    for made_cache in made:
        made_cache.close()


def test_a_plain_server_is_refused_and_failed_open(
    redis_url: str, embeddings: OnnxEmbeddings, caplog: pytest.LogCaptureFixture
) -> None:
    """Pointing the cluster backend at a non-cluster server: misses and one clear warning."""
    caplog.set_level(logging.WARNING, logger="langchain_tokenopt.cache.backends.redis")
    backend = RedisClusterBackend(url=redis_url.rsplit("/", 1)[0], retry_interval=5)
    cache = SemanticCache(backend=backend, embeddings=embeddings)
    llm, prompt = llm_string(), chat_prompt("Where is my order?")
    cache.update(prompt, llm, GEN)
    assert cache.lookup(prompt, llm) is None
    down = [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(down) == 1
    assert "cluster" in down[0].lower()
    cache.close()


def test_bad_scope_or_url_is_refused(redis_cluster: RedisClusterServer) -> None:
    from langchain_tokenopt.errors import TokenOptConfigError

    with pytest.raises(TokenOptConfigError):
        RedisClusterBackend(url="http://localhost:7000")
    backend = RedisClusterBackend(url=redis_cluster.url)
    with pytest.raises(ValueError, match="hex digest"):
        backend._set_key("a}b{")  # noqa: SLF001
    backend.close()
    assert issubclass(RedisClusterBackend, RedisBackend)
    assert redis.__version__


class TestRedisClusterCacheSync(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self, make_cluster_cache: MakeCache) -> SemanticCache:
        return make_cluster_cache()


class TestRedisClusterCacheAsync(AsyncCacheTestSuite):
    @pytest.fixture
    async def cache(self, make_cluster_cache: MakeCache) -> SemanticCache:
        return make_cluster_cache()


def _gen(text: str) -> list[Generation]:
    return [Generation(text=text)]
