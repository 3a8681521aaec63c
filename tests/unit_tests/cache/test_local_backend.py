from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
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


def test_lru_recency_of_hits_survives_reopening(
    tmp_path: Path, embeddings: CountingEmbeddings
) -> None:
    # hits are marked used in memory and written in batches; close() writes the rest
    path, llm = tmp_path / "c.sqlite3", llm_string()
    prompts = [chat_prompt(f"{w} question") for w in ("alpha", "beta", "gamma", "delta")]
    cache = SemanticCache(backend=LocalBackend(path=path, max_entries=3), embeddings=embeddings)
    for p in prompts[:3]:
        cache.update(p, llm, GEN)
        time.sleep(0.01)
    assert cache.lookup(prompts[0], llm) == GEN
    cache.close()
    reopened = SemanticCache(backend=LocalBackend(path=path, max_entries=3), embeddings=embeddings)
    try:
        reopened.update(prompts[3], llm, GEN)
        assert reopened.lookup(prompts[1], llm) is None  # beta, not the hit alpha, was LRU
        assert reopened.lookup(prompts[0], llm) == GEN
    finally:
        reopened.close()


def test_put_many_bulk_loads_and_searches_exactly(
    tmp_path: Path, embeddings: CountingEmbeddings
) -> None:
    from langchain_tokenopt.cache.records import CacheEntry

    rng = np.random.default_rng(5)
    vecs = rng.normal(size=(400, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)

    def entry(i: int, payload: str = "[]", at: float = 1.0) -> CacheEntry:
        return CacheEntry(
            entry_id=f"{i:032x}",
            scope="ab" * 16,
            model="m",
            model_name="m",
            tenant="t",
            user="u",
            text=f"q{i}",
            payload=payload,
            created_at=at,
            expires_at=None,
            vector=vecs[i].tobytes(),
        )

    backend = LocalBackend(path=tmp_path / "c.sqlite3", max_entries=350, exact_limit=50)
    try:
        backend.put_many([entry(i) for i in range(300)])
        backend.put_many([entry(i, "[1]", 2.0) for i in range(250, 400)])  # 50 replaced
        assert backend.count() == 350  # 400 distinct ids, bound 350: 50 LRU evicted
        assert backend.get(f"{0:032x}", now=3.0) is None  # from the older batch
        index = backend._indexes["ab" * 16]  # type: ignore[attr-defined]
        assert index.approximate and len(index) == 350
        query = vecs[399] + rng.normal(scale=0.02, size=384).astype(np.float32)
        query /= np.linalg.norm(query)
        cand = backend.search("ab" * 16, query, now=3.0)
        assert cand is not None and cand.entry.text == "q399" and cand.entry.payload == "[1]"
        # the similarity compared with the threshold is the exact float32 cosine
        assert cand.similarity == pytest.approx(float(vecs[399] @ query), abs=1e-6)
    finally:
        backend.close()


def test_usearch_then_onnx_embedder_in_one_process(tmp_path: Path) -> None:
    # usearch loads numkong with RTLD_GLOBAL; onnxruntime imported after it segfaulted
    # (usearch 2.26 + onnxruntime 1.32). A big scope must not kill the process.
    code = textwrap.dedent(
        """
        import numpy as np
        from langchain_tokenopt.cache.backends.vector_index import ScopeIndex
        index = ScopeIndex(dim=4, exact_limit=1)
        index.add_many(["a", "b"], np.eye(4, dtype=np.float32)[:2])
        from langchain_tokenopt.embeddings import OnnxEmbeddings
        print(OnnxEmbeddings().encode(["hello"]).shape, index.top1(np.eye(4)[1])[0])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["(1,", "384)", "b"]


def test_every_filter_the_cache_builds_is_an_entry_filter_key(tmp_path: Path) -> None:
    from langchain_tokenopt.cache.backends import EntryFilter
    from langchain_tokenopt.cache.keys import clear_filters

    every = {
        "tenant_id": "acme",
        "user_id": "u1",
        "model": "gpt-4o-mini",
        "llm_string": llm_string(),
        "tags": ["pricing"],
    }
    where = clear_filters(every)
    assert set(where) == set(EntryFilter.__annotations__)
    backend = LocalBackend(path=tmp_path / "c.sqlite3")
    try:  # each key narrows: nothing stored matches, nothing is deleted
        assert backend.entries(now=time.time(), **where) == []
        assert backend.clear(**where) == 0
    finally:
        backend.close()
