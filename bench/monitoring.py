"""Monitoring benchmark: handler overhead, SQLite / Redis store throughput, kill -9 safety.

Run from the repo root (pin to one core for latency figures):

    taskset -c 1 python -m bench monitoring          # full
    python -m bench monitoring --quick               # small run

Writes bench/results/monitoring.json (``--out`` or ``--results`` to choose). No dataset is
needed (synthetic records).
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from rich.console import Console
from rich.progress import track
from rich.table import Table

from bench.common import REPO, percentile, results_option, write_json
from langchain_tokenopt.monitoring import (
    REQUEST_ID_KEY,
    MemoryMetricsStore,
    RedisMetricsStore,
    RequestRecord,
    SQLiteMetricsStore,
    StepEvent,
    TokenOptCallbackHandler,
    TokenUsage,
)
from tests.redis_server import RedisServer  # the test tooling's Redis launcher

console = Console()


def _record(i: int, tag: str = "b") -> RequestRecord:
    return RequestRecord(
        request_id=f"{tag}-{i}",
        timestamp=time.time(),
        model="gpt-4o",
        provider="openai",
        tenant_id=f"t{i % 5}",
        steps=(
            StepEvent(step="compression", tokens_before=1200, tokens_after=500, latency_ms=3.0),
            StepEvent(step="context", tokens_before=900, tokens_after=700, latency_ms=1.0),
        ),
        usage=TokenUsage(input_tokens=500, output_tokens=80, cache_read_tokens=128),
        usage_available=True,
        llm_latency_ms=400.0,
        optimizer_latency_ms=4.0,
        latency_ms=404.0,
    )


def bench_handler_overhead(n: int) -> dict[str, float]:
    """Per-request cost of the callbacks the handler runs (start, 2 steps, end)."""
    store = MemoryMetricsStore(max_records=n + 10, max_queue=n + 10)
    handler = TokenOptCallbackHandler(store=store)
    message = AIMessage(
        content="answer",
        usage_metadata={
            "input_tokens": 500,
            "output_tokens": 80,
            "total_tokens": 580,
            "input_token_details": {"cache_read": 128},
        },
        response_metadata={"model_name": "gpt-4o"},
    )
    result = LLMResult(generations=[[ChatGeneration(message=message)]])
    params = {"model": "gpt-4o", "tools": [{}, {}, {}]}
    samples = []
    for i in range(n):
        rid = f"r{i}"
        run_id = uuid.uuid4()
        meta = {REQUEST_ID_KEY: rid, "tenant_id": "acme", "ls_provider": "openai"}
        t0 = time.perf_counter()
        handler.record_step(rid, StepEvent(step="compression", tokens_before=900, tokens_after=400))
        handler.record_step(rid, StepEvent(step="context", tokens_before=400, tokens_after=300))
        handler.on_chat_model_start(
            {}, [[]], run_id=run_id, metadata=meta, invocation_params=params
        )
        handler.on_llm_end(result, run_id=run_id)
        samples.append((time.perf_counter() - t0) * 1000.0)
    store.flush(60)
    written = len(store.records(None))
    store.close()
    warm = samples[n // 10 :]
    return {
        "requests": n,
        "p50_ms": statistics.median(warm),
        "p95_ms": percentile(warm, 95),
        "p99_ms": percentile(warm, 99),
        "records_written": written,
    }


def bench_invoke_overhead(n: int) -> dict[str, float]:
    """p50 of model.invoke() with the handler attached minus without (callback dispatch too)."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    def messages() -> object:
        while True:
            yield AIMessage(
                content="ok",
                usage_metadata={"input_tokens": 50, "output_tokens": 5, "total_tokens": 55},
            )

    store = MemoryMetricsStore(max_records=n + 10, max_queue=n + 10)
    handler = TokenOptCallbackHandler(store=store)
    model = GenericFakeChatModel(messages=messages())
    plain: list[float] = []
    with_handler: list[float] = []
    for i in range(n):
        cfg = {"callbacks": [handler], "metadata": {REQUEST_ID_KEY: f"i{i}"}}
        t0 = time.perf_counter()
        model.invoke("hi")
        t1 = time.perf_counter()
        model.invoke("hi", config=cfg)  # type: ignore[arg-type]
        t2 = time.perf_counter()
        plain.append((t1 - t0) * 1000)
        with_handler.append((t2 - t1) * 1000)
    store.close()
    return {
        "requests": n,
        "plain_p50_ms": statistics.median(plain),
        "with_handler_p50_ms": statistics.median(with_handler),
        "overhead_p50_ms": statistics.median(with_handler) - statistics.median(plain),
    }


