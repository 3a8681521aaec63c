"""Per-token self-information from the local SmolLM2, and the fine pruning stage.

:class:`TokenImportanceScorer` runs the small causal LM over text in fixed windows,
batched, and returns each token's surprisal ``-log p(token | previous tokens)`` in nats.
Low surprisal means the LM could guess the token, so removing it loses little
(the LLMLingua idea). Work stops at ``max_seconds``: unscored tokens get ``+inf`` (keep).

:meth:`TokenImportanceScorer.prune` is the optional fine stage of
:class:`~langchain_tokenopt.compression.QueryAwareCompressor`: it removes whole words of
low surprisal inside kept prose sentences until the budget is met. Protected spans
(numbers, ids, URLs, code, JSON) and words of the question are never touched.

Example:
    .. code-block:: python

        from langchain_tokenopt.compression import QueryAwareCompressor, TokenImportanceScorer

        scorer = TokenImportanceScorer(max_seconds=2.0)
        scorer.score("The capital of France is Paris.").surprisal
        compressor = QueryAwareCompressor(target_tokens=200, importance=scorer)
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from langchain_tokenopt._assets import check_dtype, check_num_threads, use_torch_threads
from langchain_tokenopt.compression.protected import protected_mask
from langchain_tokenopt.compression.segmentation import Segmentation, assemble
from langchain_tokenopt.errors import CompressionError, TokenOptConfigError

__all__ = ["TokenImportance", "TokenImportanceScorer"]

logger = logging.getLogger(__name__)

_WORD = re.compile(r"\S+")
_QWORD = re.compile(r"\w+")


@dataclass(frozen=True)
class TokenImportance:
    """Surprisal of every LM token of one text."""

    text: str
    """The scored text."""
    offsets: list[tuple[int, int]]
    """Character span of each token in :attr:`text`."""
    surprisal: list[float]
    """``-log p`` in nats per token (``inf`` where unscored: first token or time ran out)."""
    complete: bool
    """``False`` when the time bound stopped scoring early."""

    def word_scores(self) -> list[tuple[int, int, float]]:
        """Return ``(start, end, mean surprisal)`` for each whitespace-delimited word."""
        words = [(m.start(), m.end()) for m in _WORD.finditer(self.text)]
        out: list[tuple[int, int, float]] = []
        j = 0
        for start, end in words:
            while j < len(self.offsets) and self.offsets[j][1] <= start:
                j += 1
            k, values = j, []
            while k < len(self.offsets) and self.offsets[k][0] < end:
                values.append(self.surprisal[k])
                k += 1
            out.append((start, end, float(np.mean(values)) if values else math.inf))
        return out


class TokenImportanceScorer:
    """Score tokens by self-information under the local SmolLM2-135M (CPU).

    Args:
        dtype: ``"float32"`` (default) or ``"bfloat16"`` (about 2x faster, slightly noisier).
        window_tokens: Tokens per forward window (context the LM sees), 16 to 2048.
        batch_size: Windows per forward pass.
        max_seconds: Wall-time bound per call; the rest is left unscored (kept).
        num_threads: torch threads while scoring (``None`` leaves torch's setting).

    Example:
        .. code-block:: python

            scorer = TokenImportanceScorer()
            imp = scorer.score("Alice paid 42 dollars for the red bicycle.")
            [round(s, 1) for s in imp.surprisal]
    """

    def __init__(
        self,
        *,
        dtype: Literal["float32", "bfloat16"] = "float32",
        window_tokens: int = 512,
        batch_size: int = 4,
        max_seconds: float = 10.0,
        num_threads: int | None = 1,
    ) -> None:
        if not isinstance(window_tokens, int) or not 16 <= window_tokens <= 2048:
            msg = f"window_tokens must be an int in [16, 2048], got {window_tokens!r}"
            raise TokenOptConfigError(msg)
        if not isinstance(batch_size, int) or batch_size < 1:
            msg = f"batch_size must be a positive int, got {batch_size!r}"
            raise TokenOptConfigError(msg)
        if not max_seconds > 0:
            msg = f"max_seconds must be > 0, got {max_seconds!r}"
            raise TokenOptConfigError(msg)
        self.dtype = check_dtype(dtype)
        self.window_tokens = window_tokens
        self.batch_size = batch_size
        self.max_seconds = max_seconds
        self.num_threads = check_num_threads(num_threads)

    # ------------------------------------------------------------------ scoring
    def score(self, text: str) -> TokenImportance:
        """Score one text."""
        return self.score_batch([text])[0]

    def score_batch(self, texts: Sequence[str]) -> list[TokenImportance]:
        """Score several texts, windows of all texts batched together, within the time bound."""
        for text in texts:
            if not isinstance(text, str):
                msg = f"score_batch() takes strings, got {type(text).__name__}"
                raise CompressionError(msg)
        from langchain_tokenopt._assets import load_smollm2

        tokenizer, model = load_smollm2(dtype=self.dtype)
        import torch

        use_torch_threads(self.num_threads)
        deadline = time.perf_counter() + self.max_seconds
        encoded = [
            tokenizer(t, add_special_tokens=False, return_offsets_mapping=True) for t in texts
        ]
        ids = [list(e["input_ids"]) for e in encoded]
        surprisal = [np.full(len(i), np.inf) for i in ids]
        windows = [
            (t, s) for t, row in enumerate(ids) for s in range(0, len(row), self.window_tokens)
        ]
        complete = [True] * len(texts)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        for b in range(0, len(windows), self.batch_size):
            batch = windows[b : b + self.batch_size]
            if time.perf_counter() > deadline:
                for t, _ in windows[b:]:
                    complete[t] = False
                break
            chunks = [ids[t][s : s + self.window_tokens] for t, s in batch]
            width = max(len(c) for c in chunks)
            input_ids = torch.full((len(chunks), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunks), width), dtype=torch.long)
            for r, chunk in enumerate(chunks):
                input_ids[r, : len(chunk)] = torch.tensor(chunk)
                mask[r, : len(chunk)] = 1
            with torch.inference_mode():
                logits = model(input_ids=input_ids, attention_mask=mask).logits.float()
            logp = torch.log_softmax(logits[:, :-1], dim=-1)
            nll = -logp.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1).numpy()
            for r, (t, s) in enumerate(batch):
                n = len(chunks[r])
                surprisal[t][s + 1 : s + n] = nll[r, : n - 1]
        return [
            TokenImportance(
                text=text,
                offsets=[tuple(o) for o in e["offset_mapping"]],
                surprisal=[float(x) for x in surprisal[i]],
                complete=complete[i],
            )
            for i, (text, e) in enumerate(zip(texts, encoded, strict=True))
        ]

    # ------------------------------------------------------------------ fine stage
    def prune(
        self,
        seg: Segmentation,
        kept: Sequence[int],
        scores: np.ndarray,
        *,
        budget: int,
        counter: Any,
        question: str = "",
    ) -> list[str]:
        """Remove low-surprisal words from kept prose until the assembled text fits ``budget``.

        Returns:
            One compressed text per source (as :func:`.segmentation.assemble`).

        Raises:
            CompressionError: the budget cannot be met by pruning words alone.
        """
        kept = sorted(kept)
        texts = assemble(seg, kept)
        if counter.count("\n\n".join(t for t in texts if t)) <= budget:
            return texts
        prose = [i for i in kept if seg.items[i].kind in ("sentence", "fragment")]
        if not prose:
            msg = "nothing prunable (no prose sentences kept)"
            raise CompressionError(msg)
        qwords = {w.lower() for w in _QWORD.findall(question)}
        relevance = np.asarray([float(scores[i]) for i in prose])
        span = float(relevance.max() - relevance.min()) or 1.0
        candidates: list[tuple[float, int, int, int]] = []
        for rank, (i, imp) in enumerate(
            zip(prose, self.score_batch([seg.items[i].text for i in prose]), strict=True)
        ):
            mask = protected_mask(imp.text)
            rel = (relevance[rank] - relevance.min()) / span
            for start, end, value in imp.word_scores()[1:]:
                if not math.isfinite(value) or any(mask[start:end]):
                    continue
                if _QWORD.sub("", imp.text[start:end]) == imp.text[start:end]:
                    continue  # punctuation only
                if {w.lower() for w in _QWORD.findall(imp.text[start:end])} & qwords:
                    continue
                candidates.append((value + 3.0 * rel, i, start, end))
        candidates.sort()
        removed: dict[int, list[tuple[int, int]]] = {}
        step = max(1, len(candidates) // 20)
        for upto in range(step, len(candidates) + step, step):
            removed = {}
            for _, i, start, end in candidates[:upto]:
                removed.setdefault(i, []).append((start, end))
            pruned = _apply(seg, removed)
            texts = assemble(pruned, kept)
            if counter.count("\n\n".join(t for t in texts if t)) <= budget:
                return texts
        msg = "budget not reachable by pruning words"
        raise CompressionError(msg)


def _apply(seg: Segmentation, removed: dict[int, list[tuple[int, int]]]) -> Segmentation:
    items = list(seg.items)
    for i, spans in removed.items():
        text = items[i].text
        drop = bytearray(len(text))
        for start, end in spans:
            drop[start:end] = b"\x01" * (end - start)
        words = [m.group(0) for m in _WORD.finditer(text) if not any(drop[m.start() : m.end()])]
        items[i] = dataclasses.replace(items[i], text=" ".join(words))
    return Segmentation(sources=seg.sources, items=items, frames=seg.frames)
