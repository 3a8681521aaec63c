"""`tokenopt dashboard` serves the recorded data on loopback; `tokenopt stats` reads it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from langchain_tokenopt.monitoring import RequestRecord, SQLiteMetricsStore, TokenUsage


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tokenopt() -> list[str]:
    exe = shutil.which("tokenopt", path=str(Path(sys.executable).parent))
    assert exe is not None, "the tokenopt entry point is not installed"
    return [exe]


def test_cli_dashboard_and_stats(tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    store = SQLiteMetricsStore(path=db, flush_interval=0.01)
    for i in range(5):
        store.add(
            RequestRecord(
                request_id=f"c{i}", timestamp=time.time(), model="gpt-4o", provider="openai",
                usage=TokenUsage(input_tokens=100, output_tokens=10), usage_available=True,
                latency_ms=10.0,
            )
        )  # fmt: skip
    assert store.flush(5)
    store.close()

    stats = subprocess.run(
        [*_tokenopt(), "stats", "--db", str(db), "--window", "1h", "--by", "model"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    assert stats.returncode == 0, stats.stderr
    assert "gpt-4o" in stats.stdout and "100.0%" in stats.stdout  # pricing coverage

    port = _free_port()
    proc = subprocess.Popen(
        [*_tokenopt(), "dashboard", "--db", str(db), "--port", str(port), "--token", "tok"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        auth = {"Authorization": "Bearer tok"}
        summary = httpx.get(f"http://127.0.0.1:{port}/api/summary?window=1h", headers=auth)
        assert summary.json()["requests"] == 5
        assert httpx.get(f"http://127.0.0.1:{port}/api/summary").status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
