from __future__ import annotations

import subprocess
import sys
import textwrap

import redis

from tests.redis_server import RedisServer


def test_server_reports_search_and_json_modules(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    names = {m[b"name"].decode().lower() for m in client.module_list()}
    assert "search" in names
    assert "rejson" in names


def test_persistent_server_keeps_data_across_kill_and_restart(
    persistent_redis: RedisServer,
) -> None:
    client = redis.Redis.from_url(persistent_redis.url)
    client.set("k", "v")
    persistent_redis.restart(kill=True)
    client = redis.Redis.from_url(persistent_redis.url)
    assert client.get("k") == b"v"


def test_no_server_left_behind_after_a_session(tmp_path: object) -> None:
    # A child pytest-like session: start, use, close; then its PID must be gone.
    code = textwrap.dedent(
        """
        import os
        from tests.redis_server import RedisServer
        s = RedisServer().start()
        print(s.pid, flush=True)
        s.close()
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    pid = int(out.stdout.strip().splitlines()[-1])
    alive = subprocess.run(["kill", "-0", str(pid)], capture_output=True)
    assert alive.returncode != 0
