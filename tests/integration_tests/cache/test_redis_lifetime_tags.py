"""Per-entry lifetime, refresh-on-hit, tags, listing and deletion on the RedisBackend.

The same checks as the LocalBackend's (``tests/unit_tests/cache/lifetime_checks.py``), on
the fixture's real Redis; plus the index migration from the schema before tags.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import redis
from langchain_core.outputs import Generation

from langchain_tokenopt.cache import RedisBackend, SemanticCache
from langchain_tokenopt.embeddings import OnnxEmbeddings

from ...unit_tests.cache import lifetime_checks
from ...unit_tests.cache.helpers import chat_prompt, llm_string

MakeCache = Callable[..., SemanticCache]


@pytest.mark.parametrize("check", lifetime_checks.CHECKS, ids=lambda c: c.__name__)
def test_lifetime_and_invalidation(
    make_redis_cache: MakeCache, check: Callable[[MakeCache], None]
) -> None:
    check(make_redis_cache)


async def test_async_paths(make_redis_cache: MakeCache) -> None:
    await lifetime_checks.async_paths(make_redis_cache)


def test_side_hashes_go_with_their_entries(make_redis_cache: MakeCache, redis_url: str) -> None:
    """Hit counts live beside the entry (not in the indexed hash) and never outlive it."""
    cache, llm = make_redis_cache(), llm_string()
    backend = cache.backend
    assert isinstance(backend, RedisBackend)
    client = redis.Redis.from_url(redis_url)
    prompts = [chat_prompt(f"question number {i}") for i in range(3)]
    for prompt in prompts:
        cache.update(prompt, llm, [Generation(text="x")], ttl=50)
        assert cache.lookup(prompt, llm) is not None
    ids = [e.entry_id for e in cache.entries()]
    metas = [backend._meta(i) for i in ids]  # noqa: SLF001 - the layout is the subject
    assert all(client.hget(m, "hits") == b"1" for m in metas)
    assert all(0 < client.pttl(m) <= 50_000 for m in metas)
    assert cache.delete(ids[0])
    assert not client.exists(metas[0])
    cache.clear(tags=None)  # everything: the index's documents and the side hashes
    assert not any(client.exists(m) for m in metas)
    client.close()


def test_an_index_of_the_old_schema_is_migrated_in_place(
    redis_url: str, embeddings: OnnxEmbeddings
) -> None:
    """An index made before tags (no ``tags`` field) gets it by FT.ALTER; entries survive."""
    prefix = f"old{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(redis_url)
    old_fields = ("scope", "model", "model_name", "tenant", "user")
    client.execute_command(
        "FT.CREATE", f"{prefix}idx", "ON", "HASH", "PREFIX", 1, f"{prefix}{{", "SCHEMA",
        *[x for f in old_fields for x in (f, "TAG")],
        "vector", "VECTOR", "HNSW", 10, "TYPE", "FLOAT32", "DIM", 384, "DISTANCE_METRIC",
        "COSINE", "M", 16, "EF_CONSTRUCTION", 200,
    )  # fmt: skip
    llm, prompt = llm_string(), chat_prompt("What is the capital of France?")
    # an entry written the old way: no ttl, tags or tag_names fields
    writer = SemanticCache(
        backend=RedisBackend(url=redis_url, prefix=prefix), embeddings=embeddings
    )
    writer.backend._index_ready = True  # noqa: SLF001 - keep the old index as it is
    writer.update(prompt, llm, [Generation(text="Paris")])
    key = next(k for k in client.scan_iter(match=f"{prefix}{{*"))
    client.hdel(key, "ttl")
    writer.close()

    cache = SemanticCache(backend=RedisBackend(url=redis_url, prefix=prefix), embeddings=embeddings)
    try:
        assert cache.lookup(prompt, llm) == [Generation(text="Paris")]
        attributes = client.ft(f"{prefix}idx").info()["attributes"]
        assert any(b"tags" in a or "tags" in a for a in attributes)
        result, _ = cache.lookup_detailed(chat_prompt("What is France's capital?"), llm)
        assert result.outcome == "semantic_hit"
        cache.update(chat_prompt("Where is my order?"), llm, [Generation(text="x")], tags=["o"])
        assert [e.text for e in cache.entries(tags=["o"])] == ["Where is my order?"]
        cache.clear(tags=["o"])
        assert [e.text for e in cache.entries()] == ["What is the capital of France?"]
        # a second backend on the migrated index finds nothing left to add
        other = RedisBackend(url=redis_url, prefix=prefix)
        assert other.count() == 1
        other.close()
    finally:
        cache.clear()
        cache.close()
        client.close()
