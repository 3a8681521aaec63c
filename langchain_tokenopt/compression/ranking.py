"""Relevance of context items to a question: MiniLM similarity fused with BM25.

Scores are pure functions of the texts, so the same input always ranks the same way.
BM25 (Lucene, ``bm25s``'s stopwords) and a static embedding table distilled from MiniLM (model2vec,
:mod:`.static_embeddings`, microseconds per sentence) cover every item; the MiniLM embedder
covers the items these cheap signals and the literal matches rank highest, up to a token
pool (``None``: all items), each truncated to its first ``dense_max_chars`` characters,
which bounds the cost on huge inputs.
Items that contain an exact literal of the question (UUID, id, number, quoted string)
get a bonus so ``Key: "…uuid…"`` always finds its entry.

Example:
    .. code-block:: python

        from langchain_tokenopt.compression.ranking import RankingConfig, score_items

        scores = score_items(["Paris is in France.", "Bananas are yellow."], "capital of France",
                             groups=[0, 1], token_counts=[5, 4], config=RankingConfig())
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from langchain_tokenopt.compression.embedding_cache import encode_texts
from langchain_tokenopt.compression.lexical import bm25_scores, group_bm25
from langchain_tokenopt.compression.protected import literals
from langchain_tokenopt.errors import TokenOptConfigError

__all__ = ["RankingConfig", "score_items"]

#: Characters of the question the embedder sees.
_QUESTION_CHARS = 1000
_WORD = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class RankingConfig:
    """Weights of the relevance signals and the embedder's pool (calibrated on the NQ dev split).

    The default embeds only a bounded pool of items with MiniLM (12 % of the input's
    tokens): first one item of each document, best documents first by a cheap document
    score (``probe_share`` of the pool), then the items ranked best by the static-embedding
    cosine of the item and of its document plus BM25. This keeps the compressor under 30 ms
    per 1k input tokens on one core;
    :meth:`thorough` embeds every item for the best ranking at about 5x the time. Without
    a static embedder the pool is picked by BM25 of the item and of its document, with
    every document's best item first (:meth:`lexical_pool`).

    Example:
        .. code-block:: python

            fast = RankingConfig()  # bounded embedder pool (default)
            best = RankingConfig.thorough()  # every item embedded
            bm25_heavier = RankingConfig(bm25_weight=0.6)
    """

    dense_weight: float = 1.0
    """Weight of the MiniLM cosine similarity."""
    bm25_weight: float = 0.3
    """Weight of the BM25 score, scaled to [0, 1] by the best item."""
    literal_bonus: float = 2.0
    """Added once per exact question literal (UUID, id, number, quoted string) an item holds."""
    parent_weight: float = 0.7
    """Share of the final score taken from the best item of the same document/paragraph."""
    parent_top: int = 1
    """The parent's score is the mean of its best ``parent_top`` items."""
    neighbor_weight: float = 0.0
    """Share of the previous item's score (same parent) added to an item: an answer often
    sits in the sentence after the one that names the subject."""
    dense_pool: float | None = None
    """Embed items (best BM25 first) up to this multiple of the budget in tokens; ``None``:
    every item (still capped by ``dense_pool_max_tokens``)."""
    dense_share: float | None = 0.12
    """Embed at most this share of the input's tokens (``None``: no such cap). The int8
    MiniLM costs 110-160 ms per 1k tokens on one core, so this bounds the compressor's time
    (under 30 ms per 1k input tokens at 0.12); :meth:`thorough` embeds everything."""
    static_weight: float = 1.0
    """Weight of the item's static-embedding cosine in the prior that picks the pool."""
    static_parent_weight: float = 1.0
    """Weight of the parent's (document's) static-embedding cosine in that prior."""
    pool_bm25_weight: float = 0.3
    """Weight of the item's BM25 score (scaled to [0, 1]) in that prior."""
    pool_group_weight: float = 0.0
    """Weight of the parent's (document's) BM25 score in the prior that picks the pool."""
    pool_spread: float = 0.0
    """Added to the pool prior of each parent's best item, so the pool probes many documents."""
    probe_share: float = 0.6
    """Share of the MiniLM pool spent first on one item per document (its best by the
    prior), documents in the order of a cheap document score (``probe_weights``); the rest
    of the pool goes to the best items by the prior. On the NQ dev split (20 documents,
    same-topic distractors) every answer the static-prior pool lost at 4x sat in a document
    the pool never probed. 0 disables it; used only with the static prior."""
    probe_weights: tuple[float, float, float] = (1.0, 0.5, 0.5)
    """Weights of the document score that orders the probes, each z-scored over the
    documents: the document's static-embedding cosine, its best item's static cosine and
    its BM25 score (the whole document as one text)."""
    static_max_tokens: int = 65_536
    """Inputs over this many tokens get static scores only for their BM25-best items up
    to this many tokens (bounds the time on huge inputs)."""
    dense_pool_max_tokens: int = 16_384
    """Hard cap on embedded item tokens, which bounds the time on huge inputs."""
    dense_max_chars: int = 160
    """Characters of each item the embedder sees (MiniLM reads 256 word pieces at most); the
    pool counts only these, so a short clip lets the pool probe more items for the same time."""
    dense_context_chars: int = 0
    """Prefix each item but the first of its parent with this many characters of the
    parent's first item before embedding (the title or subject a later sentence omits)."""

    def __post_init__(self) -> None:
        """Check every field is within its range."""
        for name in (
            "dense_weight",
            "bm25_weight",
            "literal_bonus",
            "neighbor_weight",
            "pool_group_weight",
            "pool_spread",
            "static_weight",
            "static_parent_weight",
            "pool_bm25_weight",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                msg = f"RankingConfig.{name} must be a non-negative number, got {value!r}"
                raise TokenOptConfigError(msg)
        if not 0 <= self.probe_share <= 1:
            msg = f"RankingConfig.probe_share must be within [0, 1], got {self.probe_share!r}"
            raise TokenOptConfigError(msg)
        weights = self.probe_weights
        if (
            not isinstance(weights, tuple)
            or len(weights) != 3
            or not all(isinstance(w, int | float) and w >= 0 for w in weights)
        ):
            msg = (
                "RankingConfig.probe_weights must be a tuple of 3 non-negative numbers, "
                f"got {weights!r}"
            )
            raise TokenOptConfigError(msg)
        if not 0 <= self.parent_weight <= 1:
            msg = f"RankingConfig.parent_weight must be within [0, 1], got {self.parent_weight!r}"
            raise TokenOptConfigError(msg)
        if self.dense_share is not None and not 0 < self.dense_share <= 1:
            msg = (
                f"RankingConfig.dense_share must be within (0, 1] or None, got {self.dense_share!r}"
            )
            raise TokenOptConfigError(msg)
        if self.dense_pool is not None and self.dense_pool <= 0:
            msg = f"RankingConfig.dense_pool must be positive or None, got {self.dense_pool!r}"
            raise TokenOptConfigError(msg)
        if not isinstance(self.dense_context_chars, int) or self.dense_context_chars < 0:
            msg = (
                "RankingConfig.dense_context_chars must be a non-negative int, "
                f"got {self.dense_context_chars!r}"
            )
            raise TokenOptConfigError(msg)
        for name in ("parent_top", "dense_pool_max_tokens", "dense_max_chars", "static_max_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                msg = f"RankingConfig.{name} must be a positive int, got {value!r}"
                raise TokenOptConfigError(msg)

    @classmethod
    def thorough(cls) -> RankingConfig:
        """Embed every item (up to ``dense_pool_max_tokens``): the best ranking, ~5x slower.

        Example:
            .. code-block:: python

                QueryAwareCompressor(target_tokens=300, ranking=RankingConfig.thorough())
        """
        return cls(
            dense_share=None,
            dense_max_chars=1000,
            pool_group_weight=0.0,
            pool_spread=0.0,
            static_weight=0.0,
            static_parent_weight=0.0,
            parent_weight=0.5,
            dense_context_chars=60,
            probe_share=0.0,
        )

    @classmethod
    def lexical_pool(cls) -> RankingConfig:
        """The bounded pool picked by BM25 alone (used when no static embedder is available).

        Example:
            .. code-block:: python

                QueryAwareCompressor(target_tokens=300, ranking=RankingConfig.lexical_pool())
        """
        return cls().without_static()

    def without_static(self) -> RankingConfig:
        """Return this config with the pool of :meth:`lexical_pool` (BM25 only).

        That pool is 15 % of the input's tokens, items clipped to 1,000 characters: the
        calibration before the static embedder.

        Example:
            .. code-block:: python

                RankingConfig(parent_weight=0.5).without_static().uses_static  # False
        """
        if not self.uses_static:
            return self
        return replace(
            self,
            static_weight=0.0,
            static_parent_weight=0.0,
            pool_bm25_weight=1.0,
            pool_group_weight=1.0,
            pool_spread=1.0,
            dense_share=0.15,
            dense_max_chars=1000,
            probe_share=0.0,
        )

    @property
    def uses_static(self) -> bool:
        """Whether the pool prior uses the static embedder (with a bounded MiniLM pool)."""
        return self.static_weight > 0 or self.static_parent_weight > 0


def score_items(
    texts: Sequence[str],
    question: str,
    *,
    groups: Sequence[int],
    token_counts: Sequence[int],
    config: RankingConfig,
    embeddings: Any = None,
    budget: int | None = None,
    static: Any = None,
) -> np.ndarray:
    """Return one relevance score per item (higher is better).

    Args:
        texts: Item texts.
        question: The query; when empty, items are scored by similarity to the whole context.
        groups: Parent (document or paragraph) id of each item, for the coarse score.
        token_counts: Tokens per item, for the embedder's token pool.
        config: Weights.
        embeddings: Object with ``encode(list[str]) -> ndarray`` (unit vectors) or a LangChain
            ``Embeddings``; ``None`` uses BM25 and literals only.
        budget: The token budget, which sizes the embedder's pool (``config.dense_pool``).
        static: Object with ``encode(list[str]) -> ndarray`` (unit or zero vectors) scoring
            every item cheaply to pick the MiniLM pool; ``None``: the prior uses BM25 only.
    """
    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    lexical = bm25_scores(texts, question) if question.strip() else np.zeros(n)
    if lexical.max() > 0:
        lexical = lexical / lexical.max()
    bonus = np.zeros(n)
    if question:
        for literal in literals(question):
            bonus += np.fromiter((literal in t for t in texts), dtype=np.float64, count=n)
    dense = np.zeros(n)
    if embeddings is not None and config.dense_weight > 0:
        prior = config.pool_bm25_weight * lexical + bonus
        probes: list[int] = []
        if static is not None and config.uses_static and question.strip():
            item_cos, parent_cos = _static_cosines(
                texts, question, groups, token_counts, config, static, prior
            )
            prior = prior + config.static_weight * item_cos
            prior = prior + config.static_parent_weight * parent_cos
            if config.probe_share > 0:
                probes = _probes(texts, question, groups, prior, item_cos, parent_cos, config)
        if config.pool_group_weight > 0 and question.strip():
            prior = prior + config.pool_group_weight * group_bm25(texts, question, groups)
        if config.pool_spread > 0:
            leader: dict[int, int] = {}
            for i, g in enumerate(groups):
                if g not in leader or prior[i] > prior[leader[g]]:
                    leader[g] = i
            prior = prior.copy()
            prior[list(leader.values())] += config.pool_spread
        dense = _dense(
            texts, question, prior, token_counts, config, embeddings, budget, groups, probes
        )
    fused = config.dense_weight * dense + config.bm25_weight * lexical
    if config.neighbor_weight > 0 and n > 1:
        same = np.asarray(groups[1:]) == np.asarray(groups[:-1])
        shifted = np.zeros(n)
        shifted[1:] = np.where(same, fused[:-1], 0.0)
        fused = fused + config.neighbor_weight * shifted
    if config.parent_weight > 0:
        members: dict[int, list[float]] = {}
        for g, s in zip(list(groups), fused.tolist(), strict=True):
            members.setdefault(g, []).append(s)
        top = max(1, config.parent_top)
        best = {g: float(np.mean(sorted(v, reverse=True)[:top])) for g, v in members.items()}
        parent = np.fromiter((best[g] for g in groups), dtype=np.float64, count=n)
        fused = (1 - config.parent_weight) * fused + config.parent_weight * parent
    return fused + config.literal_bonus * bonus


def _static_cosines(
    texts: Sequence[str],
    question: str,
    groups: Sequence[int],
    token_counts: Sequence[int],
    config: RankingConfig,
    static: Any,
    base: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Static-embedding cosine of each item and of its parent (token-weighted item mean).

    On inputs over ``config.static_max_tokens`` only the items ``base`` ranks best, up to
    that many tokens, are embedded (bounded time); the others get the lowest values.
    """
    n = len(texts)
    chosen = list(range(n))
    if sum(token_counts) > config.static_max_tokens:
        picked: list[int] = []
        used = 0
        for i in sorted(range(n), key=lambda i: (-base[i], i)):
            if used >= config.static_max_tokens:
                break
            picked.append(i)
            used += token_counts[i]
        chosen = sorted(picked)
    vectors = np.asarray(static.encode([question, *(texts[i] for i in chosen)]), dtype=np.float64)
    query, items = vectors[0], vectors[1:]
    item_cos = items @ query
    chosen_groups = [groups[i] for i in chosen]
    order = {g: k for k, g in enumerate(dict.fromkeys(chosen_groups))}
    index = np.fromiter((order[g] for g in chosen_groups), dtype=np.int64, count=len(chosen))
    weights = np.asarray(token_counts, dtype=np.float64)[chosen][:, None]
    parents = np.zeros((len(order), items.shape[1]))
    np.add.at(parents, index, items * weights)
    norms = np.linalg.norm(parents, axis=1, keepdims=True)
    parent_cos = ((parents / np.where(norms == 0, 1, norms)) @ query)[index]
    if len(chosen) == n:
        return item_cos, parent_cos
    out_item = np.full(n, float(item_cos.min()) if len(chosen) else 0.0)
    out_parent = np.full(n, float(parent_cos.min()) if len(chosen) else 0.0)
    out_item[chosen] = item_cos
    out_parent[chosen] = parent_cos
    return out_item, out_parent


def _probes(
    texts: Sequence[str],
    question: str,
    groups: Sequence[int],
    prior: np.ndarray,
    item_cos: np.ndarray,
    parent_cos: np.ndarray,
    config: RankingConfig,
) -> list[int]:
    """Each document's best item by ``prior``, documents best first by a cheap score.

    The score is ``probe_weights`` over the z-scores (across documents) of the document's
    static cosine, its best item's static cosine and its BM25 score; ties keep reading order.
    """
    order = list(dict.fromkeys(groups))
    if len(order) < 2:
        return []
    slot = {g: k for k, g in enumerate(order)}
    index = np.fromiter((slot[g] for g in groups), dtype=np.int64, count=len(texts))
    parent = np.full(len(order), -np.inf)
    np.maximum.at(parent, index, parent_cos)
    best_item = np.full(len(order), -np.inf)
    np.maximum.at(best_item, index, item_cos)
    joined: list[list[str]] = [[] for _ in order]
    for k, text in zip(index.tolist(), texts, strict=True):
        joined[k].append(text)
    lexical = bm25_scores([" ".join(parts) for parts in joined], question)
    score = np.zeros(len(order))
    for weight, values in zip(config.probe_weights, (parent, best_item, lexical), strict=True):
        spread = float(values.std())
        if weight > 0 and spread > 0:
            score += weight * (values - values.mean()) / spread
    leader: dict[int, int] = {}
    for i, k in enumerate(index.tolist()):
        if k not in leader or prior[i] > prior[leader[k]]:
            leader[k] = i
    return [leader[k] for k in sorted(range(len(order)), key=lambda k: (-score[k], k))]


def _dense(
    texts: Sequence[str],
    question: str,
    prior: np.ndarray,
    token_counts: Sequence[int],
    config: RankingConfig,
    embeddings: Any,
    budget: int | None,
    groups: Sequence[int],
    probes: Sequence[int] = (),
) -> np.ndarray:
    n = len(texts)
    order = sorted(range(n), key=lambda i: (-prior[i], i))
    limit = config.dense_pool_max_tokens
    if config.dense_pool is not None and budget is not None:
        limit = min(limit, max(1, int(config.dense_pool * budget)))
    if config.dense_share is not None:
        limit = min(limit, max(1, int(config.dense_share * sum(token_counts))))
    first: dict[int, int] = {}
    for i, g in enumerate(groups):
        first.setdefault(g, i)
    width = config.dense_context_chars

    def embedded(i: int) -> str:
        """What MiniLM reads for item ``i``: its clip, after its document's opening."""
        text = texts[i][: config.dense_max_chars]
        if width <= 0 or first[groups[i]] == i:
            return text
        return f"{texts[first[groups[i]]][:width]} … {text}"

    # Items whose embedded text repeats (a policy pasted twice, a boilerplate line in every
    # record) share one vector: only the first copy costs pool tokens.
    pool: dict[int, str] = {}  # item -> what MiniLM reads for it
    seen: set[str] = set()
    used = 0

    def take(i: int) -> None:
        nonlocal used
        key = pool[i] = embedded(i)
        if key not in seen:
            seen.add(key)
            # an item is embedded up to its first dense_max_chars characters: count only those
            share = min(1.0, config.dense_max_chars / max(len(texts[i]), 1))
            used += math.ceil(token_counts[i] * share)

    probe_limit = config.probe_share * limit
    for i in probes:
        if used >= probe_limit:
            break
        take(i)
    for i in order:
        if used >= limit:
            break
        if i not in pool:
            take(i)
    members = sorted(pool)
    keys = [pool[i] for i in members]
    unique = list(dict.fromkeys(keys))
    if question.strip():
        vectors = encode_texts(embeddings, [question[:_QUESTION_CHARS], *unique])
        query, vecs = vectors[0], vectors[1:]
    else:
        vecs = encode_texts(embeddings, unique)
        centroid = vecs.mean(axis=0)
        norm = np.linalg.norm(centroid)
        query = centroid / norm if norm > 0 else centroid
    row = {key: k for k, key in enumerate(unique)}
    sims = (vecs @ query)[[row[key] for key in keys]]
    dense = np.full(n, float(sims.min()) if len(sims) else 0.0)
    dense[members] = sims
    return dense
