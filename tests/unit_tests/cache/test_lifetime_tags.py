"""Per-entry lifetime, refresh-on-hit, tags, listing and deletion on the LocalBackend."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from langchain_core.outputs import Generation

from langchain_tokenopt.cache import LocalBackend, SemanticCache
from langchain_tokenopt.cache.keys import build_key, digest
from langchain_tokenopt.cache.scope import CallerScope

from . import lifetime_checks
from .conftest import CountingEmbeddings
from .helpers import chat_prompt, llm_string

MakeCache = Callable[..., SemanticCache]


@pytest.mark.parametrize("check", lifetime_checks.CHECKS, ids=lambda c: c.__name__)
def test_lifetime_and_invalidation(
    make_cache: MakeCache, check: Callable[[MakeCache], None]
) -> None:
    made = iter(range(100))
    check(lambda **kw: make_cache(name=f"c{next(made)}.sqlite3", **kw))


async def test_async_paths(make_cache: MakeCache) -> None:
    await lifetime_checks.async_paths(make_cache)


def test_hit_counts_and_refresh_survive_reopening(
    tmp_path: Path, embeddings: CountingEmbeddings
) -> None:
    llm, prompt = llm_string(), chat_prompt("What is the capital of France?")
    cache = SemanticCache(
        backend=LocalBackend(path=tmp_path / "c.sqlite3"),
        embeddings=embeddings,
        refresh_on_hit=True,
    )
    cache.update(prompt, llm, [Generation(text="Paris")], ttl=100, tags=["geo"])
    written = cache.entries()[0].expires_at
    assert cache.lookup(prompt, llm) is not None
    cache.close()  # pending hit counts are written on close
    again = SemanticCache(backend=LocalBackend(path=tmp_path / "c.sqlite3"), embeddings=embeddings)
    try:
        (entry,) = again.entries()
        assert entry.hits == 1 and entry.tags == ("geo",)
        assert written is not None and entry.expires_at is not None
        assert entry.expires_at >= written
    finally:
        again.close()


def test_a_version_1_file_is_migrated_and_keeps_its_entries(
    tmp_path: Path, embeddings: CountingEmbeddings
) -> None:
    """A cache file written before lifetimes and tags opens, serves, and takes tags."""
    path, llm = tmp_path / "old.sqlite3", llm_string()
    prompt = chat_prompt("What is the capital of France?")
    key = build_key(prompt, llm, CallerScope())
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE entries (id TEXT PRIMARY KEY, scope TEXT NOT NULL, model TEXT NOT NULL,"
        " model_name TEXT NOT NULL, tenant TEXT NOT NULL, user_key TEXT NOT NULL,"
        " text TEXT NOT NULL, payload TEXT NOT NULL, created_at REAL NOT NULL,"
        " expires_at REAL, last_used REAL NOT NULL, vector BLOB)"
    )
    db.execute("CREATE INDEX entries_lru ON entries(last_used)")
    from langchain_tokenopt.cache.serialization import dumps_generations

    db.execute(
        "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            key.entry_id,
            key.scope,
            key.model.model,
            digest("model_name", key.model.model_name),
            key.tenant,
            key.user,
            key.query_text,
            dumps_generations([Generation(text="Paris")]),
            1.0,
            None,
            1.0,
            embeddings.encode([key.query_text])[0].astype("float32").tobytes(),
        ),
    )
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    cache = SemanticCache(backend=LocalBackend(path=path), embeddings=embeddings)
    try:
        assert cache.lookup(prompt, llm) == [Generation(text="Paris")]
        result, _ = cache.lookup_detailed(chat_prompt("What is France's capital?"), llm)
        assert result.outcome == "semantic_hit"
        cache.update(chat_prompt("Where is my order?"), llm, [Generation(text="x")], tags=["o"])
        listed = {e.text: e for e in cache.entries()}
        assert listed["What is the capital of France?"].hits == 2
        assert listed["What is the capital of France?"].tags == ()
        cache.clear(tags=["o"])
        assert [e.text for e in cache.entries()] == ["What is the capital of France?"]
    finally:
        cache.close()
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == 2