def _threads_into(store: object, threads: int, per_thread: int) -> dict[str, float]:
    add_times: list[float] = []
    lock = threading.Lock()

    def work(t: int) -> None:
        local = []
        for i in range(per_thread):
            rec = _record(i, f"t{t}")
            t0 = time.perf_counter()
            store.add(rec)  # type: ignore[attr-defined]
            local.append((time.perf_counter() - t0) * 1e6)
        with lock:
            add_times.extend(local)

    start = time.perf_counter()
    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    enqueued = time.perf_counter() - start
    store.flush(600)  # type: ignore[attr-defined]
    total = time.perf_counter() - start
    n = threads * per_thread
    t0 = time.perf_counter()
    first = store.summary(window="1h")  # type: ignore[attr-defined]
    t1 = time.perf_counter()
    store.summary(window="1h")  # type: ignore[attr-defined]
    t2 = time.perf_counter()
    assert first.requests == n
    return {
        "summary_first_s": t1 - t0,
        "summary_cached_s": t2 - t1,
        "records": n,
        "enqueue_s": enqueued,
        "total_s": total,
        "records_per_s": n / total,
        "add_p50_us": statistics.median(add_times),
        "add_p99_us": percentile(add_times, 99),
        "dropped": store.dropped,  # type: ignore[attr-defined]
    }


_PROC_WRITER = textwrap.dedent(
    """
    import sys, time
    from bench.monitoring import _record
    from langchain_tokenopt.monitoring import SQLiteMetricsStore
    path, n, tag, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    store = SQLiteMetricsStore(path=path, batch_size=256)
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.readline()
    t0 = time.perf_counter()
    for i in range(n):
        store.add(_record(i, tag))
        if i % 50 == 49:
            sys.stdout.write(f"added {i + 1} written {store.written}\\n"); sys.stdout.flush()
            if rate > 0:  # pace the producer like a real app (rate records/s)
                time.sleep(max(0.0, t0 + (i + 1) / rate - time.perf_counter()))
    store.flush(600)
    sys.stdout.write(f"done {store.written} {time.perf_counter() - t0:.4f}\\n")
    sys.stdout.flush()
    store.close()
    """
)


