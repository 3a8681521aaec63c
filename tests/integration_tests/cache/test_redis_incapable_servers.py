"""The Redis cache fails open on servers that answer but cannot serve it.

Two real servers: the packaged Redis 8 started *without* its search module (every ``FT.*``
command is unknown) and a TCP port that answers HTTP instead of RESP. A chain call through
``set_llm_cache(SemanticCache(backend=RedisBackend(...)))`` must return the model's answer,
count the cache lookup as an error, and log exactly one warning naming the cause over
several calls.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from langchain_core.globals import get_llm_cache, set_llm_cache
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from langchain_tokenopt.cache import RedisBackend, SemanticCache
from langchain_tokenopt.embeddings import OnnxEmbeddings
from tests.redis_server import RedisServer

BACKEND_LOGGER = "langchain_tokenopt.cache.backends.redis"
CALLS = 4


class _RedisWithoutModules(RedisServer):
    """The packaged redis-server with every ``--loadmodule`` pair left out."""

    def _command(self) -> list[str]:
        cmd, out = super()._command(), []
        skip = False
        for arg in cmd:
            if skip:
                skip = False
            elif arg == "--loadmodule":
                skip = True
            else:
                out.append(arg)
        return out


@pytest.fixture
def plain_redis() -> Iterator[RedisServer]:
    server = _RedisWithoutModules()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def global_cache() -> Iterator[None]:
    before = get_llm_cache()
    try:
        yield
    finally:
        set_llm_cache(before)


def _install(url: str, embeddings: OnnxEmbeddings) -> SemanticCache:
    backend = RedisBackend(
        url=url,
        prefix=f"inc{uuid.uuid4().hex[:6]}:",
        socket_timeout=0.5,
        connect_timeout=0.5,
        retry_interval=0.05,
    )
    cache = SemanticCache(backend=backend, embeddings=embeddings)
    set_llm_cache(cache)
    return cache


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == BACKEND_LOGGER and r.levelno >= logging.WARNING
    ]


def _invoke_several(model: FakeListChatModel) -> list[str]:
    answers = []
    for i in range(CALLS):
        answers.append(str(model.invoke(f"What is the capital of country number {i}?").content))
        time.sleep(0.06)  # past retry_interval: every call retries the server
    return answers


def test_redis_without_search_module_fails_open_with_one_clear_line(
    plain_redis: RedisServer,
    embeddings: OnnxEmbeddings,
    global_cache: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = _install(plain_redis.url, embeddings)
    model = FakeListChatModel(responses=[f"answer {i}" for i in range(CALLS)])
    try:
        with caplog.at_level(logging.WARNING):
            answers = _invoke_several(model)
        assert answers == [f"answer {i}" for i in range(CALLS)]
        stats = cache.stats()
        assert stats.lookups == CALLS
        assert stats.errors == 2 * CALLS  # each lookup and each dropped update
        assert stats.exact_hits == stats.semantic_hits == stats.updates == 0
        lines = _warnings(caplog)
        assert len(lines) == 1, lines
        assert (
            "RedisBackend needs Redis 8 with the query engine or Redis Stack: FT._LIST unknown"
            in lines[0]
        )
        assert plain_redis.url in lines[0]
        # nothing else logged a warning either (no per-call line from the cache)
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == [
            r for r in caplog.records if r.name == BACKEND_LOGGER
        ]
    finally:
        cache.close()


async def test_redis_without_search_module_fails_open_async(
    plain_redis: RedisServer,
    embeddings: OnnxEmbeddings,
    global_cache: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = _install(plain_redis.url, embeddings)
    model = FakeListChatModel(responses=["first", "second", "third"])
    try:
        with caplog.at_level(logging.WARNING):
            answers = []
            for i in range(3):
                reply = await model.ainvoke(f"Where is museum number {i}?")
                answers.append(reply.content)
                await asyncio.sleep(0.06)
        assert answers == ["first", "second", "third"]
        assert cache.stats().errors == 6
        lines = _warnings(caplog)
        assert len(lines) == 1, lines
        assert "FT._LIST unknown" in lines[0]
    finally:
        cache.close()


def test_port_that_is_not_redis_fails_open_with_one_clear_line(
    http_port: int,
    embeddings: OnnxEmbeddings,
    global_cache: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"redis://127.0.0.1:{http_port}/0"
    cache = _install(url, embeddings)
    model = FakeListChatModel(responses=[f"reply {i}" for i in range(CALLS)])
    try:
        start = time.monotonic()
        with caplog.at_level(logging.WARNING):
            answers = _invoke_several(model)
        assert time.monotonic() - start < 15.0
        assert answers == [f"reply {i}" for i in range(CALLS)]
        stats = cache.stats()
        assert stats.lookups == CALLS
        assert stats.errors == 2 * CALLS
        lines = _warnings(caplog)
        assert len(lines) == 1, lines
        assert "does not speak the Redis protocol" in lines[0]
        assert url in lines[0]
    finally:
        cache.close()


def test_backend_recovers_when_the_search_module_arrives(
    plain_redis: RedisServer,
    embeddings: OnnxEmbeddings,
    global_cache: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The probe runs again after ``retry_interval``: a capable server is used at once."""
    cache = _install(plain_redis.url, embeddings)
    model = FakeListChatModel(responses=["first", "second", "third"])
    full = RedisServer(port=plain_redis.port)
    try:
        with caplog.at_level(logging.WARNING):
            assert model.invoke("What is the capital of France?").content == "first"
            plain_redis.stop()
            full.start()  # same port, now with the search module
            time.sleep(0.06)
            assert model.invoke("What is the capital of France?").content == "second"
            assert cache.stats().updates == 1
            # the third call is served from the cache, not the model
            assert model.invoke("What is the capital of France?").content == "second"
        stats = cache.stats()
        assert stats.exact_hits == 1
        lines = _warnings(caplog)
        assert len(lines) == 2, lines
        assert "FT._LIST unknown" in lines[0]
        assert "is back" in lines[1]
    finally:
        cache.close()
        full.close()


def test_free_port_is_still_reported_as_unreachable(
    embeddings: OnnxEmbeddings, global_cache: None, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cache = _install(f"redis://127.0.0.1:{port}/0", embeddings)
    try:
        with caplog.at_level(logging.WARNING):
            answers = _invoke_several(FakeListChatModel(responses=["a", "b", "c", "d"]))
        assert answers == ["a", "b", "c", "d"]
        lines = _warnings(caplog)
        assert len(lines) == 1, lines
        assert "unavailable: cannot connect" in lines[0]
    finally:
        cache.close()
