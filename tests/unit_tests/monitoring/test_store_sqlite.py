from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import IO, cast

import pytest

from langchain_tokenopt.errors import MonitoringError, TokenOptConfigError
from langchain_tokenopt.monitoring import ModelPrice, Pricer, SQLiteMetricsStore, summarize

from .factory import make_record, worked_records

PRICER = Pricer(overrides={"m1": ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)})


def test_roundtrip_wal_and_summary(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    store = SQLiteMetricsStore(path=path, pricer=PRICER, flush_interval=0.01)
    originals = worked_records()
    for r in originals:
        store.add(r)
    assert store.flush(5)
    back = store.records("1h")
    assert [r.request_id for r in back] == [r.request_id for r in originals]
    assert back[0].steps == originals[0].steps and back[0].usage == originals[0].usage
    assert back[0].cost is not None and back[0].cost.priced
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    s = store.summary(window="24h", group_by=("model",))
    assert s == summarize(back, group_by=("model",), window="24h")
    assert s.requests == 4 and [g.key["model"] for g in s.groups] == ["m1", "m2"]
    store.close()
    # a second store on the same file sees the same rows
    again = SQLiteMetricsStore(path=path)
    assert again.count() == 4
    again.close()


def test_retention_deletes_old_rows(tmp_path: Path) -> None:
    store = SQLiteMetricsStore(path=tmp_path / "r.sqlite", retention_days=7, flush_interval=0.01)
    store.add(make_record(request_id="old", ts=time.time() - 8 * 86400))
    store.add(make_record(request_id="new"))
    assert store.flush(5)
    # the writer applies retention with its first batch (then hourly)
    assert [r.request_id for r in store.records(None)] == ["new"]
    conn = sqlite3.connect(store.path)
    conn.execute(
        "INSERT INTO requests (ts, request_id, cache_hit, data) SELECT ts - 9 * 86400, 'aged',"
        " cache_hit, data FROM requests"
    )
    conn.commit()
    assert store.count() == 2
    assert store.apply_retention() == 1
    assert store.count() == 1
    store.close()
    with pytest.raises(TokenOptConfigError):
        SQLiteMetricsStore(path=tmp_path / "x.sqlite", retention_days=0)


def test_add_never_waits_on_a_locked_database(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite"
    store = SQLiteMetricsStore(path=path, flush_interval=0.01, busy_timeout_ms=20_000)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    start = time.perf_counter()
    for i in range(200):
        store.add(make_record(request_id=f"r{i}"))
    elapsed = time.perf_counter() - start
    time.sleep(0.2)  # the writer is now stuck behind the lock
    # waiting on the lock would take the 20 s busy timeout; the bound leaves room for a loaded host
    assert elapsed < 1.0
    blocker.execute("COMMIT")
    blocker.close()
    assert store.flush(20)
    assert store.count() == 200
    store.close()


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(MonitoringError):
        SQLiteMetricsStore(path=bad)


_WRITER = textwrap.dedent(
    """
    import sys, time
    from langchain_tokenopt.monitoring import SQLiteMetricsStore, TokenUsage
    from langchain_tokenopt.monitoring.records import RequestRecord
    path, n, tag, batch = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    store = SQLiteMetricsStore(path=path, batch_size=batch, flush_interval=0.02)
    for i in range(n):
        store.add(RequestRecord(request_id=f"{tag}-{i}", timestamp=time.time(), model="m",
                                usage=TokenUsage(input_tokens=i, output_tokens=1),
                                usage_available=True))
        if i % 50 == 49:
            print(f"added {i + 1} written {store.written}", flush=True)
            time.sleep(0.002)
    store.flush()
    print(f"done {store.written}", flush=True)
    """
)


def test_four_processes_write_one_file(tmp_path: Path) -> None:
    path = tmp_path / "multi.sqlite"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), "300", f"p{k}", "64"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(4)
    ]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out
        assert out.strip().endswith("done 300")
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(DISTINCT request_id) FROM requests").fetchone()[0] == 1200
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_kill_9_mid_batch_loses_only_unflushed_records(tmp_path: Path) -> None:
    path = tmp_path / "killed.sqlite"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path), "1000000", "k", "500"],
        stdout=subprocess.PIPE,
        text=True,
    )
    stdout = cast("IO[str]", proc.stdout)  # stdout=PIPE: always set
    added = written = 0
    for line in stdout:
        parts = line.split()
        added, written = int(parts[1]), int(parts[3])
        if written >= 2000:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    # every batch committed before the kill survived; what was lost was only queued
    assert stored >= written >= 2000
    # ids are a gap-free prefix: batches commit whole, in order
    ids = {int(r[0].split("-")[1]) for r in conn.execute("SELECT request_id FROM requests")}
    assert ids == set(range(stored))
    lost = added - stored
    print(json.dumps({"added_at_last_report": added, "stored": stored, "lost": lost}))
    conn.close()
    # the file is still usable for writing
    store = SQLiteMetricsStore(path=path, flush_interval=0.01)
    store.add(make_record(request_id="after"))
    assert store.flush(5) and store.count() == stored + 1
    store.close()


def test_decode_cache_is_bounded_and_consistent(tmp_path: Path) -> None:
    store = SQLiteMetricsStore(path=tmp_path / "d.sqlite", decode_cache=10, flush_interval=0.01)
    for i in range(30):
        store.add(make_record(request_id=f"d{i}", ts=time.time() - 30 + i))
    assert store.flush(5)
    first = store.records("1h")
    again = store.records("1h")
    assert [r.request_id for r in first] == [f"d{i}" for i in range(30)]
    assert first == again
    assert len(store._decoded) <= 10
    store.close()
    with pytest.raises(TokenOptConfigError):
        SQLiteMetricsStore(path=tmp_path / "e.sqlite", decode_cache=-1)


def test_flush_does_not_wait_for_the_flush_interval(tmp_path: Path) -> None:
    # a long interval: the writer waits for more records before writing a partial batch,
    # and flush() must wake it instead of sleeping out the interval
    store = SQLiteMetricsStore(path=tmp_path / "m.sqlite", pricer=PRICER, flush_interval=5.0)
    try:
        waits = []
        for i in range(3):
            store.add(make_record(request_id=f"f{i}", model="m1"))
            t0 = time.perf_counter()
            assert store.flush(10)
            waits.append(time.perf_counter() - t0)
            assert [r.request_id for r in store.records("1h")][-1] == f"f{i}"
        assert max(waits) < 1.0, waits
    finally:
        store.close()