def bench_sqlite_processes(tmp: Path, procs: int, per_proc: int) -> dict[str, float]:
    path = tmp / "procs.sqlite"
    children = [
        subprocess.Popen(  # run from the repository root, so that ``bench`` imports
            [sys.executable, "-c", _PROC_WRITER, str(path), str(per_proc), f"p{k}", "0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
        )
        for k in range(procs)
    ]  # fmt: skip
    for c in children:
        assert c.stdout is not None and c.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for c in children:
        assert c.stdin is not None
        c.stdin.write("go\n")
        c.stdin.flush()
    for c in children:
        c.communicate(timeout=600)
    total = time.perf_counter() - start
    conn = sqlite3.connect(path)
    stored = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    return {
        "processes": procs,
        "records": procs * per_proc,
        "stored": stored,
        "total_s": total,
        "records_per_s": stored / total,
        "integrity": ok,
    }


def bench_kill9(tmp: Path, target_written: int, rate: float) -> dict[str, object]:
    path = tmp / f"kill-{int(rate)}.sqlite"
    child = subprocess.Popen(  # run from the repository root, so that ``bench`` imports
        [sys.executable, "-c", _PROC_WRITER, str(path), "10000000", "k", str(rate)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    child.stdin.write("go\n")
    child.stdin.flush()
    added = written = 0
    for line in child.stdout:
        parts = line.split()
        added, written = int(parts[1]), int(parts[3])
        if written >= target_written:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    conn = sqlite3.connect(path)
    ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
    stored = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    conn.close()
    return {
        "producer_rate_per_s": rate or "unpaced",
        "written_at_last_report": written,
        "added_at_last_report": added,
        "stored_after_kill": stored,
        "lost_unflushed": max(0, added - stored),
        "committed_lost": max(0, written - stored),
        "integrity": ok,
    }


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``monitoring`` to the dispatcher's subparsers."""
    p = sub.add_parser("monitoring", help="handler overhead, store throughput, kill -9 safety")
    p.add_argument("--quick", action="store_true", help="small run")
    p.add_argument("--no-redis", action="store_true", help="skip the Redis store")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results JSON (default: <results>/monitoring[_quick].json)",
    )
    results_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """The monitoring bench (see the module docstring)."""
    q = args.quick
    n_overhead = 2_000 if q else 20_000
    per_thread = 500 if q else 5_000
    per_proc = 1_000 if q else 10_000
    out: dict[str, Any] = {
        "quick": q,
        "python": platform.python_version(),
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
    }
    for _ in track(range(1), description="handler overhead"):
        out["handler_overhead"] = bench_handler_overhead(n_overhead)
    for _ in track(range(1), description="invoke overhead"):
        out["invoke_overhead"] = bench_invoke_overhead(n_overhead // 4)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for _ in track(range(1), description="sqlite, 8 threads"):
            store = SQLiteMetricsStore(path=tmp / "threads.sqlite", batch_size=256)
            out["sqlite_8_threads"] = _threads_into(store, 8, per_thread)
            store.close()
        for _ in track(range(1), description="sqlite, 4 processes"):
            out["sqlite_4_processes"] = bench_sqlite_processes(tmp, 4, per_proc)
        for _ in track(range(1), description="sqlite, kill -9"):
            out["sqlite_kill9_unpaced"] = bench_kill9(tmp, 2_000 if q else 10_000, 0)
            out["sqlite_kill9_2000_per_s"] = bench_kill9(tmp, 2_000 if q else 6_000, 2000)
        if not args.no_redis:
            for _ in track(range(1), description="redis, 8 threads"):
                with RedisServer() as server:
                    server.start()
                    redis = RedisMetricsStore(url=server.url, key_prefix="bench:", batch_size=256)
                    out["redis_8_threads"] = _threads_into(redis, 8, per_thread)
                    redis.close()

    ho = out["handler_overhead"]
    table = Table(title="monitoring bench" + (" (quick)" if q else ""))
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row(
        "handler overhead p50 / p99 (ms)", f"{ho['p50_ms']:.4f} / {ho['p99_ms']:.4f}", "p50 ≤ 0.2"
    )
    for key in ("sqlite_8_threads", "redis_8_threads"):
        if key in out:
            r = out[key]
            table.add_row(f"{key} records/s", f"{r['records_per_s']:,.0f}", "")
            table.add_row(
                f"{key} add() p50 / p99 (µs)", f"{r['add_p50_us']:.1f} / {r['add_p99_us']:.1f}", ""
            )
    for key in ("sqlite_8_threads", "redis_8_threads"):
        if key in out:
            r = out[key]
            first, repeat = r["summary_first_s"], r["summary_cached_s"]
            table.add_row(
                f"{key} summary(1h) first / repeat (s)", f"{first:.2f} / {repeat:.2f}", ""
            )
    r = out["sqlite_4_processes"]
    table.add_row("sqlite_4_processes records/s", f"{r['records_per_s']:,.0f}", "")
    table.add_row("sqlite_4_processes stored / integrity", f"{r['stored']} / {r['integrity']}", "")
    for key in ("sqlite_kill9_unpaced", "sqlite_kill9_2000_per_s"):
        k = out[key]
        table.add_row(
            f"{key}: committed lost / queued lost / integrity",
            f"{k['committed_lost']} / {k['lost_unflushed']} / {k['integrity']}",
            "0 / ≤ queue / ok",
        )
    inv = out["invoke_overhead"]
    table.add_row(
        "invoke() with handler − without, p50 (ms)",
        f"{inv['overhead_p50_ms']:.4f}",
        "≤ 0.2",
    )
    console.print(table)
    target = write_json(
        args.out or args.results / ("monitoring_quick.json" if q else "monitoring.json"), out
    )
    console.print(f"wrote {target}")
