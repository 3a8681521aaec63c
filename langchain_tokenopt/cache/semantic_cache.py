"""``SemanticCache``: a scoped, verified LangChain ``BaseCache``.

One lookup, in order:

1. **Scope** (:mod:`.keys`): model identity, system prompt, a digest of the other turns,
   bound tools and tenant/user must match exactly; they form the scope digest.
2. **Bypass**: temperature > 0 (configurable) or an empty prompt skip the cache.
3. **Exact fast path**: the entry id (scope + the question's canonical form: case,
   punctuation, contractions and unit spellings folded, :mod:`.canonical`) is fetched before
   any embedding, so a repeat or a trivial rephrasing never pays for the embedder.
4. **Semantic path**: only the newest human message is embedded; the backend returns the
   few nearest entries *inside the scope* (``max_candidates``); they are checked nearest
   first, and the first whose cosine similarity reaches ``similarity_threshold`` and that
   the :class:`~.verifier.NearMissVerifier` accepts is served (a near miss stored next to
   the question, turned down, does not hide the paraphrase behind it).

Lifetime and invalidation: each entry has a lifetime (``ttl``: the cache's, or per entry
through ``update(ttl=...)``, :func:`~.scope.cache_entry_options` or the run's ``cache_ttl``
metadata), optionally extended on every hit (``refresh_on_hit=True``), and tags
(``clear(tags=["pricing"])``). :meth:`SemanticCache.entries` lists what is stored with hit
counts; :meth:`SemanticCache.delete` removes one entry.

Sync and async share every decision; only the I/O differs. Failures of the backend or the
embedder fail open: the lookup is a miss, the update is dropped, a warning is logged.

Example:
    .. code-block:: python

        from langchain_core.globals import set_llm_cache
        from langchain_tokenopt import SemanticCache, cache_scope

        set_llm_cache(SemanticCache())
        with cache_scope(tenant_id="acme"):
            chat_model.invoke("How do I reset my password?")
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, TypeVar

import numpy as np
from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.embeddings import Embeddings
from langchain_core.outputs import Generation

from langchain_tokenopt.cache.backends.base import CacheBackend
from langchain_tokenopt.cache.calibration import (
    CalibrationStore,
    OnlineCalibration,
    TenantCalibrator,
    answer_form,
)
from langchain_tokenopt.cache.keys import (
    CacheKey,
    RequestKey,
    build_key,
    build_request_key,
    check_entry_id,
    clear_filters,
    digest,
)
from langchain_tokenopt.cache.records import (
    CacheEntry,
    CacheHit,
    CacheLookup,
    CacheStats,
    Candidate,
    StoredEntry,
    TenantCalibration,
)
from langchain_tokenopt.cache.scope import (
    check_tags,
    check_ttl,
    current_caller_scope,
    current_entry_options,
)
from langchain_tokenopt.cache.serialization import dumps_generations, loads_generations
from langchain_tokenopt.cache.standalone import HistoryPolicy, StandalonePolicy
from langchain_tokenopt.cache.verifier import HitVerifier, NearMissVerifier, Verdict, reason_code
from langchain_tokenopt.errors import BackendUnavailableError, CacheError, TokenOptConfigError
from langchain_tokenopt.protocols import CacheAnswer

__all__ = ["DEFAULT_SIMILARITY_THRESHOLD", "SemanticCache"]

logger = logging.getLogger(__name__)

#: Cosine similarity a neighbour needs (with the verifier on), calibrated on the dev split.
DEFAULT_SIMILARITY_THRESHOLD = 0.93
_VECTOR_MEMO = 256
#: Upper bound of ``max_candidates`` (each extra candidate is one more verifier run).
_MAX_CANDIDATES = 16


T = TypeVar("T")
_Op = tuple[Any, ...]
_Found = tuple[CacheLookup, "list[Generation] | None"]
#: Runtime failures that make the cache fail open (miss / dropped update + a log line).
_FAIL_OPEN = (CacheError, OSError, RuntimeError, ValueError)


@dataclass(frozen=True)
class _Plan:
    key: CacheKey
    semantic: bool
    tenant_id: str | None = None
    """The caller's tenant id (what calibration labels its evidence with)."""


class _Run(Generic[T]):
    """One flow being driven: what to send it next, its result, the time spent embedding.

    The sync and async drivers share it; only how they run a step differs.
    """

    def __init__(self, flow: Generator[_Op, Any, T]) -> None:
        self.flow = flow
        self.embed_ms = 0.0
        self.result: T
        self._value: Any = None
        self._error: Exception | None = None
        self._op: _Op = ("",)
        self._t0 = 0.0

    def next(self) -> _Op | None:
        """The flow's next step (``None`` when it has returned; see :attr:`result`)."""
        try:
            if self._error is None:
                op = self.flow.send(self._value)
            else:
                op = self.flow.throw(self._error)
        except StopIteration as stop:
            self.result = stop.value
            return None
        self._op, self._t0, self._error = op, time.perf_counter(), None
        return op

    def done(self, value: Any) -> None:
        """The step's result, sent into the flow next."""
        self._value = value
        self._timed()

    def failed(self, error: Exception) -> None:
        """The step failed open: the failure is thrown into the flow next."""
        self._error = error
        self._timed()

    def _timed(self) -> None:
        if self._op[0] == "embed":
            self.embed_ms += (time.perf_counter() - self._t0) * 1000


