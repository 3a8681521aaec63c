"""Embedded faults: kill -9 a writer process mid-write; unwritable or full storage.

A child Python process writes cache entries (LocalBackend) or metrics records
(SQLiteMetricsStore) and prints what each write acknowledged; the parent kills it with
SIGKILL mid-stream, reopens the files and checks that nothing acknowledged is lost and
that ``PRAGMA integrity_check`` is ``ok``.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import IO, cast

import pytest

from langchain_tokenopt.cache import LocalBackend
from langchain_tokenopt.errors import CacheStorageError, MonitoringError
from langchain_tokenopt.monitoring import SQLiteMetricsStore

CACHE_WRITER = textwrap.dedent(
    """
    import sys, time
    from langchain_tokenopt.cache import LocalBackend
    from langchain_tokenopt.cache.records import CacheEntry
    backend = LocalBackend(path=sys.argv[1])
    i = 0
    while True:
        now = time.time()
        backend.put(CacheEntry(
            entry_id=f"{i:032x}", scope="ab" * 16, model="m", model_name="n", tenant="t",
            user="u", text=f"q{i}", payload=f"answer {i}" * 50, created_at=now,
            expires_at=None, vector=None,
        ))
        print(i, flush=True)
        i += 1
    """
)

METRICS_WRITER = textwrap.dedent(
    """
    import sys, time
    from langchain_tokenopt.monitoring import RequestRecord, SQLiteMetricsStore
    store = SQLiteMetricsStore(sys.argv[1], flush_interval=0.01, batch_size=32)
    i = 0
    while True:
        for _ in range(32):
            store.add(RequestRecord(request_id=f"r{i}", timestamp=time.time(), model="gpt-4o"))
            i += 1
        assert store.flush(10.0)
        print(store.written, flush=True)
    """
)


def _run_and_kill(script: str, path: Path, acked_min: int) -> int:
    """Run ``script`` on ``path``, SIGKILL it once it acknowledged ``acked_min`` writes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    last = -1
    try:
        stdout = cast("IO[str]", proc.stdout)  # stdout=PIPE: always set
        deadline = time.monotonic() + 60
        for line in stdout:
            last = int(line)
            if last >= acked_min or time.monotonic() > deadline:
                break
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: the child is still writing
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    return last


def _integrity(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def test_kill_9_during_local_cache_writes_loses_nothing_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    last = _run_and_kill(CACHE_WRITER, path, acked_min=300)
    assert last >= 300
    backend = LocalBackend(path=path)  # the dead writer's lock is gone with it
    try:
        now = time.time()
        missing = [i for i in range(last + 1) if backend.get(f"{i:032x}", now=now) is None]
        assert missing == []
        assert backend.get(f"{last:032x}", now=now).payload == f"answer {last}" * 50  # type: ignore[union-attr]
        assert backend.count() >= last + 1
    finally:
        backend.close()
    assert _integrity(path) == "ok"


def test_kill_9_during_sqlite_metrics_writes_loses_nothing_flushed(tmp_path: Path) -> None:
    path = tmp_path / "metrics.sqlite"
    written = _run_and_kill(METRICS_WRITER, path, acked_min=640)
    assert written >= 640
    store = SQLiteMetricsStore(path)
    try:
        ids = {r.request_id for r in store.records(None)}
        assert {f"r{i}" for i in range(written)} <= ids
        assert store.count() >= written
    finally:
        store.close()
    assert _integrity(path) == "ok"


def _without_privileges(code: str, directory: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` without the capabilities that let root ignore directory permissions."""
    command = [sys.executable, "-c", code, str(directory)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv is not None, "running as root needs util-linux setpriv to drop caps"
        command = [setpriv, "--inh-caps=-all", "--bounding-set=-all", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


READ_ONLY_PROBE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from langchain_tokenopt.cache import LocalBackend
    from langchain_tokenopt.errors import CacheStorageError, MonitoringError
    from langchain_tokenopt.monitoring import SQLiteMetricsStore
    ro = Path(sys.argv[1]) / "ro"
    for name, build, error in (
        ("cache", lambda: LocalBackend(path=ro / "cache.sqlite3"), CacheStorageError),
        ("cache-subdir", lambda: LocalBackend(path=ro / "sub" / "c.sqlite3"), CacheStorageError),
        ("metrics", lambda: SQLiteMetricsStore(ro / "metrics.sqlite"), MonitoringError),
    ):
        try:
            build()
        except error as exc:
            print(name, "ERROR", str(exc).replace(chr(10), " "))
        else:
            print(name, "OPENED")
    """
)


def test_read_only_directory_is_a_clear_error_at_construction(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    result = _without_privileges(READ_ONLY_PROBE, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines())
    assert set(lines) == {"cache", "cache-subdir", "metrics"}
    for name, outcome in lines.items():
        assert outcome.startswith("ERROR "), (name, outcome)
        assert str(ro) in outcome, (name, outcome)  # the message names the path


FULL_DISK_PROBE = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    from langchain_tokenopt.cache import LocalBackend
    from langchain_tokenopt.errors import CacheStorageError, MonitoringError
    from langchain_tokenopt.monitoring import SQLiteMetricsStore
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIMIT_FSIZE and 0))
    d = Path(sys.argv[1])
    try:
        LocalBackend(path=d / "cache.sqlite3")
    except CacheStorageError as exc:
        print("cache ERROR", exc)
    try:
        SQLiteMetricsStore(d / "metrics.sqlite")
    except MonitoringError as exc:
        print("metrics ERROR", exc)
    """
)


def test_full_disk_is_a_clear_error_at_construction(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK_PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "cache ERROR" in out and "metrics ERROR" in out, out


def test_corrupt_cache_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CacheStorageError, match="corrupt or not a SQLite"):
        LocalBackend(path=path)
    metrics = tmp_path / "metrics.sqlite"
    metrics.write_bytes(b"garbage" * 1000)
    with pytest.raises(MonitoringError, match="cannot open metrics database"):
        SQLiteMetricsStore(metrics)
