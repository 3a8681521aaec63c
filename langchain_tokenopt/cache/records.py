"""Typed records of the semantic cache: what is stored, what a lookup found, the counters.

Example:
    .. code-block:: python

        stats = cache.stats()
        print(stats.exact_hits, stats.semantic_hits, stats.hit_rate)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CacheEntry",
    "CacheHit",
    "CacheLookup",
    "CacheStats",
    "Candidate",
    "StoredEntry",
    "TenantCalibration",
]


@dataclass(frozen=True)
class CacheEntry:
    """One stored answer, as both backends keep it."""

    entry_id: str
    """Stable id: a digest of the scope and the normalized prompt (use it to delete)."""
    scope: str
    """Digest of everything that must match exactly (model, system, history, tools, tenant)."""
    model: str
    """Digest of the model identity (``llm_string`` minus volatile fields)."""
    model_name: str
    """Digest of the model's name alone (for ``clear(model=...)``)."""
    tenant: str
    """Digest of the tenant id (for ``clear(tenant_id=...)``)."""
    user: str
    """Digest of tenant + user (for ``clear(tenant_id=..., user_id=...)``)."""
    text: str
    """The embedded query text (newest human message), kept for the hit verifier."""
    payload: str
    """The generations, serialized with ``langchain_core.load.dumps``."""
    created_at: float
    """Unix time of the write."""
    expires_at: float | None
    """Unix time after which the entry is dead; ``None`` never expires."""
    vector: bytes | None = None
    """float32 query embedding, or ``None`` for exact-only entries."""
    ttl: float | None = None
    """Lifetime in seconds the entry was written with (a refresh-on-hit extends it by this)."""
    tags: tuple[str, ...] = ()
    """Labels for invalidation (``SemanticCache.clear(tags=[...])``), sorted, no duplicates."""


@dataclass(frozen=True)
class StoredEntry:
    """One entry as listed by ``SemanticCache.entries()`` (no payload, no vector).

    Example:
        .. code-block:: python

            for entry in cache.entries(tenant_id="acme", tags=["pricing"]):
                print(entry.text, entry.hits, entry.expires_at)
    """

    entry_id: str
    """Id of the entry (pass it to ``SemanticCache.delete``)."""
    text: str
    """The question as it was stored (newest human message)."""
    tags: tuple[str, ...]
    """Labels given when it was written."""
    hits: int
    """Times it was served (exact or semantic) since it was written."""
    created_at: float
    """Unix time of the write."""
    expires_at: float | None
    """Unix time it expires (moved forward by refresh-on-hit); ``None`` never expires."""
    last_used: float | None
    """Unix time of the last hit (the write when never served)."""
    ttl: float | None
    """Lifetime in seconds it was written with; ``None`` for no lifetime."""


@dataclass(frozen=True)
class Candidate:
    """The nearest stored entry returned by a backend's vector search."""

    entry: CacheEntry
    """The stored entry."""
    similarity: float
    """Cosine similarity to the query, in [-1, 1]."""


@dataclass(frozen=True)
class CacheHit:
    """What a successful lookup served."""

    entry_id: str
    """Id of the entry served (pass it to ``SemanticCache.delete`` to remove a bad answer)."""
    kind: Literal["exact", "semantic"]
    """``"exact"``: same normalized prompt and scope; ``"semantic"``: a near neighbour."""
    similarity: float
    """Cosine similarity (1.0 for exact hits)."""
    cached_text: str
    """The stored query text that matched."""


@dataclass(frozen=True)
class CacheLookup:
    """Full account of one lookup (returned by ``SemanticCache.lookup_detailed``)."""

    outcome: Literal["exact_hit", "semantic_hit", "miss", "rejected", "bypass", "error"]
    """How the lookup ended; ``"rejected"`` is a candidate the verifier turned down."""
    hit: CacheHit | None = None
    """The entry served, if any."""
    best_similarity: float | None = None
    """Similarity of the best candidate, served or not."""
    reason: str = ""
    """Why a candidate was rejected or the cache bypassed."""
    embedding_ms: float = 0.0
    """Time spent embedding the query."""
    search_ms: float = 0.0
    """Time spent in the backend (exact lookup plus vector search)."""


@dataclass(frozen=True)
class TenantCalibration:
    """One tenant's learned threshold (``SemanticCache(calibration="online")``).

    Example:
        .. code-block:: python

            state = cache.stats().calibration["acme"]
            print(state.threshold, state.observations, state.error_bound)
    """

    tenant: str
    """Tenant id (``""`` for calls without one; its digest when not seen since the start)."""
    threshold: float
    """Effective similarity threshold (the configured one until the evidence allows less)."""
    observations: int
    """Band candidates whose answer was compared with the fresh one."""
    errors: int
    """Of those, the ones whose answers were not equivalent."""
    supporting: int
    """Compared candidates at or above ``threshold`` (0 when not lowered)."""
    error_bound: float
    """Upper confidence bound on the per-request error ``threshold`` adds (1.0 when not
    lowered)."""
    requests: int = 0
    """Semantic lookups of the tenant (the denominator of the per-request error)."""
    candidates: int = 0
    """Verifier-accepted candidates in the band, served or compared."""
    learned_words: tuple[str, ...] = ()
    """Word pairs the tenant's evidence explains (``"delivery|shipping"``): each confirmed
    by ``OnlineCalibration.word_confirmations`` distinct question pairs with equivalent
    answers and never by one with different answers."""


@dataclass(frozen=True)
class CacheStats:
    """Counters since the cache was created (or ``reset_stats``)."""

    exact_hits: int = 0
    """Lookups served by the exact-hash fast path."""
    semantic_hits: int = 0
    """Lookups served by a verified near neighbour."""
    misses: int = 0
    """Lookups that found nothing usable (rejections not included)."""
    verifier_rejections: int = 0
    """Candidates above the threshold that the near-miss verifier turned down."""
    bypasses: int = 0
    """Lookups skipped on purpose (temperature > 0, empty prompt)."""
    errors: int = 0
    """Lookups or updates that failed open (backend down or timed out)."""
    updates: int = 0
    """Entries written."""
    embedding_ms: float = 0.0
    """Total time spent embedding queries (lookups only)."""
    search_ms: float = 0.0
    """Total time spent in the backend during lookups."""
    lookups: int = field(default=0)
    """All lookups, whatever their outcome."""
    rejections_by_reason: dict[str, int] = field(default_factory=dict)
    """Verifier rejections per reason code (``"antonym"``, ``"number"``, ``"roles"`` ...;
    see :data:`~langchain_tokenopt.cache.verifier.REJECTION_CODES`)."""
    calibration: dict[str, TenantCalibration] = field(default_factory=dict)
    """Per-tenant learned thresholds, by tenant id (empty without ``calibration="online"``)."""

    @property
    def hits(self) -> int:
        """Exact plus semantic hits."""
        return self.exact_hits + self.semantic_hits

    @property
    def hit_rate(self) -> float:
        """Hits over lookups (0.0 before the first lookup)."""
        return self.hits / self.lookups if self.lookups else 0.0