def _check_prompt(prompt: object, llm_string: object) -> None:
    if not isinstance(prompt, str):
        msg = f"prompt must be a str, got {type(prompt).__name__}"
        raise TypeError(msg)
    if not isinstance(llm_string, str):
        msg = f"llm_string must be a str, got {type(llm_string).__name__}"
        raise TypeError(msg)


def _zero_counters() -> dict[str, Any]:
    """Mutable counters behind :meth:`SemanticCache.stats` (a frozen snapshot is built on read)."""
    return {name: getattr(CacheStats(), name) for name in CacheStats.__dataclass_fields__}


def _check_limit(limit: Any) -> int | None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        msg = f"limit must be a positive int or None, got {limit!r}"
        raise TokenOptConfigError(msg)
    return limit


def _unit(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    vec = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


class SemanticCache(BaseCache):
    """Scoped, verified semantic cache for LLMs and chat models (a drop-in ``BaseCache``).

    Args:
        backend: Where entries live; ``None`` uses a :class:`LocalBackend` in the user cache
            dir.
        embeddings: Query embedder; ``None`` uses the package's fast default (the packaged
            MiniLM, int8 ONNX when available).
        similarity_threshold: Cosine similarity in [-1, 1] a neighbour needs to be served.
        verifier: Near-miss check on the best candidate; ``None`` uses
            :class:`NearMissVerifier`. Pass ``verify_hits=False`` to switch it off.
        verify_hits: Whether to run the verifier at all.
        ttl: Seconds an entry lives (from its write); ``None`` never expires. Per entry:
            ``update(ttl=...)``, :func:`~langchain_tokenopt.cache.cache_entry_options` or the
            run's ``cache_ttl`` metadata.
        refresh_on_hit: Whether a hit extends the entry's expiry by its lifetime (an entry
            in use stays; an unused one still expires). Entries without a lifetime are
            unaffected.
        temperature_policy: ``"bypass"`` skips calls with temperature > 0 (they are meant to
            vary); ``"cache"`` caches them anyway.
        semantic: ``False`` keeps only the exact path (no embedder is ever loaded).
        max_embed_chars: Queries longer than this are cached by exact match only (an
            embedder sees ~256 tokens; a long prompt's tail would be ignored).
        history_policy: ``"always"`` (default, strictest) puts a digest of all earlier turns
            in the scope. ``"standalone"`` leaves it out for self-contained questions when
            the earlier turns hold no tool calls or results, so repeats hit across
            conversations; follow-ups ("and how old is he?") stay conversation-bound. A
            :class:`~langchain_tokenopt.cache.StandalonePolicy` is ``"standalone"`` with
            your own vocabulary.
        calibration: ``"online"`` (or an :class:`~.calibration.OnlineCalibration`) learns a
            lower threshold per tenant (or per cache, ``pool="cache"``) from evidence, with
            a bound on the wrong answers per request it adds (:mod:`.calibration`);
            ``"off"`` / ``None`` (default) keeps ``similarity_threshold`` for everyone.
        max_candidates: How many of the nearest entries above the threshold (or, with
            calibration, above its floor) are checked in turn, nearest first, when the
            verifier turns the nearer ones down; ``1`` checks the nearest only.

    Raises:
        TokenOptConfigError: an argument is invalid (NaN or out-of-range threshold, negative
            TTL, unknown policy, ...).
        MissingDependencyError: no ``embeddings`` given and onnxruntime or tokenizers is not
            installed (``pip install "langchain-tokenopt[cache]"``).

    Example:
        .. code-block:: python

            from langchain_core.globals import set_llm_cache
            from langchain_tokenopt import SemanticCache

            set_llm_cache(SemanticCache(ttl=24 * 3600, refresh_on_hit=True))
    """

    def __init__(
        self,
        *,
        backend: CacheBackend | None = None,
        embeddings: Embeddings | None = None,
        similarity_threshold: float = DEFAULT_SIMILARITY_THRESHOLD,
        verifier: HitVerifier | None = None,
        verify_hits: bool = True,
        ttl: float | None = None,
        refresh_on_hit: bool = False,
        temperature_policy: Literal["bypass", "cache"] = "bypass",
        semantic: bool = True,
        max_embed_chars: int = 4000,
        history_policy: HistoryPolicy = "always",
        calibration: Literal["off", "online"] | OnlineCalibration | None = None,
        max_candidates: int = 4,
    ) -> None:
        if (
            isinstance(similarity_threshold, bool)
            or not isinstance(similarity_threshold, int | float)
            or math.isnan(similarity_threshold)
            or not -1.0 <= similarity_threshold <= 1.0
        ):
            msg = (
                "similarity_threshold is a cosine similarity and must be a number in [-1, 1] "
                f"(higher = stricter), got {similarity_threshold!r}"
            )
            raise TokenOptConfigError(msg)
        ttl = check_ttl(ttl)
        if (
            isinstance(max_candidates, bool)
            or not isinstance(max_candidates, int)
            or not 1 <= max_candidates <= _MAX_CANDIDATES
        ):
            msg = f"max_candidates must be an int in [1, {_MAX_CANDIDATES}], got {max_candidates!r}"
            raise TokenOptConfigError(msg)
        if not isinstance(refresh_on_hit, bool):
            msg = f"refresh_on_hit must be True or False, got {refresh_on_hit!r}"
            raise TokenOptConfigError(msg)
        if temperature_policy not in ("bypass", "cache"):
            msg = f"temperature_policy must be 'bypass' or 'cache', got {temperature_policy!r}"
            raise TokenOptConfigError(msg)
        if not isinstance(max_embed_chars, int) or max_embed_chars < 1:
            msg = f"max_embed_chars must be a positive int, got {max_embed_chars!r}"
            raise TokenOptConfigError(msg)
        if not isinstance(history_policy, StandalonePolicy) and history_policy not in (
            "always",
            "standalone",
        ):
            msg = (
                "history_policy must be 'always', 'standalone' or a StandalonePolicy, "
                f"got {history_policy!r}"
            )
            raise TokenOptConfigError(msg)
        if backend is not None and not isinstance(backend, CacheBackend):
            msg = f"backend must be a LocalBackend or RedisBackend, got {type(backend).__name__}"
            raise TokenOptConfigError(msg)
        if embeddings is not None and not isinstance(embeddings, Embeddings):
            msg = f"embeddings must be a langchain Embeddings, got {type(embeddings).__name__}"
            raise TokenOptConfigError(msg)
        if embeddings is None and semantic:
            from langchain_tokenopt.embeddings import require_query_embeddings

            require_query_embeddings()  # a missing `cache` extra fails here, not on a call
        if calibration == "online":
            calibration = OnlineCalibration()
        elif calibration in (None, "off"):
            calibration = None
        elif not isinstance(calibration, OnlineCalibration):
            msg = (
                f"calibration must be 'off', 'online' or an OnlineCalibration, got {calibration!r}"
            )
            raise TokenOptConfigError(msg)
        if backend is None:
            from langchain_tokenopt.cache.backends.local import LocalBackend

            backend = LocalBackend()
        backend_dim, emb_dim = getattr(backend, "dim", None), getattr(embeddings, "dimension", None)
        if backend_dim is not None and emb_dim is not None and backend_dim != emb_dim:
            msg = f"the backend expects {backend_dim}-d vectors but the embedder makes {emb_dim}-d"
            raise TokenOptConfigError(msg)
        self.backend = backend
        self._embeddings = embeddings
        self.similarity_threshold = float(similarity_threshold)
        self.verifier: HitVerifier | None = (
            (verifier or NearMissVerifier()) if verify_hits else None
        )
        if semantic and isinstance(self.verifier, NearMissVerifier):
            # The verifier's word relations (WordNet, ~0.5 s to read once per process) load in
            # the background, so the first semantic lookup does not pay for them.
            threading.Thread(
                target=lambda v=self.verifier: v.lexicon, name="tokenopt-lexicon", daemon=True
            ).start()
        self.ttl = ttl
        self.max_candidates = max_candidates
        self.refresh_on_hit = refresh_on_hit
        self.temperature_policy = temperature_policy
        self.semantic = bool(semantic)
        self.max_embed_chars = max_embed_chars
        self.history_policy: HistoryPolicy = history_policy
        self._counters: dict[str, Any] = _zero_counters()
        self._lock = threading.Lock()
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._calibration = (
            None
            if calibration is None
            else TenantCalibrator(calibration, self.similarity_threshold)
        )

    # ------------------------------------------------------------------ embedder

    @property
    def embeddings(self) -> Embeddings:
        """The query embedder (loaded on first semantic use)."""
        if self._embeddings is None:
            from langchain_tokenopt.embeddings import get_default_query_embeddings

            self._embeddings = get_default_query_embeddings()
        return self._embeddings

    def _memo_get(self, text: str) -> np.ndarray | None:
        with self._lock:
            vec = self._memo.get(text)
            if vec is not None:
                self._memo.move_to_end(text)
            return vec

    def _memo_put(self, text: str, vec: np.ndarray) -> np.ndarray:
        with self._lock:
            self._memo[text] = vec
            while len(self._memo) > _VECTOR_MEMO:
                self._memo.popitem(last=False)
        return vec

    def _embed(self, text: str) -> np.ndarray:
        vec = self._memo_get(text)
        if vec is not None:
            return vec
        emb = self.embeddings
        encode = getattr(emb, "encode", None)
        raw = encode([text])[0] if callable(encode) else emb.embed_query(text)
        return self._memo_put(text, _unit(raw))

    async def _aembed(self, text: str) -> np.ndarray:
        vec = self._memo_get(text)
        if vec is not None:
            return vec
        return self._memo_put(text, _unit(await self.embeddings.aembed_query(text)))

    # ------------------------------------------------------------------ shared decisions

    def _count(self, **deltas: float) -> None:
        with self._lock:
            counters = self._counters
            for name, delta in deltas.items():
                counters[name] += delta

    def _plan(self, prompt: str, llm_string: str) -> _Plan | CacheLookup:
        _check_prompt(prompt, llm_string)
        if not prompt.strip():
            return CacheLookup(outcome="bypass", reason="empty prompt")
        caller = current_caller_scope()
        key = build_key(prompt, llm_string, caller, history_policy=self.history_policy)
        return self._plan_key(key, caller.tenant_id)

    def _plan_request(self, request: RequestKey) -> _Plan | CacheLookup:
        if not isinstance(request, RequestKey):
            msg = f"key must be a RequestKey, got {type(request).__name__}"
            raise TypeError(msg)
        if not request.prompt.strip():
            return CacheLookup(outcome="bypass", reason="empty prompt")
        caller = request.caller if request.caller is not None else current_caller_scope()
        key = build_request_key(request, caller, history_policy=self.history_policy)
        return self._plan_key(key, caller.tenant_id)

    def _plan_key(self, key: CacheKey, tenant_id: str | None) -> _Plan | CacheLookup:
        temperature = key.model.temperature
        if self.temperature_policy == "bypass" and temperature is not None and temperature > 0:
            return CacheLookup(outcome="bypass", reason=f"temperature {temperature} > 0")
        semantic = self.semantic and key.embeddable and len(key.query_text) <= self.max_embed_chars
        return _Plan(key=key, semantic=semantic, tenant_id=tenant_id)

    def _exact(self, entry: CacheEntry | None) -> _Found | None:
        if entry is None:
            return None
        generations = loads_generations(entry.payload)
        hit = CacheHit(
            entry_id=entry.entry_id, kind="exact", similarity=1.0, cached_text=entry.text
        )
        return CacheLookup(outcome="exact_hit", hit=hit, best_similarity=1.0), generations

    def _lowest(self) -> float:
        """The lowest similarity a candidate can be served or observed at."""
        calib = self._calibration
        base = self.similarity_threshold
        return base if calib is None else min(base, calib.config.floor)

    def _judge(
        self, plan: _Plan, candidates: Sequence[Candidate]
    ) -> tuple[_Found, Candidate | None]:
        """Decide on the candidates (nearest first); return the outcome and the one used."""
        key = plan.key
        calib = self._calibration
        group = "" if calib is None else calib.group(key.tenant)
        if not candidates:
            if calib is not None:
                calib.request(group)
            return (CacheLookup(outcome="miss"), None), None
        best = candidates[0].similarity
        threshold = self.similarity_threshold if calib is None else calib.request(group)
        eligible = []
        for candidate in candidates:
            sim = candidate.similarity
            if sim < threshold and (calib is None or not calib.in_band(sim)):
                break  # nearest first: none further is eligible
            eligible.append(candidate)
        learned = frozenset() if calib is None else calib.learned(group)
        chosen, refused, verdicts = self._choose(key.query_text, eligible, learned)
        if calib is not None:
            self._expect_words(plan, group, verdicts)
        used = verdicts[-1][1].learned if chosen is not None and verdicts else ()
        if chosen is None:
            if refused is None or refused[0].similarity < threshold:
                return (CacheLookup(outcome="miss", best_similarity=best), None), None
            rejected = CacheLookup(outcome="rejected", best_similarity=best, reason=refused[1])
            return (rejected, None), None
        sim = chosen.similarity
        if calib is not None and calib.in_band(sim):
            calib.seen(group, sim)
        if calib is not None and calib.in_band(sim) and (sim < threshold or calib.explore()):
            tenant = plan.tenant_id or ""
            calib.label(group, tenant)
            calib.expect(key.entry_id, group, tenant, sim, chosen.entry.payload, used)
            reason = "calibrating: similarity in the uncertain band, answer to be compared"
            return (CacheLookup(outcome="miss", best_similarity=best, reason=reason), None), None
        entry = chosen.entry
        hit = CacheHit(
            entry_id=entry.entry_id, kind="semantic", similarity=sim, cached_text=entry.text
        )
        found = CacheLookup(outcome="semantic_hit", hit=hit, best_similarity=best)
        return (found, loads_generations(entry.payload)), chosen

    def _expect_words(
        self, plan: _Plan, group: str, verdicts: Sequence[tuple[Candidate, Verdict]]
    ) -> None:
        """Remember the first candidate refused for one unrelated word pair (to learn it)."""
        calib = self._calibration
        verifier = self.verifier
        if calib is None or not isinstance(verifier, NearMissVerifier):
            return
        for candidate, verdict in verdicts:
            words = verdict.unexplained
            if verdict.accepted or words is None:
                continue
            if len(words[0]) == 1 and len(words[1]) == 1:
                calib.label(group, plan.tenant_id or "")
                calib.expect_words(
                    plan.key.entry_id,
                    group,
                    plan.tenant_id or "",
                    verifier.equivalence_key(words[0][0], words[1][0]),
                    calib.question_pair(plan.key.query_text, candidate.entry.text),
                    candidate.entry.payload,
                )
            return

    def _choose(
        self, query: str, eligible: Sequence[Candidate], learned: frozenset[str] = frozenset()
    ) -> tuple[Candidate | None, tuple[Candidate, str] | None, list[tuple[Candidate, Verdict]]]:
        """The first candidate the verifier accepts (nearest first), and the first refused.

        A further candidate is skipped when the verifier takes it for a rewording of a
        nearer one it refused: the difference found there holds for it too ("convert
        dollars to euros": "convert euros to dollars" refused for its roles, "swap euros
        for dollars" is that question reworded). So a further candidate is served only
        where the nearest one would have been.

        ``learned``: word pairs the caller's evidence explains (a :class:`NearMissVerifier`
        takes them into account; another verifier does not).

        Returns ``(chosen or None, (refused candidate, reason) or None, verdicts)``, the
        verdicts on the query of the candidates checked, in order (the last one is the
        chosen candidate's when there is one).
        """
        verifier = self.verifier
        if verifier is None:
            return (eligible[0] if eligible else None), None, []
        check = verifier.verify
        if learned and isinstance(verifier, NearMissVerifier):
            near = verifier

            def check(query: str, candidate: str, similarity: float) -> Verdict:
                return near.verify(query, candidate, similarity, learned=learned.__contains__)

        refused: list[tuple[Candidate, str]] = []
        verdicts: list[tuple[Candidate, Verdict]] = []
        for candidate in eligible:
            text, sim = candidate.entry.text, candidate.similarity
            verdict = check(query, text, sim)
            verdicts.append((candidate, verdict))
            if verdict.accepted and not any(
                check(nearer.entry.text, text, sim).accepted for nearer, _ in refused
            ):
                if refused:
                    logger.debug(
                        "cache: a nearer candidate refused (%s); one at %.3f accepted",
                        refused[0][1],
                        sim,
                    )
                return candidate, refused[0] if refused else None, verdicts
            refused.append(
                (candidate, verdict.reason or "neighbours: a rewording of a refused one")
            )
        return None, refused[0] if refused else None, verdicts

    def _record(self, result: CacheLookup) -> None:
        field = {
            "exact_hit": "exact_hits",
            "semantic_hit": "semantic_hits",
            "miss": "misses",
            "rejected": "verifier_rejections",
            "bypass": "bypasses",
            "error": "errors",
        }[result.outcome]
        self._count(
            **{field: 1},
            lookups=1,
            embedding_ms=result.embedding_ms,
            search_ms=result.search_ms,
        )
        if result.outcome == "rejected":
            code = reason_code(result.reason)
            with self._lock:
                by_reason = self._counters["rejections_by_reason"]
                by_reason[code] = by_reason.get(code, 0) + 1

    def _fail(self, action: str, exc: Exception) -> CacheLookup:
        if isinstance(exc, BackendUnavailableError):
            logger.debug("cache %s skipped: %s", action, exc)
        else:
            logger.warning("cache %s failed, passing through: %s", action, exc)
        return CacheLookup(outcome="error", reason=str(exc))

    def _entry(
        self,
        key: CacheKey,
        payload: str,
        vector: np.ndarray | None,
        ttl: float | None,
        tags: tuple[str, ...],
    ) -> CacheEntry:
        now = time.time()
        lifetime = self.ttl if ttl is None else ttl
        return CacheEntry(
            entry_id=key.entry_id,
            scope=key.scope,
            model=key.model.model,
            model_name=digest("model_name", key.model.model_name),
            tenant=key.tenant,
            user=key.user,
            text=key.query_text,
            payload=payload,
            created_at=now,
            expires_at=None if lifetime is None else now + lifetime,
            vector=None if vector is None else vector.astype(np.float32).tobytes(),
            ttl=lifetime,
            tags=tags,
        )

    def _write_options(self, ttl: float | None, tags: Any) -> tuple[float | None, tuple[str, ...]]:
        """Lifetime and tags of an entry written now (argument, block, run metadata)."""
        ttl, tags = check_ttl(ttl), check_tags(tags)
        context = current_entry_options()
        return (
            context.ttl if ttl is None else ttl,
            tuple(sorted(set(tags) | set(context.tags))),
        )

    def _refreshed_expiry(self, entry: CacheEntry) -> float | None:
        """The expiry a hit moves the entry to (refresh-on-hit), or ``None`` to keep it."""
        if not self.refresh_on_hit or entry.expires_at is None:
            return None
        lifetime = entry.ttl if entry.ttl is not None else entry.expires_at - entry.created_at
        return time.time() + lifetime if lifetime > 0 else None

    # ------------------------------------------------------------------ one flow, two drivers

    def _lookup_flow(self, plan: _Plan) -> Generator[_Op, Any, _Found]:
        """The lookup as a generator of I/O steps; the sync and async drivers run the steps."""
        key = plan.key
        served: CacheEntry | None = yield ("get", key.entry_id)
        found = self._exact(served)
        if found is None and plan.semantic:
            if self._calibration is not None and not self._calibration.loaded:
                yield ("calibration_load",)
            vector = yield ("embed", key.query_text)
            candidates: list[Candidate] = yield ("search", key.scope, vector, self._lowest())
            found, chosen = self._judge(plan, candidates)
            served = chosen.entry if chosen is not None else None
        elif found is None:
            found = (CacheLookup(outcome="miss"), None)
        if found[0].hit is not None and served is not None:
            yield ("touch", served.entry_id, self._refreshed_expiry(served))
        return found

    def _update_flow(
        self,
        plan: _Plan,
        payload: str,
        ttl: float | None,
        tags: tuple[str, ...],
        fresh: Sequence[Generation] = (),
    ) -> Generator[_Op, Any, None]:
        vector = (yield ("embed", plan.key.query_text)) if plan.semantic else None
        yield ("put", self._entry(plan.key, payload, vector, ttl, tags))
        calib = self._calibration
        if calib is None:
            return
        # A band candidate (evidence on the threshold) and a candidate refused for one word
        # pair (evidence on the pair) are both judged against the fresh answer.
        pending = calib.take(plan.key.entry_id)
        if pending is not None:
            record = functools.partial(calib.record, pending)
            yield from self._evidence_flow(pending.group, pending.payload, fresh, record)
        words = calib.take_words(plan.key.entry_id)
        if words is not None:
            record = functools.partial(calib.record_words, words)
            yield from self._evidence_flow(words.group, words.payload, fresh, record)

    def _evidence_flow(
        self,
        group: str,
        payload: str,
        fresh: Sequence[Generation],
        record: Callable[[bool], bool],
    ) -> Generator[_Op, Any, None]:
        """Judge the fresh answer against a cached one, record it, save the group's state."""
        calib = self._calibration
        if calib is None:
            return
        same = yield from self._same_flow(payload, fresh)
        if same is not None and record(same):
            yield ("calibration_save", group, calib.dump(group))

    def _same_flow(
        self, payload: str, fresh: Sequence[Generation]
    ) -> Generator[_Op, Any, bool | None]:
        """Whether the fresh answer and a cached one are equivalent (``None``: unknown)."""
        calib = self._calibration
        if calib is None:
            return None
        new, old = answer_form(fresh), answer_form(loads_generations(payload))
        if calib.config.judge is not None:
            same = yield ("judge", new.text, old.text)
        else:
            same = calib.equivalent_without_embeddings(new, old)
            if same is None:
                a = yield ("embed", new.text[: self.max_embed_chars])
                b = yield ("embed", old.text[: self.max_embed_chars])
                same = float(np.dot(a, b)) >= calib.config.answer_similarity
        return None if same is None else bool(same)

    def _calibration_step(self, op: _Op) -> Any:
        """The I/O of calibration ops on the sync path (``None`` for an op of another kind)."""
        calib, store = self._calibration, self.backend
        kind = op[0]
        if calib is None or not kind.startswith(("calibration_", "judge")):
            return None
        if kind == "judge":
            return calib.judge(op[1], op[2])
        if not isinstance(store, CalibrationStore):
            calib.load({})  # a backend without state storage: evidence lives in memory only
            return True
        if kind == "calibration_load":
            calib.load(store.calibration_states())
        else:
            store.save_calibration_state(op[1], op[2])
        return True

    def _step(self, op: _Op) -> Any:
        kind = op[0]
        if kind.startswith(("calibration_", "judge")):
            return self._calibration_step(op)
        if kind == "embed":
            return self._embed(op[1])
        if kind == "get":
            return self.backend.get(op[1], now=time.time())
        if kind == "search":
            return self.backend.search_candidates(
                op[1], op[2], now=time.time(), k=self.max_candidates, min_similarity=op[3]
            )
        if kind == "touch":
            return self.backend.touch(op[1], now=time.time(), expires_at=op[2])
        return self.backend.put(op[1])

    async def _astep(self, op: _Op) -> Any:
        kind = op[0]
        if kind.startswith(("calibration_", "judge")):
            return await asyncio.to_thread(self._calibration_step, op)
        if kind == "embed":
            return await self._aembed(op[1])
        if kind == "get":
            return await self.backend.aget(op[1], now=time.time())
        if kind == "search":
            return await self.backend.asearch_candidates(
                op[1], op[2], now=time.time(), k=self.max_candidates, min_similarity=op[3]
            )
        if kind == "touch":
            return await self.backend.atouch(op[1], now=time.time(), expires_at=op[2])
        return await self.backend.aput(op[1])

    def _drive(self, flow: Generator[_Op, Any, T]) -> tuple[T, float]:
        """Run a flow with sync I/O; return its result and the milliseconds spent embedding.

        A step that fails open is thrown into the flow, which decides what it means.
        """
        run = _Run(flow)
        while (op := run.next()) is not None:
            try:
                run.done(self._step(op))
            except _FAIL_OPEN as exc:
                run.failed(exc)
        return run.result, run.embed_ms

    async def _adrive(self, flow: Generator[_Op, Any, T]) -> tuple[T, float]:
        """:meth:`_drive` with async I/O (embedding in a worker thread, async Redis client)."""
        run = _Run(flow)
        while (op := run.next()) is not None:
            try:
                run.done(await self._astep(op))
            except _FAIL_OPEN as exc:
                run.failed(exc)
        return run.result, run.embed_ms

    def _guarded_lookup(self, plan: _Plan) -> Generator[_Op, Any, tuple[_Found | Exception, float]]:
        """The lookup flow, failing open: its result (or the failure) and when it started."""
        t0 = time.perf_counter()
        try:
            return (yield from self._lookup_flow(plan)), t0
        except _FAIL_OPEN as exc:
            return exc, t0

    def _guarded_update(
        self,
        plan: _Plan | CacheLookup,
        return_val: Sequence[Generation],
        ttl: float | None,
        entry_tags: tuple[str, ...],
    ) -> Generator[_Op, Any, None]:
        """The update flow, failing open (a dropped update is logged and counted)."""
        if isinstance(plan, CacheLookup):
            return
        try:
            payload = dumps_generations(return_val)
            yield from self._update_flow(plan, payload, ttl, entry_tags, return_val)
        except _FAIL_OPEN as exc:
            self._fail("update", exc)
            self._count(errors=1)
            return
        self._count(updates=1)

    def _finish(
        self, found: _Found | Exception, embed_ms: float, t0: float
    ) -> tuple[CacheLookup, list[Generation] | None]:
        if isinstance(found, Exception):
            result, generations = self._fail("lookup", found), None
        else:
            result, generations = found
        total = (time.perf_counter() - t0) * 1000
        result = replace(result, embedding_ms=embed_ms, search_ms=max(total - embed_ms, 0.0))
        self._record(result)
        return result, generations

    # ------------------------------------------------------------------ sync API

    def lookup_detailed(
        self, prompt: str, llm_string: str
    ) -> tuple[CacheLookup, list[Generation] | None]:
        """Look up a prompt and return the full account with the generations.

        Raises:
            TypeError: ``prompt`` or ``llm_string`` is not a ``str``.
        """
        return self._lookup_planned(self._plan(prompt, llm_string))

    def _lookup_planned(
        self, plan: _Plan | CacheLookup
    ) -> tuple[CacheLookup, list[Generation] | None]:
        if isinstance(plan, CacheLookup):
            self._record(plan)
            return plan, None
        (found, t0), embed_ms = self._drive(self._guarded_lookup(plan))
        return self._finish(found, embed_ms, t0)

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Return cached generations for the prompt, or ``None`` on a miss."""
        return self.lookup_detailed(prompt, llm_string)[1]

    def update(
        self,
        prompt: str,
        llm_string: str,
        return_val: RETURN_VAL_TYPE,
        *,
        ttl: float | None = None,
        tags: Sequence[str] | None = None,
    ) -> None:
        """Store generations for the prompt (dropped with a warning if the backend fails).

        LangChain passes no ``ttl`` or ``tags``: for its calls use
        :func:`~langchain_tokenopt.cache.cache_entry_options` or the run's ``cache_ttl`` /
        ``cache_tags`` metadata.

        Args:
            prompt: The prompt, as LangChain passes it.
            llm_string: The model identity, as LangChain passes it.
            return_val: The generations to store.
            ttl: Lifetime of this entry in seconds; before the enclosing
                ``cache_entry_options``, the run's ``cache_ttl`` and the cache's ``ttl``. The
                optimized agent passes the smallest lifetime of the cacheable tools a turn
                used.
            tags: Labels for ``clear(tags=...)``, added to those of the context.

        Raises:
            TokenOptConfigError: ``ttl`` is not a positive number or a tag is invalid.
        """
        ttl, entry_tags = self._write_options(ttl, tags)
        self._drive(
            self._guarded_update(self._plan(prompt, llm_string), return_val, ttl, entry_tags)
        )

    # ------------------------------------------------------------------ typed requests

    def lookup_request(self, key: RequestKey, /) -> CacheAnswer:
        """Look up a typed request (what the optimized agent calls; no ``llm_string``).

        Same decisions as :meth:`lookup_detailed`; ``key.caller`` (when set) replaces the
        current :func:`~langchain_tokenopt.cache.cache_scope`.

        Raises:
            TypeError: ``key`` is not a :class:`~langchain_tokenopt.cache.keys.RequestKey`.

        Example:
            .. code-block:: python

                answer = cache.lookup_request(key)
                answer.layer  # "exact", "semantic" or None
        """
        return _answer(*self._lookup_planned(self._plan_request(key)))

    async def alookup_request(self, key: RequestKey, /) -> CacheAnswer:
        """Async :meth:`lookup_request` (admitted like :meth:`alookup_detailed`)."""
        async with self.backend.admit():
            return _answer(*await self._alookup_planned(self._plan_request(key)))

    def update_request(
        self, key: RequestKey, generations: Sequence[Generation], /, *, ttl: float | None = None
    ) -> bool:
        """Store generations for a typed request (see :meth:`update`); always accepts them.

        Raises:
            TokenOptConfigError: ``ttl`` is not a positive number.
        """
        ttl, entry_tags = self._write_options(ttl, None)
        self._drive(self._guarded_update(self._plan_request(key), generations, ttl, entry_tags))
        return True

    async def aupdate_request(
        self, key: RequestKey, generations: Sequence[Generation], /, *, ttl: float | None = None
    ) -> bool:
        """Async :meth:`update_request` (admitted like :meth:`aupdate`)."""
        ttl, entry_tags = self._write_options(ttl, None)
        async with self.backend.admit():
            await self._adrive(
                self._guarded_update(self._plan_request(key), generations, ttl, entry_tags)
            )
        return True

    def clear(self, **kwargs: Any) -> None:
        """Delete entries: all, or by tenant / user / model / configuration / tags.

        Args:
            **kwargs: ``tenant_id`` (with optional ``user_id``) clears one tenant or user;
                ``model`` clears one model name (e.g. ``"gpt-4o-mini"``); ``llm_string``
                clears one exact model configuration; ``tags=["pricing"]`` clears entries
                carrying any of the tags. Given together, an entry must match all of them.
                No argument clears everything.

        Raises:
            TokenOptConfigError: an unknown keyword, ``user_id`` without ``tenant_id``, or
                ``tags=[]``.
        """
        self.backend.clear(**clear_filters(kwargs))

    async def aclear(self, **kwargs: Any) -> None:
        """Async :meth:`clear`."""
        await self.backend.aclear(**clear_filters(kwargs))

    def entries(self, *, limit: int | None = 100, **kwargs: Any) -> list[StoredEntry]:
        """List stored, live entries with their hit counts, newest first.

        Args:
            limit: Most entries returned (``None``: all; on Redis every match is read).
            **kwargs: Filters as for :meth:`clear` (``tenant_id``, ``user_id``, ``model``,
                ``llm_string``, ``tags``); none lists every entry.

        Returns:
            One :class:`~langchain_tokenopt.cache.StoredEntry` per entry (no answer text).

        Raises:
            TokenOptConfigError: a filter is invalid, or ``limit`` is not a positive int.

        Example:
            .. code-block:: python

                for e in cache.entries(tenant_id="acme"):
                    print(e.hits, e.text)
        """
        return self.backend.entries(
            now=time.time(), limit=_check_limit(limit), **clear_filters(kwargs, action="entries")
        )

    async def aentries(self, *, limit: int | None = 100, **kwargs: Any) -> list[StoredEntry]:
        """Async :meth:`entries`."""
        return await self.backend.aentries(
            now=time.time(), limit=_check_limit(limit), **clear_filters(kwargs, action="entries")
        )

    def entry_id(self, prompt: str, llm_string: str) -> str:
        """Return the id an entry for this prompt has in the current scope."""
        _check_prompt(prompt, llm_string)
        return build_key(
            prompt, llm_string, current_caller_scope(), history_policy=self.history_policy
        ).entry_id

    def delete(self, entry_id: str) -> bool:
        """Delete one entry (e.g. a bad answer, by ``CacheHit.entry_id``); True if it existed."""
        return self.backend.delete(check_entry_id(entry_id))

    async def adelete(self, entry_id: str) -> bool:
        """Async :meth:`delete`."""
        return await self.backend.adelete(check_entry_id(entry_id))

    def stats(self) -> CacheStats:
        """Return a snapshot of the counters."""
        calibration = self._calibration_snapshot()
        with self._lock:
            counters = dict(self._counters)
            counters["rejections_by_reason"] = dict(counters["rejections_by_reason"])
            counters["calibration"] = calibration
            return CacheStats(**counters)

    def _calibration_snapshot(self) -> dict[str, TenantCalibration]:
        calib = self._calibration
        if calib is None:
            return {}
        if not calib.loaded:
            try:
                self._calibration_step(("calibration_load",))
            except _FAIL_OPEN as exc:
                self._fail("calibration load", exc)
        return calib.snapshot()

    def reset_calibration(self, *, tenant_id: str | None = None) -> None:
        """Forget the learned threshold of one tenant, or of every tenant (``None``).

        With ``OnlineCalibration(pool="cache")`` the tenants share one state: resetting
        any tenant resets it.

        The tenant goes back to ``similarity_threshold`` and learns again from new evidence;
        its stored state is deleted from the backend too.

        Example:
            .. code-block:: python

                cache.reset_calibration(tenant_id="acme")
        """
        group = None if tenant_id is None else digest("tenant", str(tenant_id))
        if self._calibration is not None and group is not None:
            group = self._calibration.group(group)
        if self._calibration is not None:
            self._calibration.forget(group)
        if isinstance(self.backend, CalibrationStore):
            self.backend.delete_calibration_state(group)

    async def areset_calibration(self, *, tenant_id: str | None = None) -> None:
        """Async :meth:`reset_calibration`."""
        await asyncio.to_thread(self.reset_calibration, tenant_id=tenant_id)

    def reset_stats(self) -> None:
        """Zero the counters."""
        with self._lock:
            self._counters = _zero_counters()

    def close(self) -> None:
        """Release the backend (file lock, connections)."""
        self.backend.close()

    # ------------------------------------------------------------------ async API

    async def alookup_detailed(
        self, prompt: str, llm_string: str
    ) -> tuple[CacheLookup, list[Generation] | None]:
        """Async :meth:`lookup_detailed`; embedding runs in a worker thread.

        The call first waits for the backend's admission (a bound on concurrent calls on
        Redis), so a burst queues instead of overrunning timeouts.
        """
        _check_prompt(prompt, llm_string)
        async with self.backend.admit():
            return await self._alookup_planned(self._plan(prompt, llm_string))

    async def _alookup_planned(
        self, plan: _Plan | CacheLookup
    ) -> tuple[CacheLookup, list[Generation] | None]:
        if isinstance(plan, CacheLookup):
            self._record(plan)
            return plan, None
        (found, t0), embed_ms = await self._adrive(self._guarded_lookup(plan))
        return self._finish(found, embed_ms, t0)

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Async :meth:`lookup`."""
        return (await self.alookup_detailed(prompt, llm_string))[1]

    async def aupdate(
        self,
        prompt: str,
        llm_string: str,
        return_val: RETURN_VAL_TYPE,
        *,
        ttl: float | None = None,
        tags: Sequence[str] | None = None,
    ) -> None:
        """Async :meth:`update` (native async client on Redis; admitted like lookups)."""
        _check_prompt(prompt, llm_string)
        ttl, entry_tags = self._write_options(ttl, tags)
        async with self.backend.admit():
            await self._adrive(
                self._guarded_update(self._plan(prompt, llm_string), return_val, ttl, entry_tags)
            )


def _answer(result: CacheLookup, generations: list[Generation] | None) -> CacheAnswer:
    """The typed answer of a lookup: the generations and the layer that served them."""
    kind = result.hit.kind if result.hit is not None and generations else None
    return CacheAnswer(generations=generations or None, layer=kind)
