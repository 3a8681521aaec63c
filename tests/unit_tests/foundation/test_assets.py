"""Offline assets resolve, load and work with no network (sockets are disabled here)."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

from langchain_tokenopt import _assets


@pytest.fixture
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LANGCHAIN_TOKENOPT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    return tmp_path / "home"


def test_embedding_model_loads_and_embeds() -> None:
    from langchain_tokenopt.embeddings import LocalEmbeddings

    emb = LocalEmbeddings()
    vecs = np.array(
        emb.embed_documents(
            [
                "How do I reset my password?",
                "I forgot my password, how can I change it?",
                "What is the boiling point of water at sea level?",
            ]
        )
    )
    assert vecs.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > 0.6 > vecs[0] @ vecs[2]
    assert emb.embed_query("hello") == pytest.approx(emb.embed_documents(["hello"])[0], abs=1e-5)


def _fill(home: str) -> str:
    os.environ["LANGCHAIN_TOKENOPT_HOME"] = home
    os.environ.pop("TIKTOKEN_CACHE_DIR", None)
    from langchain_tokenopt._assets import ensure_tiktoken_cache

    return str(ensure_tiktoken_cache())


def test_tiktoken_stock_names_work_offline(fresh_home: Path) -> None:
    import tiktoken

    folder = _assets.ensure_tiktoken_cache()
    assert folder.is_relative_to(fresh_home)
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(folder)
    text = "Offline tokenizers: cl100k_base and o200k_base, 12345 ünïcödé."
    for name in ("cl100k_base", "o200k_base"):
        data = (folder / _assets._tiktoken_cache_key(name)).read_bytes()
        assert hashlib.sha256(data).hexdigest() == _assets._TIKTOKEN_SHA256[name]
        assert tiktoken.get_encoding(name).decode(tiktoken.get_encoding(name).encode(text)) == text
    assert tiktoken.encoding_for_model("gpt-4o").name == "o200k_base"
    assert tiktoken.encoding_for_model("gpt-3.5-turbo").name == "cl100k_base"
    assert _assets.get_encoding("o200k_base").name == "o200k_base"


def test_tiktoken_cache_is_idempotent_and_safe_across_processes(fresh_home: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        folders = pool.map(_fill, [str(fresh_home)] * 3)
    assert len(set(folders)) == 1
    files = sorted(p.name for p in Path(folders[0]).iterdir() if not p.name.startswith("."))
    assert files == sorted(_assets._tiktoken_cache_key(n) for n in ("cl100k_base", "o200k_base"))
    # A second call changes nothing.
    before = {p.name: p.stat().st_mtime_ns for p in Path(folders[0]).iterdir()}
    _fill(str(fresh_home))
    assert {p.name: p.stat().st_mtime_ns for p in Path(folders[0]).iterdir()} == before


def test_smollm2_loads_through_the_resolver_and_generates() -> None:
    tok, model = _assets.load_smollm2()
    assert _assets.smollm2_model_dir().joinpath("config.json").is_file()
    inputs = tok.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    answer = tok.decode(out[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer
    assert _assets.load_smollm2() is _assets.load_smollm2()


def test_redis_parts_resolve() -> None:
    from tests.redis_server import redis_module_paths, redis_server_binary

    binary = redis_server_binary()
    assert binary.name == "redis-server" and os.access(binary, os.X_OK)
    search, rejson = redis_module_paths()
    assert search.name == "redisearch.so" and rejson.name == "rejson.so"


def test_user_cache_dir_honours_env(fresh_home: Path) -> None:
    assert _assets.user_cache_dir() == fresh_home
    assert fresh_home.is_dir()
