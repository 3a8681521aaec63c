"""The default compressor: query-aware, coarse-to-fine, budgeted in real tokens, no LM needed.

Algorithm:

1. Split the context into items (:mod:`.segmentation`): documents → paragraphs → sentences;
   code fences and few-shot demonstrations whole; JSON by top-level entries. Prose items
   larger than the budget are cut into fragments at clauses, then spaces, never inside a
   protected span (:mod:`.splitting`), so one huge sentence never empties the result.
2. Score every item against the question (:mod:`.ranking`): BM25 and a static embedding
   table distilled from MiniLM (:mod:`.static_embeddings`) over every item, the int8
   MiniLM cosine over a bounded pool (one item of each of the documents those rank best,
   then the best items), clipped to their first 160 characters (every item, whole, with
   ``RankingConfig.thorough()``), plus the score of its document/paragraph (coarse), plus
   a bonus for exact literals of the question (ids, UUIDs, numbers, quoted strings). Item
   vectors are cached per exact text, so recurring documents are embedded once.
3. Keep the best items while they fit ``target_tokens`` (counted with the target model's
   tokenizer); re-choose few-shot demonstrations so as many whole ones as fit are kept;
   put everything back in its original order and verify the count: the budget is never
   exceeded.
4. Optionally (``importance=``), select a little more than the budget and prune
   low-information words inside kept prose sentences, never touching protected spans,
   with the LM scorer of :mod:`.importance`.

Example:
    .. code-block:: python

        from langchain_tokenopt.compression import QueryAwareCompressor

        compressor = QueryAwareCompressor(target_tokens=300, model="gpt-4o")
        result = compressor.invoke({"context": docs, "question": "Who wrote Hamlet?"})
        result.text, result.ratio, [d.metadata for d in result.documents]
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import time
from typing import Any

import numpy as np
from langchain_core.runnables import Runnable, RunnableConfig

from langchain_tokenopt.compression.embedding_cache import CachedEncoder
from langchain_tokenopt.compression.inputs import (
    CompressionJob,
    normalize_input,
    rebuild_documents,
    rebuild_messages,
)
from langchain_tokenopt.compression.ranking import RankingConfig, score_items
from langchain_tokenopt.compression.records import CompressionResult, DroppedItem
from langchain_tokenopt.compression.segmentation import Segmentation, assemble, segment
from langchain_tokenopt.compression.splitting import split_oversized
from langchain_tokenopt.errors import (
    CompressionError,
    MissingDependencyError,
    TokenOptConfigError,
)
from langchain_tokenopt.tokens import TokenCounter, get_token_counter

__all__ = ["PIECE_SEPARATOR", "QueryAwareCompressor"]

logger = logging.getLogger(__name__)

#: How compressed pieces (documents, list entries) are joined in ``CompressionResult.text``.
PIECE_SEPARATOR = "\n\n"
#: Prose items above this many tokens (or above the budget) are cut into fragments.
SPLIT_TRIGGER_TOKENS = 256
#: Above this many demonstrations the swap step of the fill is skipped (bounded time).
_MAX_SWAP_BLOCKS = 200
#: Largest fragment of a cut item, in tokens (or the budget, if smaller).
FRAGMENT_TOKENS = 128


class QueryAwareCompressor(Runnable[Any, CompressionResult]):
    """Keep the items most relevant to the question within a token budget.

    Args:
        target_tokens: Budget for the compressed context in tokens of ``model``'s tokenizer
            (the question and instruction are not counted). Input already within it is
            returned unchanged.
        model: Target model name, used to pick the tokenizer (see ``TokenCounter``).
        token_counter: A counter to use instead (e.g. ``TokenCounter(encoding=...)``).
        embeddings: Embedder with ``encode(list[str])`` or a LangChain ``Embeddings``;
            default: the packaged MiniLM as int8 ONNX (``OnnxEmbeddings``; the torch
            ``LocalEmbeddings`` when onnxruntime is missing).
        embedding_cache_size: Item vectors kept per compressor (LRU by exact text), so
            recurring documents and demonstrations are embedded once; 0 disables it.
        use_embeddings: ``False`` ranks with BM25 and literals only (fastest).
        static_embeddings: Cheap embedder with ``encode(list[str])`` (unit vectors) that
            scores every item to pick the MiniLM pool; default: the static table distilled
            from the packaged MiniLM (:mod:`.static_embeddings`, distilled once).
            ``False`` (or an unavailable table) picks the pool with BM25 alone.
        ranking: Weights of the relevance signals.
        importance: A ``TokenImportanceScorer`` to enable the fine stage (token pruning).
        fine_overshoot: With ``importance``, select this much more than the budget at the
            coarse stage (0.25 = 25 %) and prune words back down to it.
        max_input_chars: Larger inputs are cut to their first ``max_input_chars`` characters
            before ranking (bounds the time on pathological inputs; 0 disables the cut).

    Example:
        .. code-block:: python

            compressor = QueryAwareCompressor(target_tokens=500)
            result = compressor.invoke({"context": [doc1, doc2, doc3], "question": q})
            assert result.tokens_after <= 500
            chain = compressor | (lambda r: r.text)
    """

    def __init__(
        self,
        *,
        target_tokens: int,
        model: str | None = None,
        token_counter: TokenCounter | None = None,
        embeddings: Any = None,
        use_embeddings: bool = True,
        embedding_cache_size: int = 10_000,
        static_embeddings: Any = None,
        ranking: RankingConfig | None = None,
        importance: Any = None,
        fine_overshoot: float = 0.25,
        max_input_chars: int = 20_000_000,
    ) -> None:
        if (
            not isinstance(target_tokens, int)
            or isinstance(target_tokens, bool)
            or target_tokens < 1
        ):
            msg = (
                f"target_tokens must be a positive int (tokens, not a rate), got {target_tokens!r}"
            )
            raise TokenOptConfigError(msg)
        if not 0 <= fine_overshoot <= 2:
            msg = f"fine_overshoot must be within [0, 2], got {fine_overshoot!r}"
            raise TokenOptConfigError(msg)
        if not isinstance(max_input_chars, int) or max_input_chars < 0:
            msg = f"max_input_chars must be a non-negative int, got {max_input_chars!r}"
            raise TokenOptConfigError(msg)
        if (
            not isinstance(embedding_cache_size, int)
            or isinstance(embedding_cache_size, bool)
            or embedding_cache_size < 0
        ):
            msg = f"embedding_cache_size must be a non-negative int, got {embedding_cache_size!r}"
            raise TokenOptConfigError(msg)
        if importlib.util.find_spec("bm25s") is None:
            raise MissingDependencyError("bm25s (BM25 ranking)", extra="search")
        if importance is not None and not hasattr(importance, "prune"):
            msg = "importance must be a TokenImportanceScorer (an object with .prune())"
            raise TokenOptConfigError(msg)
        self.target_tokens = target_tokens
        self.model = model
        self.counter = token_counter or get_token_counter(model)
        self.embeddings = embeddings
        self.use_embeddings = use_embeddings
        self.embedding_cache_size = embedding_cache_size
        self._encoder: CachedEncoder | None = None
        self._static_encoder: CachedEncoder | None = None
        self.static_embeddings = static_embeddings
        self.ranking = ranking or RankingConfig()
        self.importance = importance
        self.fine_overshoot = fine_overshoot
        self.max_input_chars = max_input_chars

    # ------------------------------------------------------------------ Runnable
    def invoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> CompressionResult:
        """Compress one input (see :mod:`.inputs` for the accepted shapes).

        Raises:
            CompressionError: the input is of an unsupported type. Failures during
                compression do not raise: the input is returned unchanged with a warning.
        """
        return self._call_with_config(self._compress_input, input, config, run_type="parser")

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> CompressionResult:
        """Async :meth:`invoke`; the CPU work runs in a worker thread."""
        return await asyncio.to_thread(self.invoke, input, config)

    def compress(self, context: Any, question: str = "") -> CompressionResult:
        """Shortcut for ``invoke({"context": context, "question": question})``."""
        return self.invoke({"context": context, "question": question})

    # ------------------------------------------------------------------ core
    def _compress_input(self, value: Any) -> CompressionResult:
        started = time.perf_counter()
        job = normalize_input(value)
        budget = self.target_tokens if job.target_tokens is None else job.target_tokens
        original = PIECE_SEPARATOR.join(p for p in job.pieces if p)
        before = self.counter.count(original)
        if before <= budget:
            return self._result(job, job.pieces, before, before, [], "unchanged", started)
        try:
            return self._compress_job(job, budget, before, started)
        except CompressionError:
            raise
        except Exception as exc:  # fail open: never break the caller's chain
            logger.warning("query-aware compression failed, passing input through: %r", exc)
            return self._result(
                job, job.pieces, before, before, [], "passthrough", started, [repr(exc)]
            )

    def _compress_job(
        self, job: CompressionJob, budget: int, before: int, started: float
    ) -> CompressionResult:
        warnings: list[str] = []
        pieces = job.pieces
        if self.max_input_chars and sum(len(p) for p in pieces) > self.max_input_chars:
            pieces, remaining = [], self.max_input_chars
            for piece in job.pieces:
                pieces.append(piece[: max(remaining, 0)])
                remaining -= len(piece)
            warnings.append(f"input cut to its first {self.max_input_chars} characters")
        seg = segment(pieces)
        counts = self.counter.count_batch([item.text for item in seg.items])
        # Prose items larger than the budget (or than the embedder reads) are cut into
        # fragments, so one huge sentence never leaves the result empty.
        seg, counts = split_oversized(
            seg,
            counts,
            trigger=min(budget, SPLIT_TRIGGER_TOKENS),
            limit=min(budget, FRAGMENT_TOKENS, max(16, budget // 4)),
            counter=self.counter,
        )
        items = seg.items
        texts = [item.text for item in items]
        multi = sum(1 for p in pieces if p) > 1
        groups = [item.source if multi else item.block for item in items]
        embeddings = self._embeddings()
        static = self._static() if embeddings is not None else None
        ranking = self.ranking
        if static is None and ranking.uses_static and ranking.dense_share is not None:
            ranking = ranking.without_static()
        scores = score_items(
            texts,
            job.question,
            groups=groups,
            token_counts=counts,
            config=ranking,
            embeddings=embeddings,
            budget=budget,
            static=static,
        )
        coarse_budget = budget
        if self.importance is not None:
            coarse_budget = int(budget * (1 + self.fine_overshoot))
        kept = _select(seg, scores, counts, coarse_budget, self.counter)
        kept_texts = assemble(seg, kept)
        method: Any = "query_aware"
        if self.importance is not None:
            pruned = self._fine_stage(seg, kept, scores, budget, job.question, warnings)
            if pruned is not None:
                kept_texts, method = pruned, "query_aware+importance"
            else:
                kept = _shrink(seg, kept, scores, budget, self.counter)
                kept_texts = assemble(seg, kept)
        text = PIECE_SEPARATOR.join(t for t in kept_texts if t)
        after = self.counter.count(text)
        if after > budget:  # cannot happen after _shrink; kept as a hard guard
            msg = f"internal error: {after} tokens over a budget of {budget}"
            raise RuntimeError(msg)
        if not text and items:
            smallest = min(counts)
            warnings.append(
                f"nothing fits: the smallest unit that may not be cut (code, JSON, a "
                f"demonstration or a protected span) has {smallest} tokens, over the "
                f"budget of {budget}"
            )
        kept_set = set(kept)
        # Fields are built here from typed values: skip per-item validation (huge inputs
        # drop hundreds of thousands of items).
        dropped = [
            DroppedItem.model_construct(
                source=item.source,
                index=item.index,
                kind=item.kind,
                text=item.text,
                tokens=counts[item.index],
                score=float(scores[item.index]),
            )
            for item in items
            if item.index not in kept_set
        ]
        return self._result(job, kept_texts, before, after, dropped, method, started, warnings)

    def _fine_stage(
        self,
        seg: Segmentation,
        kept: list[int],
        scores: np.ndarray,
        budget: int,
        question: str,
        warnings: list[str],
    ) -> list[str] | None:
        try:
            return list(
                self.importance.prune(
                    seg, kept, scores, budget=budget, counter=self.counter, question=question
                )
            )
        except Exception as exc:  # fail open to the coarse result
            logger.warning("fine stage failed, keeping the coarse selection: %r", exc)
            warnings.append(f"fine stage skipped: {exc!r}")
            return None

    def _embeddings(self) -> Any:
        if not self.use_embeddings or self.ranking.dense_weight <= 0:
            return None
        if self._encoder is None:
            if self.embeddings is None:
                from langchain_tokenopt.embeddings import get_default_query_embeddings

                self.embeddings = get_default_query_embeddings()
            self._encoder = CachedEncoder(self.embeddings, max_entries=self.embedding_cache_size)
        return self._encoder

    def _static(self) -> Any:
        if self.static_embeddings is False or not self.ranking.uses_static:
            return None
        static = self.static_embeddings
        if static is None:
            from langchain_tokenopt.compression.static_embeddings import (
                get_default_static_embeddings,
            )

            static = get_default_static_embeddings()
            if static is None:
                return None
        # The items (a system prompt's sentences) recur on every question: their static
        # vectors are kept per text like the MiniLM ones (a static vector does not depend on
        # the other texts of a batch, so a cached one equals a fresh one).
        if self._static_encoder is None or self._static_encoder.embeddings is not static:
            self._static_encoder = CachedEncoder(static, max_entries=self.embedding_cache_size)
        return self._static_encoder

    def _result(
        self,
        job: CompressionJob,
        texts: list[str],
        before: int,
        after: int,
        dropped: list[DroppedItem],
        method: Any,
        started: float,
        warnings: list[str] | None = None,
    ) -> CompressionResult:
        full = list(texts) + [""] * (len(job.pieces) - len(texts))
        text = PIECE_SEPARATOR.join(t for t in full if t)
        return CompressionResult(
            text=text,
            documents=rebuild_documents(job, full),
            messages=rebuild_messages(job, full),
            tokens_before=before,
            tokens_after=after,
            ratio=before / after if after else (1.0 if before == 0 else float(before)),
            dropped_items=dropped,
            method=method,
            question=job.question,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            warnings=warnings or [],
        )


#: Item kinds whose word-for-word repeats :func:`_select` skips.
_PROSE = frozenset({"sentence", "fragment"})


def _select(
    seg: Segmentation, scores: np.ndarray, counts: list[int], budget: int, counter: TokenCounter
) -> list[int]:
    """Greedy by score (ties: reading order), then verify the exact count and shrink.

    A sentence or fragment that repeats one already kept, word for word, is skipped: the
    copy would spend budget and add nothing (structured items and documents are kept as
    they are, since their position or metadata may matter).
    """
    order = sorted(range(len(seg.items)), key=lambda i: (-float(scores[i]), i))
    frame_cost = [
        counter.count(frame.opening) + counter.count(frame.closing) for frame in seg.frames
    ]
    open_frames: set[int] = set()
    used = 0
    kept: list[int] = []
    said: set[str] = set()
    for i in order:
        item = seg.items[i]
        if item.kind in _PROSE:
            words = " ".join(item.text.split())
            if words in said:
                continue
            said.add(words)
        cost = counts[i] + 1
        if item.frame is not None and item.frame not in open_frames:
            cost += frame_cost[item.frame]
        if used + cost > budget:
            continue
        used += cost
        kept.append(i)
        if item.frame is not None:
            open_frames.add(item.frame)
    kept = _fill_blocks(seg, kept, scores, counts, budget - used)
    kept.sort()
    return _shrink(seg, kept, scores, budget, counter)


def _fill_blocks(
    seg: Segmentation, kept: list[int], scores: np.ndarray, counts: list[int], spare: int
) -> list[int]:
    """Keep as many whole demonstrations as fit, the most relevant among equally many.

    Greedy by score can spend the budget on one long demonstration where two shorter ones
    fit. The demonstrations are re-chosen within the room they and the spare budget leave:
    first the largest number that fits (the shortest ones), then swaps towards higher scores
    while the set still fits. The greedy choice stays when it already keeps as many.
    """
    blocks = [item.index for item in seg.items if item.kind == "block"]
    if len(blocks) < 2:
        return kept
    chosen = [i for i in kept if seg.items[i].kind == "block"]
    room = spare + sum(counts[i] + 1 for i in chosen)
    cost = {i: counts[i] + 1 for i in blocks}
    best: list[int] = []
    used = 0
    for i in sorted(blocks, key=lambda i: (cost[i], -float(scores[i]), i)):
        if used + cost[i] > room:
            break
        best.append(i)
        used += cost[i]
    if len(best) <= len(chosen):
        return kept
    improved = len(blocks) <= _MAX_SWAP_BLOCKS
    while improved:
        improved = False
        outside = sorted((i for i in blocks if i not in best), key=lambda i: (-float(scores[i]), i))
        for new in outside:
            swap = min(
                (
                    old
                    for old in best
                    if scores[old] < scores[new] and used - cost[old] + cost[new] <= room
                ),
                key=lambda old: (float(scores[old]), -old),
                default=None,
            )
            if swap is not None:
                best[best.index(swap)] = new
                used += cost[new] - cost[swap]
                improved = True
                break
    return [i for i in kept if seg.items[i].kind != "block"] + best


def _shrink(
    seg: Segmentation, kept: list[int], scores: np.ndarray, budget: int, counter: TokenCounter
) -> list[int]:
    """Drop the lowest-scoring kept items until the assembled text fits the budget."""
    kept = sorted(kept)
    while kept:
        text = PIECE_SEPARATOR.join(t for t in assemble(seg, kept) if t)
        if counter.count(text) <= budget:
            break
        worst = min(kept, key=lambda i: (float(scores[i]), -i))
        kept.remove(worst)
    return kept
