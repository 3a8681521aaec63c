"""The Redis metrics store on a real Redis that refuses writes, and on a port that is not Redis.

A refused write (here ``WRONGTYPE``: another program took the store's key) drops the batch
with one warning naming the cause, never reaching the request; writes resume by
themselves once the key is free. A port that answers HTTP is refused at construction with
a message that says so.
"""

from __future__ import annotations

import logging
import uuid

import pytest
import redis
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from langchain_tokenopt.errors import BackendUnavailableError
from langchain_tokenopt.monitoring import RedisMetricsStore, TokenOptCallbackHandler

CALLS = 4


def test_refused_writes_drop_records_with_one_warning_then_resume(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = f"mfo{uuid.uuid4().hex[:6]}:"
    store = RedisMetricsStore(url=redis_url, key_prefix=prefix, flush_interval=0.05)
    handler = TokenOptCallbackHandler(store=store)
    other = redis.Redis.from_url(redis_url)
    model = FakeListChatModel(responses=[f"answer {i}" for i in range(CALLS + 1)])
    try:
        other.set(store.key, "taken by another program")  # every ZADD now fails: WRONGTYPE
        with caplog.at_level(logging.WARNING):
            for i in range(CALLS):
                reply = model.invoke(f"question {i}", config={"callbacks": [handler]})
                assert reply.content == f"answer {i}"
                assert store.flush(5.0)
            assert store.failed == CALLS
            lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
            assert len(lines) == 1, [r.getMessage() for r in lines]
            message = lines[0].getMessage()
            assert f"Redis metrics store at {redis_url} unavailable" in message
            assert "WRONGTYPE" in message
            assert lines[0].exc_info is None

            other.delete(store.key)
            assert model.invoke("again", config={"callbacks": [handler]}).content == "answer 4"
            assert store.flush(5.0)
        assert store.count() == 1
        assert "accepts writes again" in caplog.records[-1].getMessage()
    finally:
        store.clear()
        store.close()
        other.close()


def test_port_that_is_not_redis_is_named_at_construction(http_port: int) -> None:
    with pytest.raises(BackendUnavailableError, match="does not speak the Redis protocol"):
        RedisMetricsStore(url=f"redis://127.0.0.1:{http_port}/0", socket_timeout=1.0)


def test_queries_on_a_lost_server_raise_backend_unavailable(redis_url: str) -> None:
    from tests.redis_server import RedisServer

    server = RedisServer().start()
    store = RedisMetricsStore(url=server.url, socket_timeout=0.5, key_prefix="lost:")
    try:
        assert store.count() == 0
        server.stop()
        with pytest.raises(BackendUnavailableError, match="unavailable"):
            store.summary(window="1h")
        with pytest.raises(BackendUnavailableError):
            store.count()
    finally:
        store.close()
        server.close()
