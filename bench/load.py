"""Load, fault and isolation bench for the cache backends (embedded SQLite and Redis).

For each backend: ``--requests`` concurrent async lookups + updates (asyncio.gather),
errors, p50/p99 latency; entries lost after a kill -9 (Redis: server killed with AOF on
and restarted; embedded: the writer process killed and the file reopened); cross-scope
hits over ``--probes`` random (tenant, user, model, system, context) probes asking the
same question. Prints a rich table and writes ``bench/results/load.json``.

    python -m bench load            # 10,000 requests, 20,000 probes
    python -m bench load --quick    # 1,000 requests, 10,000 probes
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.outputs import Generation
from rich.console import Console
from rich.table import Table

from bench.common import percentile, results_option, write_json
from langchain_tokenopt.cache import LocalBackend, RedisBackend, SemanticCache, cache_scope
from tests.redis_server import RedisServer  # the test tooling's Redis launcher


class _Model(FakeListChatModel):
    model_name: str = "m"

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True


def _llm(name: str) -> str:
    return str(_Model(responses=["x"], model_name=name)._get_llm_string())


def _prompt(question: str, system: str | None = None, context: str | None = None) -> str:
    msgs: list[Any] = [SystemMessage(system)] if system else []
    if context:
        msgs += [HumanMessage(context), AIMessage("ok")]
    return dumps([*msgs, HumanMessage(question)])


def _ms(values: list[float], q: float) -> float:
    """The ``q`` percentile (0 to 100) of seconds, in ms; 0.0 when there are none."""
    return percentile(values, q) * 1000 if values else 0.0


async def _load(cache: SemanticCache, n: int) -> dict[str, Any]:
    llm = _llm("load")
    prompts = [_prompt(f"load question {i}") for i in range(n // 2)]
    lat: list[float] = []

    async def timed(coro: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await coro
        finally:
            lat.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(
        *(timed(cache.aupdate(p, llm, [Generation(text=str(i))])) for i, p in enumerate(prompts)),
        *(timed(cache.alookup(p, llm)) for p in prompts),
    )
    wall = time.perf_counter() - t0
    served = await asyncio.gather(*(cache.alookup(p, llm) for p in prompts))
    held = sum(s == [Generation(text=str(i))] for i, s in enumerate(served))
    return {
        "requests": n,
        "requests_held": held * 2,
        "errors": cache.stats().errors,
        "p50_ms": _ms(lat, 50),
        "p99_ms": _ms(lat, 99),
        "throughput_rps": n / wall,
    }


def _fuzz(cache: SemanticCache, probes: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    syntax = list('{}|@*-:"\\ ') + list("abc01")
    tenants = [None] + [
        "".join(rng.choice(syntax) for _ in range(rng.randint(1, 8))) for _ in range(150)
    ]
    users = [None, "u1", "u 2", "u|3", "*"]
    models = [_llm(m) for m in ("a", "b", "c", "d")]
    prompts = {
        (s, c): _prompt("What is the refund policy?", s, c)
        for s in (None, "sys A", "sys B")
        for c in (None, "ctx 1", "ctx 2")
    }
    keys = list(prompts)
    draws = [
        (rng.choice(tenants), rng.choice(users), rng.randrange(4), rng.choice(keys))
        for _ in range(probes)
    ]
    owner = {}
    for i, (t, u, m, k) in enumerate(draws):
        with cache_scope(tenant_id=t, user_id=u):
            cache.update(prompts[k], models[m], [Generation(text=str(i))])
        owner[(t, u, m, k)] = i
    cross = own = 0
    for d in draws:
        t, u, m, k = d
        with cache_scope(tenant_id=t, user_id=u):
            got = cache.lookup(prompts[k], models[m])
        if got is not None:
            own += got == [Generation(text=str(owner[d]))]
            cross += got != [Generation(text=str(owner[d]))]
    return {"probes": probes, "cross_scope_hits": cross, "own_hits": own}


def _redis_lost(server: RedisServer, n: int) -> dict[str, int]:
    cache = SemanticCache(
        backend=RedisBackend(url=server.url, prefix="lost:", socket_timeout=2.0), semantic=False
    )
    llm, acked = _llm("lost"), []
    for i in range(n):
        before = cache.stats().errors
        cache.update(_prompt(f"durable {i}"), llm, [Generation(text=str(i))])
        if cache.stats().errors == before:
            acked.append(i)
    server.kill()
    server.restart(kill=True)
    deadline = time.monotonic() + 10
    while cache.lookup(_prompt("durable 0"), llm) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    lost = sum(
        cache.lookup(_prompt(f"durable {i}"), llm) != [Generation(text=str(i))] for i in acked
    )
    cache.close()
    return {"acknowledged": len(acked), "entries_lost": lost}


_WRITER = textwrap.dedent("""
    import sys, time
    from langchain_tokenopt.cache import LocalBackend
    from langchain_tokenopt.cache.records import CacheEntry
    b = LocalBackend(path=sys.argv[1])
    for i in range(10**9):
        b.put(CacheEntry(entry_id=f"{i:032x}", scope="ab"*16, model="m", model_name="n",
              tenant="t", user="u", text=f"q{i}", payload=f"a{i}", created_at=time.time(),
              expires_at=None, vector=None))
        print(i, flush=True)
