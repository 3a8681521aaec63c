"""The Redis store answers exactly like the SQLite store for the same records."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from langchain_tokenopt.errors import BackendUnavailableError
from langchain_tokenopt.monitoring import (
    ModelPrice,
    Pricer,
    RedisMetricsStore,
    RequestRecord,
    SQLiteMetricsStore,
    StepEvent,
    TokenUsage,
)
from tests.redis_server import RedisServer

PRICER = Pricer(overrides={"m": ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)})


def _records(n: int, now: float) -> list[RequestRecord]:
    return [
        RequestRecord(
            request_id=f"r{i}",
            timestamp=now - n + i,
            model="m" if i % 2 else "other",
            tenant_id=f"t{i % 3}",
            usage=TokenUsage(input_tokens=100 + i, output_tokens=10),
            usage_available=True,
            steps=(StepEvent(step="context", tokens_before=200 + i, tokens_after=100 + i),),
            llm_latency_ms=float(i),
            latency_ms=float(i),
        )
        for i in range(n)
    ]


def test_redis_matches_sqlite(redis_url: str, tmp_path: Path) -> None:
    prefix = f"test:{time.time_ns()}:"
    redis_store = RedisMetricsStore(url=redis_url, key_prefix=prefix, pricer=PRICER,
                                    flush_interval=0.01)  # fmt: skip
    sqlite_store = SQLiteMetricsStore(path=tmp_path / "m.sqlite", pricer=PRICER,
                                      flush_interval=0.01)  # fmt: skip
    records = _records(300, time.time())
    for r in records:
        redis_store.add(r)
        sqlite_store.add(r)
    assert redis_store.flush(10) and sqlite_store.flush(10)
    assert redis_store.count() == 300
    for window, group_by in (("1h", ()), ("100s", ("model", "tenant")), (None, ("tenant",))):
        a = redis_store.summary(window=window, group_by=group_by)
        b = sqlite_store.summary(window=window, group_by=group_by)
        assert a == b
    assert redis_store.summary(window="1h").tokens_saved_by_step["context"] == 300 * 100
    redis_store.clear()
    redis_store.close()
    sqlite_store.close()


def test_redis_two_writers_one_reader(redis_url: str) -> None:
    prefix = f"fleet:{time.time_ns()}:"
    writers = [
        RedisMetricsStore(url=redis_url, key_prefix=prefix, flush_interval=0.01) for _ in range(2)
    ]
    now = time.time()
    for k, w in enumerate(writers):
        for r in _records(100, now):
            w.add(replace(r, request_id=f"{k}-{r.request_id}"))
    for w in writers:
        assert w.flush(10)
    reader = RedisMetricsStore(url=redis_url, key_prefix=prefix)
    assert reader.summary(window="1h").requests == 200
    reader.clear()
    for s in (*writers, reader):
        s.close()


def test_unreachable_redis_is_a_clear_error() -> None:
    server = RedisServer()
    server.start()
    url = server.url
    server.close()
    with pytest.raises(BackendUnavailableError):
        RedisMetricsStore(url=url, socket_timeout=0.5)
