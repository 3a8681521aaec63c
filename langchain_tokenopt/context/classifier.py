"""Importance score per message, with the reasons behind it.

:class:`MessageClassifier` combines, with weights from :class:`ClassifierWeights`:

* **relevance** to the current query: cosine of embeddings when an ``Embeddings`` is given
  (for example :class:`~langchain_tokenopt.embeddings.LocalEmbeddings`), word overlap otherwise;
* **recency**: position in the history;
* **role**: system > human > assistant > tool output;
* **facts**: the message carries ids, numbers, dates, e-mails (see :mod:`.facts`);
* **decisions / preferences**: "confirmed", "I prefer", "don't", ...;
* **tool errors**: a ``ToolMessage`` with ``status="error"`` or an error text.

Example:
    .. code-block:: python

        from langchain_tokenopt import MessageClassifier
        from langchain_tokenopt.embeddings import LocalEmbeddings

        scores = MessageClassifier(embeddings=LocalEmbeddings()).score(messages)
        scores[3].score, scores[3].reasons  # 0.71, ('relevant to the query (0.64)', ...)
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_tokenopt.context.facts import (
    DECISION_RE,
    PREFERENCE_RE,
    extract_facts,
    message_text,
)
from langchain_tokenopt.errors import TokenOptConfigError

__all__ = ["ClassifierWeights", "MessageClassifier", "MessageScore"]

_WORD_RE = re.compile(r"[a-z0-9_]{3,}")
_ERROR_RE = re.compile(r"^\s*(error|exception|traceback|failed)\b", re.IGNORECASE)
_ROLE_SCORE = MappingProxyType({"system": 1.0, "human": 0.7, "ai": 0.4, "tool": 0.3})
_EMBED_CHARS = 1000


@dataclass(frozen=True)
class ClassifierWeights:
    """Weights of the score components (non-negative; they are normalized to sum to 1)."""

    relevance: float = 0.35
    """Similarity to the current query."""
    recency: float = 0.2
    """Position in the history (newest = 1)."""
    role: float = 0.15
    """Role prior (system > human > assistant > tool)."""
    facts: float = 0.15
    """Carries ids / numbers / dates (saturates at 5 facts)."""
    intent: float = 0.1
    """States a decision or a user preference."""
    tool_error: float = 0.05
    """Is a tool error (worth keeping so the agent does not repeat it)."""

    def __post_init__(self) -> None:
        values = [
            self.relevance,
            self.recency,
            self.role,
            self.facts,
            self.intent,
            self.tool_error,
        ]
        if any(v < 0 for v in values) or sum(values) <= 0:
            msg = f"classifier weights must be >= 0 with a positive sum, got {values}"
            raise TokenOptConfigError(msg)


@dataclass(frozen=True)
class MessageScore:
    """The importance of one message."""

    index: int
    """Position of the message in the scored list."""
    score: float
    """Weighted importance in [0, 1]."""
    relevance: float
    """Similarity to the query in [0, 1] (0 without a query)."""
    facts: tuple[str, ...]
    """Fact-like strings (ids, numbers, dates) found in the message."""
    reasons: tuple[str, ...]
    """Human-readable reasons, strongest first."""


class MessageClassifier:
    """Score each message's importance for the current query, with reasons.

    Args:
        embeddings: Embedder for query relevance (cosine). ``None`` uses word overlap, which
            needs no model and costs microseconds.
        weights: Component weights.
        cache_size: Embeddings of at most this many message texts are memoized.

    Example:
        .. code-block:: python

            clf = MessageClassifier()
            [s.score for s in clf.score(messages, query="cancel reservation ZFA04Y")]
    """

    def __init__(
        self,
        *,
        embeddings: Embeddings | None = None,
        weights: ClassifierWeights | None = None,
        cache_size: int = 4096,
    ) -> None:
        if embeddings is not None and not isinstance(embeddings, Embeddings):
            msg = f"embeddings must be a langchain Embeddings, got {type(embeddings).__name__}"
            raise TokenOptConfigError(msg)
        if not isinstance(cache_size, int) or cache_size < 0:
            msg = f"cache_size must be an int >= 0, got {cache_size!r}"
            raise TokenOptConfigError(msg)
        self.embeddings = embeddings
        self.weights = weights or ClassifierWeights()
        self._cache_size = cache_size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    def score(
        self, messages: Sequence[BaseMessage], *, query: str | None = None
    ) -> list[MessageScore]:
        """Score every message.

        Args:
            messages: The history, oldest first.
            query: The current query; defaults to the newest human message's text.

        Returns:
            One :class:`MessageScore` per message, in input order.
        """
        items = list(messages)
        if not items:
            return []
        texts = [message_text(m) for m in items]
        if query is None:
            query = next(
                (
                    texts[i]
                    for i in range(len(items) - 1, -1, -1)
                    if isinstance(items[i], HumanMessage)
                ),
                "",
            )
        relevance = self._relevance(query, texts) if query else np.zeros(len(items))
        w = self.weights
        total_w = w.relevance + w.recency + w.role + w.facts + w.intent + w.tool_error
        n = len(items)
        out: list[MessageScore] = []
        for i, (msg, text) in enumerate(zip(items, texts, strict=True)):
            facts = tuple(extract_facts(text, limit=32))
            recency = (i + 1) / n
            role = _ROLE_SCORE.get(msg.type, 0.4)
            fact_score = min(1.0, len(facts) / 5)
            decision = bool(DECISION_RE.search(text)) and not isinstance(msg, ToolMessage)
            preference = isinstance(msg, HumanMessage) and bool(PREFERENCE_RE.search(text))
            intent = 1.0 if (decision or preference) else 0.0
            error = isinstance(msg, ToolMessage) and (
                msg.status == "error" or bool(_ERROR_RE.match(text))
            )
            rel = float(max(0.0, relevance[i]))
            value = (
                w.relevance * rel
                + w.recency * recency
                + w.role * role
                + w.facts * fact_score
                + w.intent * intent
                + w.tool_error * (1.0 if error else 0.0)
            ) / total_w
            if isinstance(msg, SystemMessage):
                value = 1.0
            reasons: list[tuple[float, str]] = [
                (w.relevance * rel, f"relevant to the query ({rel:.2f})"),
                (w.recency * recency, f"recency {recency:.2f}"),
                (w.role * role, f"role {msg.type}"),
            ]
            if facts:
                shown = ", ".join(facts[:5])
                reasons.append((w.facts * fact_score, f"carries ids/numbers: {shown}"))
            if decision:
                reasons.append((w.intent, "states a decision"))
            if preference:
                reasons.append((w.intent, "states a user preference"))
            if error:
                reasons.append((w.tool_error, "tool error"))
            reasons.sort(key=lambda r: -r[0])
            out.append(
                MessageScore(
                    index=i,
                    score=round(min(1.0, value), 6),
                    relevance=rel,
                    facts=facts,
                    reasons=tuple(r for _, r in reasons),
                )
            )
        return out

    # ------------------------------------------------------------------ relevance
    def _relevance(self, query: str, texts: list[str]) -> np.ndarray:
        if self.embeddings is None:
            return _overlap(query, texts)
        vectors = self._embed([query, *texts])
        q = vectors[0]
        return np.asarray(vectors[1:] @ q, dtype=np.float32)

    def _embed(self, texts: list[str]) -> np.ndarray:
        assert self.embeddings is not None
        keys = [
            hashlib.blake2b(t[:_EMBED_CHARS].encode(), digest_size=12).hexdigest() for t in texts
        ]
        todo = [i for i, k in enumerate(keys) if k not in self._vectors]
        if todo:
            fresh = self.embeddings.embed_documents([texts[i][:_EMBED_CHARS] or " " for i in todo])
            for i, vec in zip(todo, fresh, strict=True):
                arr = np.asarray(vec, dtype=np.float32)
                norm = float(np.linalg.norm(arr)) or 1.0
                self._vectors[keys[i]] = arr / norm
        matrix = np.stack([self._vectors[k] for k in keys])
        for k in keys:
            self._vectors.move_to_end(k)
        while len(self._vectors) > self._cache_size:
            self._vectors.popitem(last=False)
        return matrix


def _overlap(query: str, texts: list[str]) -> np.ndarray:
    q = set(_WORD_RE.findall(query.lower()))
    if not q:
        return np.zeros(len(texts), dtype=np.float32)
    out = np.zeros(len(texts), dtype=np.float32)
    for i, text in enumerate(texts):
        words = set(_WORD_RE.findall(text.lower()))
        if words:
            out[i] = len(q & words) / len(q)
    return out