""")


def _local_lost(path: Path, n: int) -> dict[str, int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    last = -1
    assert proc.stdout is not None
    for line in proc.stdout:
        last = int(line)
        if last >= n - 1:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    backend = LocalBackend(path=path)
    now = time.time()
    lost = sum(backend.get(f"{i:032x}", now=now) is None for i in range(last + 1))
    backend.close()
    return {"acknowledged": last + 1, "entries_lost": lost}


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``load`` to the dispatcher's subparsers."""
    p = sub.add_parser("load", help="cache backends under load, kill -9, cross-scope isolation")
    p.add_argument("--quick", action="store_true", help="1,000 requests, 10,000 probes")
    results_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """The load, fault and isolation bench (see the module docstring)."""
    n_req, probes, n_lost = (1000, 10_000, 500) if args.quick else (10_000, 20_000, 5000)
    results: dict[str, Any] = {"quick": args.quick, "backends": {}}
    with (
        tempfile.TemporaryDirectory() as tmp,
        RedisServer(directory=Path(tmp) / "r", persistence=True) as server,
    ):
        for name in ("local", "redis"):

            def make(name: str = name) -> SemanticCache:
                if name == "local":
                    backend: Any = LocalBackend(path=Path(tmp) / f"{uuid.uuid4().hex}.sqlite3")
                else:
                    backend = RedisBackend(url=server.url, prefix=f"b{uuid.uuid4().hex[:6]}:")
                return SemanticCache(backend=backend, semantic=False)

            cache = make()
            row = asyncio.run(_load(cache, n_req))
            cache.close()
            cache = make()
            row.update(_fuzz(cache, probes, seed=11))
            cache.close()
            row.update(
                _local_lost(Path(tmp) / "lost.sqlite3", n_lost)
                if name == "local"
                else _redis_lost(server, n_lost)
            )
            results["backends"][name] = row
    table = Table(title="load / faults / isolation" + (" (quick)" if args.quick else ""))
    cols = [
        "requests",
        "requests_held",
        "errors",
        "p50_ms",
        "p99_ms",
        "throughput_rps",
        "acknowledged",
        "entries_lost",
        "probes",
        "cross_scope_hits",
    ]
    table.add_column("backend")
    for c in cols:
        table.add_column(c, justify="right")
    for name, row in results["backends"].items():
        table.add_row(
            name, *(f"{row[c]:.2f}" if isinstance(row[c], float) else str(row[c]) for c in cols)
        )
    Console(width=200).print(table)
    out = write_json(args.results / ("load_quick.json" if args.quick else "load.json"), results)
    Console().print(f"wrote {out}")
