from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
import redis
from langchain_core.globals import set_llm_cache
from langchain_core.outputs import Generation

from langchain_tokenopt.cache import RedisBackend, SemanticCache, cache_scope
from langchain_tokenopt.cache.backends.redis_schema import knn_query
from langchain_tokenopt.errors import TokenOptConfigError
from tests.redis_server import RedisServer

from ...unit_tests.cache.helpers import ServingModel, chat_prompt, conversation, llm_string

MakeCache = Callable[..., SemanticCache]
GEN = [Generation(text="Paris.")]


def test_semantic_hit_and_exact_fast_path(make_redis_cache: MakeCache) -> None:
    cache, llm = make_redis_cache(), llm_string()
    cache.update(chat_prompt("What is the capital of France?"), llm, GEN)
    exact, gens = cache.lookup_detailed(chat_prompt("What is the capital of France?"), llm)
    assert exact.outcome == "exact_hit" and gens == GEN and exact.embedding_ms == 0.0
    semantic, gens = cache.lookup_detailed(chat_prompt("What is France's capital?"), llm)
    assert semantic.outcome == "semantic_hit" and gens == GEN


def test_scope_is_a_prefilter_inside_the_knn_query(make_redis_cache: MakeCache) -> None:
    """The caller's own entry is found even when another scope holds a far closer vector."""
    cache, llm = make_redis_cache(similarity_threshold=0.5, verify_hits=False), llm_string()
    with cache_scope(tenant_id="other"):
        for i in range(30):
            cache.update(
                chat_prompt(f"What is the capital of France? v{i}"), llm, [Generation(text="leak")]
            )
    with cache_scope(tenant_id="mine"):
        cache.update(chat_prompt("Which city is the capital of the French republic?"), llm, GEN)
        assert cache.lookup(chat_prompt("What is the capital of France?"), llm) == GEN
    with cache_scope(tenant_id="nobody"):
        assert cache.lookup(chat_prompt("What is the capital of France? v1"), llm) is None


def test_same_question_under_two_tenants_models_systems_histories(
    make_redis_cache: MakeCache,
) -> None:
    cache = make_redis_cache()
    question = "What is the refund policy?"
    one, two = ServingModel(responses=["x"]), ServingModel(responses=["x"], model_name="fake-2")
    cases = [
        ({"tenant_id": "a"}, chat_prompt(question), llm_string(one)),
        ({"tenant_id": "b"}, chat_prompt(question), llm_string(one)),
        ({}, chat_prompt(question), llm_string(two)),
        ({}, chat_prompt(question, system="EU customers"), llm_string(one)),
        ({}, chat_prompt(question, system="US customers"), llm_string(one)),
        ({}, chat_prompt(question, history=conversation("I bought shoes", "ok")), llm_string(one)),
        ({}, chat_prompt(question, history=conversation("I bought a TV", "ok")), llm_string(one)),
    ]
    for i, (scope, prompt, llm) in enumerate(cases):
        with cache_scope(**scope):
            assert cache.lookup(prompt, llm) is None
            cache.update(prompt, llm, [Generation(text=str(i))])
    for i, (scope, prompt, llm) in enumerate(cases):
        with cache_scope(**scope):
            assert cache.lookup(prompt, llm) == [Generation(text=str(i))]


def test_hostile_tenant_strings_cannot_inject_queries(make_redis_cache: MakeCache) -> None:
    cache, llm = make_redis_cache(), llm_string()
    with cache_scope(tenant_id="victim"):
        cache.update(chat_prompt("What is my balance?"), llm, [Generation(text="secret")])
    for hostile in ("*", "victim} | @tenant:{*", "victim)=>[KNN 1 @vector $v]", "{victim}"):
        with cache_scope(tenant_id=hostile):
            assert cache.lookup(chat_prompt("What is my balance?"), llm) is None
    with pytest.raises(ValueError):
        knn_query("abc} | @scope:{*")


def test_key_layout_uses_prefix_and_cluster_hash_tags(
    make_redis_cache: MakeCache, redis_url: str
) -> None:
    cache, llm = make_redis_cache(backend_kw={"prefix": "myapp:llm:"}), llm_string()
    cache.clear()
    cache.update(chat_prompt("What is the capital of France?"), llm, GEN)
    client = redis.Redis.from_url(redis_url)
    keys = [k.decode() for k in client.scan_iter(match="myapp:llm:*")]
    entry_keys = [k for k in keys if k.startswith("myapp:llm:{")]
    assert len(entry_keys) == 1 and entry_keys[0].endswith("}")
    assert (
        entry_keys[0]
        == "myapp:llm:{" + cache.entry_id(chat_prompt("What is the capital of France?"), llm) + "}"
    )
    cache.clear()
    assert not [k for k in client.scan_iter(match="myapp:llm:{*")]


