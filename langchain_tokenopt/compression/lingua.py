"""LLMLingua on the local SmolLM2, as a Runnable with our result type (opt-in quality mode).

``llmlingua.PromptCompressor`` is built on the SmolLM2-135M folder from
:func:`langchain_tokenopt._assets.smollm2_model_dir`, on CPU, after
:func:`~langchain_tokenopt._assets.ensure_tiktoken_cache` (its constructor asks tiktoken for
``gpt-3.5-turbo``). llmlingua 0.2.2 iterates ``past_key_values`` as legacy tuples, which
transformers 5 replaced by ``DynamicCache``: :class:`_LegacyCacheModel` wraps the model and
converts both ways, so llmlingua's own code is untouched.

With a question, LongLLMLingua's settings are used (question-conditioned coarse ranking,
``after_condition``, dynamic ratios, contrastive perplexity). It is slow on CPU (seconds
per thousand tokens), can corrupt ids and JSON and misses requested budgets: the
:class:`~langchain_tokenopt.compression.QueryAwareCompressor` is the default.

Example:
    .. code-block:: python

        from langchain_tokenopt.compression import LLMLinguaCompressor

        lingua = LLMLinguaCompressor(target_tokens=300)
        result = lingua.invoke({"context": docs, "question": "Who wrote Hamlet?"})
        result.text, result.tokens_after
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import warnings
from collections.abc import Mapping
from typing import Any, Literal

from langchain_core.documents import Document
from langchain_core.runnables import Runnable, RunnableConfig

from langchain_tokenopt._assets import check_dtype, check_num_threads, use_torch_threads
from langchain_tokenopt.compression.inputs import CompressionJob, normalize_input
from langchain_tokenopt.compression.records import CompressionResult
from langchain_tokenopt.errors import MissingDependencyError, TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter, get_token_counter

__all__ = ["LONGLLMLINGUA_SETTINGS", "LLMLinguaCompressor"]

logger = logging.getLogger(__name__)

#: LongLLMLingua's recommended settings (from its README), used when a question is given.
LONGLLMLINGUA_SETTINGS: Mapping[str, Any] = {
    "rank_method": "longllmlingua",
    "condition_in_question": "after_condition",
    "reorder_context": "sort",
    "dynamic_context_compression_ratio": 0.3,
    "condition_compare": True,
    "context_budget": "+100",
}

_compressors: dict[str, Any] = {}
_lock = threading.Lock()


class _LegacyCacheModel:
    """Make a transformers-5 causal LM speak llmlingua 0.2.2's legacy KV-cache tuples."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def __call__(self, *args: Any, past_key_values: Any = None, **kwargs: Any) -> Any:
        from transformers import DynamicCache

        if past_key_values is not None and not isinstance(past_key_values, DynamicCache):
            past_key_values = DynamicCache(
                ddp_cache_data=[(k, v) for k, v in past_key_values], config=self._model.config
            )
        output = self._model(*args, past_key_values=past_key_values, **kwargs)
        cache = getattr(output, "past_key_values", None)
        if cache is not None and hasattr(cache, "layers"):
            output.past_key_values = [(layer.keys, layer.values) for layer in cache.layers]
        return output


def _load(dtype: str) -> Any:
    with _lock:
        if dtype in _compressors:
            return _compressors[dtype]
        import importlib.util

        if importlib.util.find_spec("llmlingua") is None:
            raise MissingDependencyError("llmlingua", extra="lingua")
        from langchain_tokenopt._assets import ensure_tiktoken_cache, smollm2_model_dir

        ensure_tiktoken_cache()
        folder = smollm2_model_dir()
        import torch
        from llmlingua import PromptCompressor

        compressor = PromptCompressor(
            model_name=str(folder),
            device_map="cpu",
            model_config={"torch_dtype": getattr(torch, dtype), "trust_remote_code": False},
        )
        compressor.model = _LegacyCacheModel(compressor.model)
        _compressors[dtype] = compressor
        return compressor


