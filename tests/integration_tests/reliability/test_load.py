"""Load: 1,000 concurrent async lookups + updates per backend; 4 processes on one store.

Short versions of ``python -m bench load`` (which runs the long ones and prints latency).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import IO, cast

import pytest

from langchain_tokenopt.monitoring import SQLiteMetricsStore

from ...unit_tests.cache.helpers import chat_prompt, llm_string
from .conftest import MakeCache, answer

LLM = llm_string()
N = 500  # 500 updates + 500 lookups in flight at once = 1,000 concurrent calls


async def _burst(make: MakeCache) -> None:
    cache = make()
    prompts = [chat_prompt(f"load question {i}") for i in range(N)]
    latencies: list[float] = []

    async def timed(coro: object) -> object:
        t0 = time.perf_counter()
        result = await coro  # type: ignore[misc]
        latencies.append(time.perf_counter() - t0)
        return result

    # half the lookups ask for what is being written concurrently, half for earlier rounds
    await asyncio.gather(
        *(cache.aupdate(p, LLM, answer(str(i))) for i, p in enumerate(prompts[: N // 2]))
    )
    results = await asyncio.gather(
        *(timed(cache.aupdate(p, LLM, answer(str(i)))) for i, p in enumerate(prompts)),
        *(timed(cache.alookup(p, LLM)) for p in prompts),
    )
    stats = cache.stats()
    assert stats.errors == 0
    lookups = results[N:]
    # what was written before the burst is always served, and never someone else's answer
    assert lookups[: N // 2] == [answer(str(i)) for i in range(N // 2)]
    assert all(r is None or r == answer(str(i)) for i, r in enumerate(lookups))
    served = await asyncio.gather(*(cache.alookup(p, LLM) for p in prompts))
    assert served == [answer(str(i)) for i in range(N)]
    assert len(latencies) == 2 * N


@pytest.mark.parametrize("backend", ["local", "redis"])
async def test_1000_concurrent_async_calls(
    backend: str, make_local_cache: MakeCache, make_redis_cache: MakeCache
) -> None:
    await _burst(make_local_cache if backend == "local" else make_redis_cache)


OPEN_CACHE = textwrap.dedent(
    """
    import sys
    from langchain_tokenopt.cache import LocalBackend
    from langchain_tokenopt.errors import CacheStorageError
    try:
        backend = LocalBackend(path=sys.argv[1])
    except CacheStorageError as exc:
        print("REFUSED", exc)
    else:
        print("OPENED", flush=True)
        sys.stdin.read()  # hold the file until the parent has heard from every process
        backend.close()
    """
)


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_four_processes_on_one_local_cache_file_are_refused_by_the_lock(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    procs = [_spawn(OPEN_CACHE, path) for _ in range(4)]
    outs = []
    for proc in procs:  # all four answer while the opener still holds the file
        stdout = cast("IO[str]", proc.stdout)  # stdout=PIPE: always set
        outs.append(stdout.readline().strip())
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    opened = [o for o in outs if o.startswith("OPENED")]
    refused = [o for o in outs if o.startswith("REFUSED")]
    assert len(opened) == 1 and len(refused) == 3, outs
    for line in refused:
        assert "locked by another process" in line and "RedisBackend" in line


WRITE_METRICS = textwrap.dedent(
    """
    import sys, time
    from langchain_tokenopt.monitoring import RequestRecord, SQLiteMetricsStore
    store = SQLiteMetricsStore(sys.argv[1], flush_interval=0.01, batch_size=20)
    for i in range(200):
        store.add(RequestRecord(request_id=f"{sys.argv[2]}-{i}", timestamp=time.time()))
    store.close()
    print(store.written, store.dropped)
    """
)


def test_four_processes_share_one_sqlite_metrics_file(tmp_path: Path) -> None:
    path = str(tmp_path / "metrics.sqlite")
    procs = [_spawn(WRITE_METRICS, path, f"p{k}") for k in range(4)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.split() == ["200", "0"]
    store = SQLiteMetricsStore(path)
    try:
        ids = {r.request_id for r in store.records(None)}
    finally:
        store.close()
    assert ids == {f"p{k}-{i}" for k in range(4) for i in range(200)}