def test_ttl_lru_clear_and_delete(make_redis_cache: MakeCache) -> None:
    cache = make_redis_cache(ttl=1, backend_kw={"max_entries": 3})
    llm = llm_string()
    prompts = [
        chat_prompt(q)
        for q in ("alpha question", "beta question", "gamma question", "delta question")
    ]
    for p in prompts[:3]:
        cache.update(p, llm, GEN)
        time.sleep(0.01)
    assert cache.lookup(prompts[0], llm) == GEN
    cache.update(prompts[3], llm, GEN)
    assert cache.lookup(prompts[1], llm) is None
    assert cache.lookup(prompts[0], llm) == GEN
    time.sleep(1.2)
    assert cache.lookup(prompts[0], llm) is None
    cache2 = make_redis_cache()
    with cache_scope(tenant_id="a"):
        cache2.update(prompts[0], llm, GEN)
    with cache_scope(tenant_id="b"):
        cache2.update(prompts[0], llm, GEN)
    cache2.clear(tenant_id="a")
    with cache_scope(tenant_id="a"):
        assert cache2.lookup(prompts[0], llm) is None
    with cache_scope(tenant_id="b"):
        result, _ = cache2.lookup_detailed(prompts[0], llm)
        assert result.hit is not None
        assert cache2.delete(result.hit.entry_id)
        assert cache2.lookup(prompts[0], llm) is None


def test_bad_config_is_refused() -> None:
    with pytest.raises(TokenOptConfigError):
        RedisBackend(url="http://localhost")
    with pytest.raises(TokenOptConfigError):
        RedisBackend(url="redis://localhost:1/0", prefix="a{b}")
    with pytest.raises(TokenOptConfigError):
        RedisBackend(url="redis://localhost:1/0", socket_timeout=0)
    for bad in (0, -1.0, float("nan"), True, "2"):
        with pytest.raises(TokenOptConfigError, match="connect_timeout"):
            RedisBackend(url="redis://localhost:1/0", connect_timeout=bad)  # type: ignore[arg-type]


def test_redis_down_fails_open_with_one_warning(
    make_redis_cache: MakeCache, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.redis_server import free_port

    cache = make_redis_cache(
        url=f"redis://127.0.0.1:{free_port()}/0", backend_kw={"retry_interval": 0.05}
    )
    llm = llm_string()
    with caplog.at_level(logging.WARNING):
        for i in range(5):
            cache.update(chat_prompt(f"question {i}"), llm, GEN)
            assert cache.lookup(chat_prompt(f"question {i}"), llm) is None
            time.sleep(0.06)
    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1
    assert cache.stats().errors == 10


def test_slow_redis_times_out_and_recovers(
    persistent_redis: RedisServer, embeddings: object, caplog: pytest.LogCaptureFixture
) -> None:
    backend = RedisBackend(url=persistent_redis.url, socket_timeout=0.2, retry_interval=0.1)
    cache = SemanticCache(backend=backend, embeddings=embeddings)  # type: ignore[arg-type]
    llm = llm_string()
    cache.update(chat_prompt("What is the capital of France?"), llm, GEN)
    persistent_redis.pause()
    try:
        start = time.perf_counter()
        assert cache.lookup(chat_prompt("What is the capital of France?"), llm) is None
        assert time.perf_counter() - start < 1.5
    finally:
        persistent_redis.resume()
    time.sleep(0.15)
    assert cache.lookup(chat_prompt("What is the capital of France?"), llm) == GEN
    assert any("is back" in r.getMessage() for r in caplog.records)
    cache.close()


def test_restart_mid_run_keeps_answering_and_old_entries_hit_again(
    persistent_redis: RedisServer, embeddings: object
) -> None:
    backend = RedisBackend(url=persistent_redis.url, socket_timeout=0.3, retry_interval=0.05)
    cache = SemanticCache(backend=backend, embeddings=embeddings)  # type: ignore[arg-type]
    model = ServingModel(responses=[f"answer {i}" for i in range(50)])
    set_llm_cache(cache)
    try:
        first = model.invoke("What is the capital of France?").content
        assert model.invoke("What is the capital of France?").content == first
        persistent_redis.kill()
        # the chain keeps answering while Redis is gone (fresh model calls)
        during = model.invoke("What is the capital of France?").content
        assert during != first
        assert model.invoke("Another question while down").content
        persistent_redis.start()
        time.sleep(0.1)
        assert model.invoke("What is the capital of France?").content == first
        assert model.invoke("What is France's capital?").content == first
    finally:
        set_llm_cache(None)
        cache.close()


async def test_async_client_path(make_redis_cache: MakeCache) -> None:
    cache, llm = make_redis_cache(), llm_string()
    await cache.aupdate(chat_prompt("What is the capital of France?"), llm, GEN)
    assert await cache.alookup(chat_prompt("What is the capital of France?"), llm) == GEN
    assert await cache.alookup(chat_prompt("What is France's capital?"), llm) == GEN
    with cache_scope(tenant_id="z"):
        assert await cache.alookup(chat_prompt("What is the capital of France?"), llm) is None
    entry_id = cache.entry_id(chat_prompt("What is the capital of France?"), llm)
    assert await cache.adelete(entry_id)
    assert await cache.alookup(chat_prompt("What is the capital of France?"), llm) is None


def test_clear_handles_more_entries_than_one_search_page(make_redis_cache: MakeCache) -> None:
    cache, llm = make_redis_cache(semantic=False), llm_string()
    with cache_scope(tenant_id="big"):
        for i in range(1205):
            cache.update(f"question {i}", llm, GEN)
    with cache_scope(tenant_id="small"):
        for i in range(10):
            cache.update(f"question {i}", llm, GEN)
    assert cache.backend.count() == 1215
    cache.clear(tenant_id="big")
    assert cache.backend.count() == 10
    with cache_scope(tenant_id="small"):
        assert cache.lookup("question 3", llm) == GEN
    cache.clear()
    assert cache.backend.count() == 0
    with cache_scope(tenant_id="small"):
        cache.update("question 3", llm, GEN)
        assert cache.lookup("question 3", llm) == GEN
