"""Monitoring never breaks a request: a locked or corrupt SQLite file, a missing extra.

The records a store cannot write are dropped and counted, with one warning line per
outage naming the cause (no traceback), and one more when writes succeed again.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from langchain_tokenopt.monitoring import (
    MemoryMetricsStore,
    RequestRecord,
    SQLiteMetricsStore,
    TokenOptCallbackHandler,
)

CALLS = 5


class _NamedModel(FakeListChatModel):
    """A fake chat model with a model name the pricer can look up."""

    model_name: str = "gpt-4o-mini"


def _tokenopt_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name.startswith("langchain_tokenopt") and r.levelno >= logging.WARNING
    ]


def _invoke(handler: TokenOptCallbackHandler, n: int = CALLS) -> list[str]:
    model = _NamedModel(responses=[f"answer {i}" for i in range(n)])
    answers = []
    for i in range(n):
        reply = model.invoke(f"question {i}", config={"callbacks": [handler]})
        answers.append(str(reply.content))
        assert handler.store.flush(5.0)
    return answers


def test_locked_sqlite_drops_records_with_one_warning_then_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "metrics.sqlite"
    store = SQLiteMetricsStore(path=path, busy_timeout_ms=50, flush_interval=0.05)
    handler = TokenOptCallbackHandler(store=store)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with caplog.at_level(logging.WARNING):
            assert _invoke(handler) == [f"answer {i}" for i in range(CALLS)]
            assert store.failed == CALLS
            assert store.written == 0
            lines = _tokenopt_warnings(caplog)
            assert len(lines) == 1, [r.getMessage() for r in lines]
            assert f"metrics database {path} is locked" in lines[0].getMessage()
            assert lines[0].exc_info is None
            other.execute("ROLLBACK")
            assert _invoke(handler, 1) == ["answer 0"]
        assert store.written == 1
        assert store.count() == 1
        lines = _tokenopt_warnings(caplog)
        assert len(lines) == 2
        assert "accepts writes again" in lines[1].getMessage()
        assert f"({CALLS} records dropped)" in lines[1].getMessage()
    finally:
        other.close()
        store.close()


def test_corrupt_sqlite_drops_records_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "metrics.sqlite"
    store = SQLiteMetricsStore(path=path, flush_interval=0.05)
    handler = TokenOptCallbackHandler(store=store)
    try:
        # another program replaces the file with garbage after the store opened it
        garbage = tmp_path / "garbage"
        garbage.write_bytes(b"not a database!!" * 256)
        for side in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            side.unlink(missing_ok=True)
        os.replace(garbage, path)
        with caplog.at_level(logging.WARNING):
            assert _invoke(handler) == [f"answer {i}" for i in range(CALLS)]
        assert store.failed == CALLS
        lines = _tokenopt_warnings(caplog)
        assert len(lines) == 1, [r.getMessage() for r in lines]
        assert f"metrics database {path} is corrupt" in lines[0].getMessage()
        assert lines[0].exc_info is None
    finally:
        store.close()


def test_monitor_without_the_monitoring_extra_warns_once_without_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "genai_prices", None)  # the extra is not installed
    store = MemoryMetricsStore(flush_interval=0.05)
    handler = TokenOptCallbackHandler(store=store)
    try:
        with caplog.at_level(logging.DEBUG, logger="langchain_tokenopt"):
            assert _invoke(handler) == [f"answer {i}" for i in range(CALLS)]
        lines = _tokenopt_warnings(caplog)
        assert len(lines) == 1, [r.getMessage() for r in lines]
        assert 'pip install "langchain-tokenopt[monitoring]"' in lines[0].getMessage()
        assert all(r.exc_info is None for r in caplog.records if r.levelno >= logging.INFO)
        records = store.records(None)
        assert len(records) == CALLS
        assert all(r.cost is not None and not r.cost.priced for r in records)
        assert store.failed == 0
    finally:
        store.close()


def test_a_failing_pricer_warns_once_per_model(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenPricer:
        def price(self, record: RequestRecord) -> object:
            msg = "price table unreadable"
            raise RuntimeError(msg)

    store = MemoryMetricsStore(pricer=BrokenPricer(), flush_interval=0.05)
    try:
        with caplog.at_level(logging.WARNING):
            for i in range(CALLS):
                store.add(RequestRecord(request_id=f"r{i}", timestamp=time.time(), model="m1"))
            store.add(RequestRecord(request_id="other", timestamp=time.time(), model="m2"))
            assert store.flush(5.0)
        assert store.written == CALLS + 1
        lines = [r.getMessage() for r in _tokenopt_warnings(caplog)]
        assert len(lines) == 2, lines
        assert "pricing m1 failed (RuntimeError: price table unreadable)" in lines[0]
        assert "pricing m2 failed" in lines[1]
    finally:
        store.close()


def test_a_store_that_raises_on_add_warns_once_for_many_calls(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class RefusingStore(MemoryMetricsStore):
        def add(self, record: RequestRecord) -> None:
            msg = "store closed"
            raise RuntimeError(msg)

    store = RefusingStore()
    handler = TokenOptCallbackHandler(store=store)
    try:
        with caplog.at_level(logging.WARNING):
            assert _invoke(handler) == [f"answer {i}" for i in range(CALLS)]
        lines = _tokenopt_warnings(caplog)
        assert len(lines) == 1, [r.getMessage() for r in lines]
        assert "the store rejected a record (RuntimeError: store closed)" in lines[0].getMessage()
        assert lines[0].exc_info is None
    finally:
        store.close()
