from __future__ import annotations

import subprocess
import sys

import numpy as np

from langchain_tokenopt.embeddings import LocalEmbeddings, OnnxEmbeddings, onnx_int8_model_dir

from .conftest import CountingEmbeddings


def test_importing_the_cache_stays_light() -> None:
    code = (
        "import sys, langchain_tokenopt.cache, langchain_tokenopt.cache.backends;"
        "heavy = [m for m in ('torch', 'transformers', 'redis', 'sentence_transformers', 'usearch',"
        " 'onnxruntime') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_int8_onnx_embedder_tracks_the_torch_model(shared_embeddings: CountingEmbeddings) -> None:
    texts = [
        "How do I reset my password?",
        "What is the capital of France?",
        "Best way to learn Python for data science",
        "Why is the sky blue?",
    ]
    fast = shared_embeddings.encode(texts)
    ref = LocalEmbeddings().encode(texts)
    assert fast.shape == ref.shape == (4, 384)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-4)
    assert (fast * ref).sum(axis=1).min() > 0.93  # same model, int8 noise only
    # pairwise similarities keep their order
    assert np.argsort(fast @ fast[1])[-2] == np.argsort(ref @ ref[1])[-2]


def test_onnx_model_is_built_once_and_batches_match_single_queries() -> None:
    folder = onnx_int8_model_dir()
    assert (folder / "model.int8.onnx").is_file()
    assert onnx_int8_model_dir() == folder
    emb = OnnxEmbeddings()
    alone = emb.encode(["short question"])[0]
    batched = emb.encode(["short question", "a much longer question " * 10])[0]
    assert float(alone @ batched) > 0.99999
    assert np.allclose(emb.embed_query("short question"), alone, atol=1e-6)
