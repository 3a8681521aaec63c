from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from langchain_core.outputs import Generation

from langchain_tokenopt.cache import LocalBackend, SemanticCache
from langchain_tokenopt.cache.backends.vector_index import ScopeIndex
from langchain_tokenopt.errors import CacheStorageError, TokenOptConfigError

from .conftest import CountingEmbeddings
from .helpers import chat_prompt, llm_string

GEN = [Generation(text="Paris.")]


def test_reopening_restores_every_committed_entry(
    tmp_path: Path, embeddings: CountingEmbeddings
) -> None:
    path, llm = tmp_path / "c.sqlite3", llm_string()
    cache = SemanticCache(backend=LocalBackend(path=path), embeddings=embeddings)
    for i in range(20):
        cache.update(
            chat_prompt(f"What is item number {i} in the catalogue?"),
            llm,
            [Generation(text=str(i))],
        )
    cache.update(chat_prompt("What is the capital of France?"), llm, GEN)
    cache.close()
    reopened = SemanticCache(backend=LocalBackend(path=path), embeddings=embeddings)
    try:
        assert reopened.backend.count() == 21
        assert reopened.lookup(chat_prompt("What's the capital of France?"), llm) == GEN
        assert reopened.lookup(chat_prompt("What is item number 7 in the catalogue?"), llm) == [
            Generation(text="7")
        ]
    finally:
        reopened.close()


def test_corrupt_file_is_a_clear_error_at_construction(tmp_path: Path) -> None:
    path = tmp_path / "bad.sqlite3"
    path.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(CacheStorageError, match="corrupt"):
        LocalBackend(path=path)
    # the lock is released after the failure: a good file at another path opens fine
    LocalBackend(path=tmp_path / "good.sqlite3").close()


def test_truncated_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    backend = LocalBackend(path=path)
    backend.close()
    data = path.read_bytes()
    path.write_bytes(data[:50])
    with pytest.raises(CacheStorageError):
        LocalBackend(path=path)


def test_file_owned_by_another_opener_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    first = LocalBackend(path=path)
    with pytest.raises(CacheStorageError, match="locked"):
        LocalBackend(path=path)
    first.close()
    LocalBackend(path=path).close()


def test_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CacheStorageError):
        LocalBackend(path=blocker / "sub" / "c.sqlite3")


@pytest.mark.parametrize(
    ("kw", "match"), [({"max_entries": 0}, "max_entries"), ({"exact_limit": 0}, "exact_limit")]
)
def test_bad_backend_config(tmp_path: Path, kw: dict[str, int], match: str) -> None:
    with pytest.raises(TokenOptConfigError, match=match):
        LocalBackend(path=tmp_path / "c.sqlite3", **kw)


def test_large_scopes_move_to_usearch_and_stay_correct(
    tmp_path: Path, embeddings: CountingEmbeddings
) -> None:
    path, llm = tmp_path / "c.sqlite3", llm_string()
    cache = SemanticCache(backend=LocalBackend(path=path, exact_limit=8), embeddings=embeddings)
    topics = [
        "France",
        "Germany",
        "Japan",
        "Brazil",
        "Canada",
        "Kenya",
        "India",
        "Peru",
        "Spain",
        "Egypt",
        "Chile",
        "Norway",
    ]
    for t in topics:
        cache.update(chat_prompt(f"What is the capital of {t}?"), llm, [Generation(text=t)])
    index = next(iter(cache.backend._indexes.values()))  # type: ignore[attr-defined]
    assert index._hnsw is not None
    for t in topics:
        assert cache.lookup(chat_prompt(f"What's the capital of {t}?"), llm) == [Generation(text=t)]
    assert cache.delete(cache.entry_id(chat_prompt("What is the capital of Japan?"), llm))
    assert cache.lookup(chat_prompt("What's the capital of Japan?"), llm) is None
    cache.close()
    reopened = SemanticCache(backend=LocalBackend(path=path, exact_limit=8), embeddings=embeddings)
    assert reopened.lookup(chat_prompt("What's the capital of Peru?"), llm) == [
        Generation(text="Peru")
    ]
    reopened.close()


def test_scope_index_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(300, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    exact, hnsw = ScopeIndex(dim=16, exact_limit=10_000), ScopeIndex(dim=16, exact_limit=50)
    for i, v in enumerate(vecs):
        exact.add(str(i), v)
        hnsw.add(str(i), v)
    for i in range(0, 300, 7):
        exact.remove(str(i))
        hnsw.remove(str(i))
    kept = [i for i in range(300) if i % 7]
    agree = 0
    for q in rng.normal(size=(50, 16)).astype(np.float32):
        q /= np.linalg.norm(q)
        truth = str(kept[int(np.argmax(vecs[kept] @ q))])
        got_exact, got_hnsw = exact.top1(q), hnsw.top1(q)
        assert got_exact is not None and got_exact[0] == truth
        agree += got_hnsw is not None and got_hnsw[0] == truth
    assert len(exact) == len(hnsw) == len(kept)
    assert agree >= 48


def test_write_failure_fails_open(make_cache: Callable[..., SemanticCache]) -> None:
    cache, llm = make_cache(), llm_string()
    cache.backend._db.close()  # type: ignore[attr-defined]  # simulate a vanished file handle
    cache.update(chat_prompt("What is the capital of France?"), llm, GEN)
    assert cache.lookup(chat_prompt("What is the capital of France?"), llm) is None
    assert cache.stats().errors == 2
    assert sqlite3.sqlite_version
