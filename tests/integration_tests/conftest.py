"""Integration fixtures: a real Redis 8 server (RediSearch + ReJSON) from the wheels.

``redis_server`` is one server per test session (volatile); ``persistent_redis`` is a
fresh server per test with AOF on, for tests that kill / restart it and expect data back.
``redis_cluster`` is a 3-master Redis Cluster per session, ``fresh_redis_cluster`` one per
test (for tests that kill a master).
``http_port`` is a loopback port that is not Redis (it answers HTTP), for fail-open tests.
All are stopped by PID at the end, so no ``redis-server`` of the run is left behind.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator

import pytest

from tests.redis_server import RedisClusterServer, RedisServer


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

    with RedisServer(directory=Path(str(tmp_path)) / "redis", persistence=True) as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServer]:
    """A real 3-master Redis Cluster (no replicas) from the packaged server, per session."""
    with RedisClusterServer(masters=3) as cluster:
        yield cluster


@pytest.fixture
def fresh_redis_cluster() -> Iterator[RedisClusterServer]:
    """A 3-master cluster of its own, for tests that kill a master."""
    with RedisClusterServer(masters=3) as cluster:
        yield cluster


class _HttpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(2.0)  # bounded: a silent client is dropped after 2 s
        try:
            self.request.recv(65536)
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            # read until the client hangs up: closing with unread input would send a RST
            # that can discard the reply before the client reads it
            while self.request.recv(65536):
                pass
        except OSError:
            pass


class _HttpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def http_port() -> Iterator[int]:
    """A port on 127.0.0.1 that answers every connection with an HTTP 200, then closes."""
    server = _HttpServer(("127.0.0.1", 0), _HttpHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5.0)
