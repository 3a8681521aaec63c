"""SummaryCache on disk: model summaries survive a restart; a bad file never breaks a call."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from langchain_tokenopt.context import (
    ContextOptimizer,
    HierarchicalSummary,
    MaskToolOutputs,
    SummaryCache,
    validate_history,
)
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter

from .helpers import SYSTEM, conversation

COUNTER = TokenCounter("gpt-4o")
MODEL_KEY = SummaryCache.key("ChatOpenAI:gpt-4o-mini", 0, 320, "User: book RES001")
EXTRACTIVE_KEY = SummaryCache.key("extractive-v1", 0, 320, "User: book RES001")


def rows(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT key FROM summaries ORDER BY stored")]


def test_model_summaries_survive_a_restart_and_extractive_ones_stay_in_memory(
    tmp_path: Path,
) -> None:
    path = tmp_path / "deep" / "summaries.sqlite"  # parent folders are created
    cache = SummaryCache(path=path)
    cache.put(MODEL_KEY, "The user booked RES001.")
    cache.put(EXTRACTIVE_KEY, "User: book RES001")
    cache.close()
    reopened = SummaryCache(path=path)
    assert reopened.get(MODEL_KEY) == "The user booked RES001."
    assert reopened.get(EXTRACTIVE_KEY) is None
    assert (reopened.hits, reopened.misses) == (1, 1)
    assert rows(path) == [MODEL_KEY]


def test_optimizer_after_a_restart_reads_every_summary_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "summaries.sqlite"
    msgs = conversation(12)
    budget = COUNTER.count_messages([SYSTEM]) + 600

    def run() -> tuple[list, SummaryCache]:
        cache = SummaryCache(path=path, persist_extractive=True)
        step = HierarchicalSummary(cache=cache, segment_units=4)
        out = ContextOptimizer(max_tokens=budget, strategies=[MaskToolOutputs(), step]).invoke(msgs)
        return out, cache

    first, cache1 = run()
    assert cache1.misses > 0 and len(rows(path)) == cache1.misses
    # a new process: each run() builds a new optimizer, whose memo is empty
    second, cache2 = run()
    assert second == first
    validate_history(second)
    assert cache2.misses == 0 and cache2.hits >= cache1.misses


def test_a_corrupt_file_falls_back_to_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "summaries.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING, logger="langchain_tokenopt.context.summary_cache"):
        cache = SummaryCache(path=path)
    assert "unusable" in caplog.text
    cache.put(MODEL_KEY, "kept in memory")
    assert cache.get(MODEL_KEY) == "kept in memory"
    step = HierarchicalSummary(cache=cache, segment_units=4)
    msgs = conversation(12)
    out = ContextOptimizer(
        max_tokens=COUNTER.count_messages([SYSTEM]) + 600, strategies=[MaskToolOutputs(), step]
    ).invoke(msgs)
    validate_history(out)


def test_a_file_removed_while_in_use_turns_into_misses(tmp_path: Path) -> None:
    path = tmp_path / "summaries.sqlite"
    cache = SummaryCache(path=path, max_entries=1)
    cache.put(MODEL_KEY, "first")
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE summaries")
    other = SummaryCache.key("ChatOpenAI:gpt-4o-mini", 0, 320, "another segment")
    cache.put(other, "second")  # the write fails: logged, kept in memory
    assert cache.get(other) == "second"
    assert cache.get(MODEL_KEY) is None  # evicted from memory, file unreadable: a miss


def test_concurrent_writers_and_the_stored_bound(tmp_path: Path) -> None:
    path = tmp_path / "summaries.sqlite"
    cache = SummaryCache(path=path, max_stored=10)
    keys = [SummaryCache.key("m", 0, 64, f"segment {i}") for i in range(512)]

    def write(part: list[str]) -> None:
        for key in part:
            cache.put(key, f"summary of {key}")

    threads = [threading.Thread(target=write, args=(keys[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = rows(path)
    assert len(stored) == 10  # pruned on the 512th write
    assert all(SummaryCache(path=path).get(k) == f"summary of {k}" for k in stored)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_entries": 0}, {"max_stored": True}, {"max_stored": 0}, {"path": 123}],
)
def test_config_is_validated(kwargs: dict) -> None:
    with pytest.raises(TokenOptConfigError):
        SummaryCache(**kwargs)
