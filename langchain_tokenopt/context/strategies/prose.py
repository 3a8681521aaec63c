"""Strategy (d): compress long prose of old messages (never JSON, code or ids).

Uses :class:`langchain_tokenopt.compression.QueryAwareCompressor` (imported when the step
first runs) on old human / assistant text of at least ``min_tokens`` tokens, oldest first.
Structured text (JSON, code fences) is never touched, tool calls are kept as they are, and a
compression that loses an id, date or amount of the original is discarded.

Example:
    .. code-block:: python

        ContextOptimizer(max_tokens=2000, strategies=[MaskToolOutputs(), CompressProse()])
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from langchain_tokenopt.context.facts import extract_facts, fact_rank, is_structured
from langchain_tokenopt.context.strategies.base import Plan
from langchain_tokenopt.errors import TokenOptConfigError

__all__ = ["CompressProse"]

logger = logging.getLogger(__name__)


@dataclass
class CompressProse:
    """Compress long old prose messages with a query-aware compressor.

    Args:
        ratio: Target size as a fraction of the original (0 < ratio < 1).
        min_tokens: Only messages with at least this many text tokens are compressed.
        keep_last: The newest ``keep_last`` units are left alone.
        compressor: A runnable taking ``{"context": text, "question": q}`` and returning an
            object with ``.text``; default: a ``QueryAwareCompressor`` per message, with the
            message's target as ``target_tokens``.
        use_embeddings: For the default compressor: rank with the packaged MiniLM (slower)
            instead of BM25 and literals.
    """

    ratio: float = 0.5
    """Target fraction of the original tokens."""
    min_tokens: int = 200
    """Messages shorter than this are not compressed."""
    keep_last: int = 2
    """Newest units never compressed."""
    compressor: Any = field(default=None, repr=False)
    """The compressor (a QueryAwareCompressor per message when None)."""
    use_embeddings: bool = False
    """Default compressor ranks with embeddings."""

    def __post_init__(self) -> None:
        if not 0.0 < self.ratio < 1.0:
            msg = f"CompressProse.ratio must be in (0, 1), got {self.ratio!r}"
            raise TokenOptConfigError(msg)
        for name in ("min_tokens", "keep_last"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                msg = f"CompressProse.{name} must be an int >= 0, got {value!r}"
                raise TokenOptConfigError(msg)

    def apply(self, plan: Plan) -> None:
        """Compress old prose oldest first until the plan fits."""
        if plan.fits:
            return
        kept = [s for s in plan.slots if s.kept]
        candidates = kept[: max(0, len(kept) - self.keep_last)]
        done = 0
        for slot in candidates:
            if slot.protected or len(slot.messages) != 1:
                continue
            msg = slot.messages[0]
            if not isinstance(msg, HumanMessage | AIMessage) or not isinstance(msg.content, str):
                continue
            if isinstance(msg, AIMessage) and (msg.tool_calls or msg.invalid_tool_calls):
                continue
            text = msg.content
            tokens = plan.counter.count(text)
            if tokens < self.min_tokens or is_structured(text):
                continue
            short = self._compress(text, plan, int(tokens * self.ratio))
            if short is None or plan.counter.count(short) >= tokens:
                continue
            lost = [f for f in extract_facts(text) if fact_rank(f) >= 2 and f not in short]
            if lost:
                logger.debug("compression dropped facts %s; message kept as is", lost[:5])
                continue
            plan.replace(slot, [msg.model_copy(update={"content": short})])
            done += 1
            if plan.fits:
                break
        if done:
            plan.notes.append(f"compressed the prose of {done} old message(s)")

    def _compress(self, text: str, plan: Plan, target: int) -> str | None:
        try:
            compressor = self.compressor
            if compressor is None:
                from langchain_tokenopt.compression import QueryAwareCompressor

                compressor = QueryAwareCompressor(
                    target_tokens=max(1, target),
                    token_counter=plan.counter,
                    use_embeddings=self.use_embeddings,
                )
            result = compressor.invoke({"context": text, "question": plan.query})
        except Exception:
            logger.warning("prose compression failed; message kept as is", exc_info=True)
            return None
        out = getattr(result, "text", result)
        return out if isinstance(out, str) and out.strip() else None