class LLMLinguaCompressor(Runnable[Any, CompressionResult]):
    """LLMLingua / LongLLMLingua with the local SmolLM2-135M, offline, on CPU.

    Accepts the same inputs as ``QueryAwareCompressor``. The budget is in tokens of
    ``model``'s tokenizer; it is converted to llmlingua's own (gpt-3.5) token count, and
    the achieved count is reported as is (llmlingua does not guarantee the budget).
    ``documents`` holds one ``Document`` with the compressed text (llmlingua reorders and
    merges documents, so per-document mapping is not available).

    Args:
        target_tokens: Budget in tokens of the target model.
        model: Target model name for counting (see ``TokenCounter``).
        token_counter: A counter to use instead.
        dtype: SmolLM2 weights' dtype: ``"float32"`` or ``"bfloat16"`` (faster).
        num_threads: torch threads (``None`` leaves torch's setting).
        compress_kwargs: Extra keyword arguments for ``PromptCompressor.compress_prompt``
            (override the defaults and the LongLLMLingua settings).

    Example:
        .. code-block:: python

            lingua = LLMLinguaCompressor(target_tokens=200, dtype="bfloat16")
            lingua.invoke("A long prompt ...").text
    """

    def __init__(
        self,
        *,
        target_tokens: int,
        model: str | None = None,
        token_counter: TokenCounter | None = None,
        dtype: Literal["float32", "bfloat16"] = "float32",
        num_threads: int | None = 1,
        compress_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if (
            not isinstance(target_tokens, int)
            or isinstance(target_tokens, bool)
            or target_tokens < 1
        ):
            msg = f"target_tokens must be a positive int, got {target_tokens!r}"
            raise TokenOptConfigError(msg)
        self.target_tokens = target_tokens
        self.model = model
        self.counter = token_counter or get_token_counter(model)
        self.dtype = check_dtype(dtype)
        self.num_threads = check_num_threads(num_threads)
        self.compress_kwargs = dict(compress_kwargs or {})

    def with_budget(self, target_tokens: int) -> LLMLinguaCompressor:
        """Return a copy with another budget (the loaded LM is shared)."""
        return LLMLinguaCompressor(
            target_tokens=target_tokens,
            model=self.model,
            token_counter=self.counter,
            dtype=self.dtype,
            num_threads=self.num_threads,
            compress_kwargs=self.compress_kwargs,
        )

    def invoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> CompressionResult:
        """Compress one input; failures pass the input through with a warning."""
        return self._call_with_config(self._compress_input, input, config, run_type="parser")

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> CompressionResult:
        """Async :meth:`invoke` (runs in a worker thread)."""
        return await asyncio.to_thread(self.invoke, input, config)

    def _compress_input(self, value: Any) -> CompressionResult:
        started = time.perf_counter()
        job = normalize_input(value)
        budget = self.target_tokens if job.target_tokens is None else job.target_tokens
        original = "\n\n".join(p for p in job.pieces if p)
        before = self.counter.count(original)
        if before <= budget:
            return _result(job, original, before, before, "unchanged", started, [])
        try:
            text, method = self._run_llmlingua(job, budget, original, before)
        except MissingDependencyError:
            raise
        except Exception as exc:  # fail open
            logger.warning("LLMLingua failed, passing input through: %r", exc)
            return _result(job, original, before, before, "passthrough", started, [repr(exc)])
        after = self.counter.count(text)
        notes = [] if after <= budget else [f"llmlingua returned {after} tokens > {budget}"]
        return _result(job, text, before, after, method, started, notes)

    def _run_llmlingua(
        self, job: CompressionJob, budget: int, original: str, before: int
    ) -> tuple[str, Any]:
        compressor = _load(self.dtype)
        use_torch_threads(self.num_threads)
        pieces = [p for p in job.pieces if p]
        if len(pieces) == 1:
            pieces = [p for p in pieces[0].split("\n\n") if p.strip()]
        # Convert our budget to llmlingua's own count (gpt-3.5 tokenizer).
        theirs = len(compressor.oai_tokenizer.encode(original))
        target = max(1, int(budget * theirs / max(before, 1)))
        kwargs: dict[str, Any] = {"target_token": target, "concate_question": False}
        method = "llmlingua"
        if job.question:
            kwargs.update(LONGLLMLINGUA_SETTINGS)
            kwargs["question"] = job.question
            method = "longllmlingua"
        kwargs.update(self.compress_kwargs)
        with warnings.catch_warnings():
            # transformers announces the removal of the legacy cache format we bridge.
            warnings.simplefilter("ignore", FutureWarning)
            out = compressor.compress_prompt(pieces, instruction="", **kwargs)
        return str(out["compressed_prompt"]), method


def _result(
    job: CompressionJob,
    text: str,
    before: int,
    after: int,
    method: Any,
    started: float,
    warnings: list[str],
) -> CompressionResult:
    if method == "unchanged":
        documents = [
            d if d is not None else Document(page_content=p)
            for p, d in zip(job.pieces, job.documents, strict=True)
            if p
        ]
    else:
        documents = [Document(page_content=text)] if text else []
    return CompressionResult(
        text=text,
        documents=documents,
        messages=None if job.messages is None or method != "unchanged" else list(job.messages),
        tokens_before=before,
        tokens_after=after,
        ratio=before / after if after else 1.0,
        method=method,
        question=job.question,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        warnings=warnings,
    )
