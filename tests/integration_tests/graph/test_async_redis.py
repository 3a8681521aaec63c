"""The graph and the middleware run fully async on the Redis backend.

``ainvoke`` must reach the cache through its async path: the async Redis client behind the
backend's admission gate. The tests hold that gate (``max_concurrency=1``) while a turn
starts: the turn waits at its cache check, and goes on once the gate is released. A sync
lookup (or one run in a worker thread) never takes the gate and would finish anyway.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from langchain_tokenopt import build_optimized_agent
from langchain_tokenopt.cache import RedisBackend, SemanticCache
from langchain_tokenopt.embeddings import OnnxEmbeddings
from langchain_tokenopt.llms import LocalChatModel

SYSTEM = "You are the assistant of an outdoor-gear shop. Answer in one short sentence."
QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def llm() -> LocalChatModel:
    return LocalChatModel(max_new_tokens=12, dtype="bfloat16")


@pytest.fixture
def cache(redis_url: str) -> Iterator[SemanticCache]:
    backend = RedisBackend(url=redis_url, prefix=f"t{uuid.uuid4().hex[:8]}:", max_concurrency=1)
    cache = SemanticCache(backend=backend, embeddings=OnnxEmbeddings())
    yield cache
    cache.close()


async def _waits_for_the_gate(
    cache: SemanticCache, turn: Callable[[], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """Run ``turn`` while the admission gate is held; check it waited, then let it go."""
    gate = cache.backend.admit()
    async with gate:  # the only admission (max_concurrency=1) is ours
        task = asyncio.ensure_future(turn())
        await asyncio.sleep(0.5)
        assert not task.done(), "the turn did not wait for the async client's admission"
        assert cache.stats().lookups == 0
    result = await asyncio.wait_for(task, timeout=600)
    assert cache.stats().lookups == 1
    return result


def test_graph_ainvoke_goes_through_the_async_redis_client(
    llm: LocalChatModel, cache: SemanticCache
) -> None:
    graph = build_optimized_agent(llm, [], system_prompt=SYSTEM, cache=cache, monitor=False)
    agent = graph.compile()

    def ask(thread: str) -> Callable[[], Awaitable[dict[str, Any]]]:
        config = {"configurable": {"thread_id": thread}, "metadata": {"tenant_id": "acme"}}
        return lambda: agent.ainvoke({"messages": [HumanMessage(QUESTION)]}, config)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        first = await _waits_for_the_gate(cache, ask("a"))
        repeat = await ask("b")()
        return first, repeat

    first, repeat = asyncio.run(scenario())
    assert first["turn"]["cache_hit"] is False
    assert isinstance(first["messages"][-1], AIMessage) and first["messages"][-1].content
    stats = cache.stats()
    assert stats.updates == 1  # stored by the async cache_store (aupdate_request)
    assert repeat["turn"]["cache_hit"] is True
    assert repeat["messages"][-1].content == first["messages"][-1].content
    assert stats.exact_hits == 1
    steps = [s["step"] for s in first["turn"]["steps"]]
    assert steps[0] == "cache" and "compression" in steps and "context" in steps


def test_middleware_ainvoke_goes_through_the_async_redis_client(
    llm: LocalChatModel, cache: SemanticCache
) -> None:
    from langchain.agents import create_agent

    from langchain_tokenopt.graph.middleware import TokenOptMiddleware

    agent = create_agent(
        llm,
        [],
        system_prompt=SYSTEM,
        middleware=[TokenOptMiddleware(cache=cache, monitor=False)],
    )

    def ask() -> Awaitable[dict[str, Any]]:
        config = {"metadata": {"tenant_id": "acme"}}
        return agent.ainvoke({"messages": [HumanMessage(QUESTION)]}, config)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        first = await _waits_for_the_gate(cache, ask)
        repeat = await ask()
        return first, repeat

    first, repeat = asyncio.run(scenario())
    answer = first["messages"][-1]
    assert isinstance(answer, AIMessage) and answer.content
    stats = cache.stats()
    assert stats.updates == 1 and stats.exact_hits == 1
    assert repeat["messages"][-1].content == answer.content
