"""Integration fixtures: a real Redis 8 server (RediSearch + ReJSON) from the wheels.

``redis_server`` is one server per test session (volatile); ``persistent_redis`` is a
fresh server per test with AOF on, for tests that kill / restart it and expect data back.
Both are stopped by PID at the end, so no ``redis-server`` of the run is left behind.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from langchain_tokenopt.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def persistent_redis(tmp_path: object) -> Iterator[RedisServer]:
    from pathlib import Path

    server = RedisServer(directory=Path(str(tmp_path)) / "redis", persistence=True)
    server.start()
    try:
        yield server
    finally:
        server.close()
