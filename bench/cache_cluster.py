"""Redis Cluster cache bench: what the packaged server can do in cluster mode, and latency.

Run from the repository root::

    nice -n 5 python -m bench cache cluster            # 200 scopes x 20 entries
    nice -n 5 python -m bench cache cluster --quick    # 60 scopes x 10 entries

Starts one ``RedisServer`` and a 3-master ``RedisClusterServer`` from the wheels, then:

1. **Facts** (measured, not assumed): does ``FT.SEARCH`` see documents of other shards (a
   coordinator), do vector sets (``VADD``/``VSIM``) exist, and what one scope costs as a
   RediSearch index of its own vs a vector set of its own (time and memory per scope).
2. **Latency** at the backend (no embedder, no verifier): the semantic path's top-1
   search and the exact path's ``get`` by id, p50/p95 in ms, ``RedisBackend`` on one node
   vs ``RedisClusterBackend`` on the cluster, calls interleaved (same host load); ``get``
   is measured warm (the id's scope memoized in process) and cold (a fresh backend reads
   ``<prefix>id:{I}`` first).
3. **Spread**: scopes (vector sets) and keys per master.

Vectors are random unit vectors of dimension 384 (the packaged MiniLM's). Latencies are
upper bounds on a shared 2-core host. Writes ``bench/results/cache_cluster_bench.json``
(``cache_cluster_bench_quick.json`` with --quick).
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import redis
from redis.cluster import RedisCluster
from rich.console import Console
from rich.table import Table

from bench.common import percentile, write_json
from langchain_tokenopt.cache import RedisBackend, RedisClusterBackend
from langchain_tokenopt.cache.records import CacheEntry
from tests.redis_server import RedisClusterServer, RedisServer

DIM = 384


def _hex(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:32]


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def _entries(scopes: int, per_scope: int, seed: int) -> list[CacheEntry]:
    rng = np.random.default_rng(seed)
    now = time.time()
    rows = []
    for s in range(scopes):
        scope = _hex("scope", s)
        for e in range(per_scope):
            rows.append(
                CacheEntry(
                    entry_id=_hex(scope, e),
                    scope=scope,
                    model=_hex("model"),
                    model_name=_hex("model_name"),
                    tenant=_hex("tenant", s),
                    user=_hex("user", s),
                    text=f"question {e} of scope {s}",
                    payload='[{"text": "answer"}]',
                    created_at=now,
                    expires_at=None,
                    vector=_unit(rng).tobytes(),
                )
            )
    return rows


def _ms(samples: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(samples, 50) * 1e3, 3),
        "p95_ms": round(percentile(samples, 95) * 1e3, 3),
        "n": len(samples),
    }


def _timed(calls: Sequence[Callable[[], Any]]) -> list[float]:
    out = []
    for call in calls:
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def facts(cluster: RedisClusterServer, scopes: int) -> dict[str, Any]:
    """Measure what the packaged server supports in cluster mode."""
    client = RedisCluster.from_url(cluster.url)
    nodes = [redis.Redis(port=p) for p in cluster.ports]
    report: dict[str, Any] = {}
    modules = {m[b"name"].decode(): m[b"ver"] for m in nodes[0].module_list()}
    report["modules"] = modules
    # one index over every shard's keys: does a search see other shards' documents?
    client.execute_command(
        "FT.CREATE", "probe:idx", "ON", "HASH", "PREFIX", 1, "probe:",
        "SCHEMA", "scope", "TAG",
    )  # fmt: skip
    for n in range(90):
        client.hset(f"probe:{{{n}}}", "scope", "x")
    seen = client.execute_command("FT.SEARCH", "probe:idx", "*", "LIMIT", 0, 0)
    total = seen[b"total_results"] if isinstance(seen, dict) else seen[0]
    holders = [n for n in nodes if b"probe:idx" in n.execute_command("FT._LIST")]
    report["ft_search_cross_shard"] = {
        "documents_written": 90,
        "documents_found": int(total),
        "nodes_holding_the_index": len(holders),
        "coordinator": int(total) == 90,
    }
    # vector sets
    blob = np.ones(DIM, dtype=np.float32).tobytes()
    client.execute_command("VADD", "probe:{vs}", "FP32", blob, "e", "NOQUANT")
    reply = client.execute_command("VSIM", "probe:{vs}", "FP32", blob, "COUNT", 1, "WITHSCORES")
    report["vector_sets"] = {"VADD_VSIM_work": bool(reply), "vsim_reply": str(reply)}

    def used() -> int:
        return sum(int(n.info("memory")["used_memory"]) for n in nodes)

    rng = np.random.default_rng(7)
    for kind in ("index_per_scope", "vector_set_per_scope"):
        before, start = used(), time.perf_counter()
        for s in range(scopes):
            if kind == "index_per_scope":
                client.execute_command(
                    "FT.CREATE", f"p1:idx:{{{s}}}", "ON", "HASH", "PREFIX", 1, f"p1:{{{s}}}:",
                    "SCHEMA", "vector", "VECTOR", "HNSW", 6, "TYPE", "FLOAT32", "DIM", DIM,
                    "DISTANCE_METRIC", "COSINE",
                )  # fmt: skip
                client.hset(f"p1:{{{s}}}:e", "vector", _unit(rng).tobytes())
            else:
                client.execute_command(
                    "VADD", f"p2:{{{s}}}:v", "FP32", _unit(rng).tobytes(), "e", "NOQUANT"
                )
        seconds, grown = time.perf_counter() - start, used() - before
        report[kind] = {
            "scopes": scopes,
            "ms_per_scope": round(seconds / scopes * 1e3, 3),
            "kib_per_scope": round(grown / scopes / 1024, 1),
        }
    for s in range(scopes):
        client.execute_command("FT.DROPINDEX", f"p1:idx:{{{s}}}", "DD")
    client.close()
    for node in nodes:
        node.close()
    return report


def latency(
    backends: dict[str, RedisBackend], rows: list[CacheEntry], n: int, seed: int, rounds: int = 5
) -> dict[str, Any]:
    """Search and warm get latency of each backend, in alternating rounds.

    The host is shared, so its load drifts: each round runs a block of calls on every
    backend in turn (order alternating), and the table reports the median of the rounds'
    p50 beside the pooled p95.
    """
    rng = np.random.default_rng(seed)
    picks = [rows[int(i)] for i in rng.integers(0, len(rows), n)]
    queries = [_unit(rng) for _ in picks]
    now = time.time()
    for backend in backends.values():
        for entry in picks[:50]:  # warm the connections and the scripts
            backend.search(entry.scope, np.frombuffer(entry.vector or b"", np.float32), now=now)
            backend.get(entry.entry_id, now=now)
    samples: dict[str, dict[str, list[list[float]]]] = {
        name: {"search": [], "get_warm": []} for name in backends
    }
    size = max(1, n // rounds)
    names = list(backends)
    for r in range(rounds):
        block = range(r * size, min(n, (r + 1) * size))
        for name in names if r % 2 == 0 else names[::-1]:
            backend = backends[name]
            took: list[float] = []
            for i in block:
                start = time.perf_counter()
                backend.search(picks[i].scope, queries[i], now=now)
                took.append(time.perf_counter() - start)
            samples[name]["search"].append(took)
            took = []
            for i in block:
                start = time.perf_counter()
                backend.get(picks[i].entry_id, now=now)
                took.append(time.perf_counter() - start)
            samples[name]["get_warm"].append(took)
    report: dict[str, Any] = {}
    for name, kinds in samples.items():
        report[name] = {}
        for kind, by_round in kinds.items():
            pooled: dict[str, Any] = _ms([x for block_ in by_round for x in block_])
            p50s = [_ms(block_)["p50_ms"] for block_ in by_round]
            pooled["p50_ms_by_round"] = p50s
            pooled["p50_ms_median_of_rounds"] = round(statistics.median(p50s), 3)
            report[name][kind] = pooled
    return report


def cold_gets(make: Callable[[], RedisBackend], rows: list[CacheEntry], n: int) -> dict[str, Any]:
    """``get`` from a backend that has not met the ids yet (cluster: pointer read first)."""
    backend = make()
    now = time.time()
    backend.get(rows[0].entry_id, now=now)  # connect
    picks = rows[1 : n + 1]
    found = _ms(_timed([(lambda e=e: backend.get(e.entry_id, now=now)) for e in picks]))  # type: ignore[misc]
    backend.close()
    return found


def run(args: argparse.Namespace) -> None:
    """The cluster bench (see the module docstring)."""
    scopes, per_scope, calls = (60, 10, 500) if args.quick else (200, 20, 2000)
    console = Console(width=120)
    report: dict[str, Any] = {
        "host": {"python": platform.python_version(), "machine": platform.machine()},
        "scopes": scopes,
        "entries_per_scope": per_scope,
        "calls": calls,
    }
    rows = _entries(scopes, per_scope, seed=1)
    with RedisServer() as single, RedisClusterServer(masters=3) as cluster:
        report["facts"] = facts(cluster, scopes=min(scopes, 100))
        one = RedisBackend(url=single.url, prefix="bench:", max_entries=None)
        many = RedisClusterBackend(url=cluster.url, prefix="bench:", max_entries=None)
        for backend in (one, many):
            start = time.perf_counter()
            for entry in rows:
                backend.put(entry)
            report.setdefault("put_ms_mean", {})[type(backend).__name__] = round(
                (time.perf_counter() - start) / len(rows) * 1e3, 3
            )
        report["latency"] = latency(
            {"RedisBackend (1 node)": one, "RedisClusterBackend (3 masters)": many},
            rows,
            calls,
            seed=2,
        )
        report["latency"]["RedisBackend (1 node)"]["get_cold"] = cold_gets(
            lambda: RedisBackend(url=single.url, prefix="bench:"), rows, calls
        )
        report["latency"]["RedisClusterBackend (3 masters)"]["get_cold"] = cold_gets(
            lambda: RedisClusterBackend(url=cluster.url, prefix="bench:"), rows, calls
        )
        spread = many.spread()
        keys = {f"127.0.0.1:{port}": int(redis.Redis(port=port).dbsize()) for port in cluster.ports}
        report["spread"] = {"scopes_per_master": spread, "keys_per_master": keys}
        one.close()
        many.close()

    facts_ = report["facts"]
    table = Table(title="Cluster facts (packaged Redis 8 + RediSearch)")
    table.add_column("question")
    table.add_column("measured")
    cross = facts_["ft_search_cross_shard"]
    table.add_row(
        "FT.SEARCH across shards",
        f"{cross['documents_found']} of {cross['documents_written']} documents found; index on "
        f"{cross['nodes_holding_the_index']} of 3 nodes; coordinator: {cross['coordinator']}",
    )
    table.add_row("vector sets (VADD/VSIM)", str(facts_["vector_sets"]["VADD_VSIM_work"]))
    for kind in ("index_per_scope", "vector_set_per_scope"):
        row = facts_[kind]
        table.add_row(kind, f"{row['ms_per_scope']} ms, {row['kib_per_scope']} KiB per scope")
    console.print(table)
    table = Table(title=f"Backend latency, {scopes} scopes x {per_scope} entries (upper bounds)")
    for col in ("backend", "search p50*", "search p95", "get warm p50*", "get cold p50", "put"):
        table.add_column(col)
    for name, row in report["latency"].items():
        kind = name.split()[0]
        table.add_row(
            name,
            f"{row['search']['p50_ms_median_of_rounds']} ms",
            f"{row['search']['p95_ms']} ms",
            f"{row['get_warm']['p50_ms_median_of_rounds']} ms",
            f"{row['get_cold']['p50_ms']} ms",
            f"{report['put_ms_mean'][kind]} ms",
        )
    console.print(table)
    console.print("* median of 5 rounds' p50 (the host's load drifts between rounds)")
    console.print(f"scopes per master: {report['spread']['scopes_per_master']}")
    console.print(f"keys per master: {report['spread']['keys_per_master']}")
    name = "cache_cluster_bench_quick.json" if args.quick else "cache_cluster_bench.json"
    target = write_json(args.results / name, report, indent=1, default=str)
    console.print(f"wrote {target}")
