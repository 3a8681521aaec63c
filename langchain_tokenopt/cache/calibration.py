"""Online per-tenant calibration of the similarity threshold, with a bound on the error rate.

The packaged threshold (``DEFAULT_SIMILARITY_THRESHOLD``) is set on general paraphrase
data; a deployment's own traffic often separates better, so that threshold blocks honest
paraphrases. With ``SemanticCache(calibration="online")`` each tenant (or, with
``pool="cache"``, the whole cache) learns a lower threshold from its own evidence, after
the idea of vCache (arXiv 2502.03771; written from the paper, not its code): learn how
often a candidate of a given similarity has an equivalent answer, explore a small share,
and serve only where a confidence bound allows it.

1. Every semantic lookup of a group is a **request** (the denominator). A best candidate
   whose similarity falls in the **band** ``[floor, similarity_threshold)`` and that the
   near-miss verifier accepts is counted in its similarity bin (width 0.01).
2. Below the group's current threshold, or when drawn for **exploration**, such a
   candidate is *not* served: the lookup is a miss and the candidate is remembered. When
   the fresh answer arrives (``update``) it is compared with the candidate's cached answer
   (exact match for structured output and tool calls, cosine of the two answers'
   embeddings otherwise, or the user's ``judge(fresh, cached) -> bool``) and the outcome
   is recorded in the bin.
3. **What is bounded**: the *per-request* error that the lowered threshold adds, i.e. the
   share of the group's semantic lookups served a cached answer that is not equivalent
   while the similarity was below ``similarity_threshold``. For a threshold ``t`` it is
   estimated as ``sum over bins >= t of (band candidates in the bin) x (error rate of the
   bin's compared answers) / requests``; bins with candidates but no comparison count as
   all wrong. Its one-sided Wilson upper bound (confidence ``confidence``; when bins were
   compared at different rates, on the Kish effective sample size, an approximation) must
   be at most ``max_error_rate``. The effective threshold is the lowest bin edge
   ``>= floor`` that passes; without evidence it stays at ``similarity_threshold``.
   Candidates at or above ``similarity_threshold`` are served as without calibration and
   are outside the bound. The bound assumes the traffic it learned from is like the
   traffic it serves (exploration keeps checking that: a wrong answer found there raises
   the threshold again). With a zero-error record, a 1 % bound at 95 % needs about 270
   requests of a group: ``pool="cache"`` lets tenants of one application share evidence.
4. Candidates between the effective and the configured threshold are served, except an
   ``exploration`` share that is still looked up as a miss and compared.
5. **Learnt word equivalences** (``word_confirmations``): a candidate (at or above
   ``floor``) that the verifier refused only because one content word on each side is
   unrelated in its lexicon ("shipping" / "delivery") is remembered too; when the fresh
   answer arrives, equivalent answers count as one confirmation of that word pair for the
   group (a distinct question pair each time), different answers veto it for good. A pair
   with ``word_confirmations`` confirmations and no veto explains that word difference in
   the group's later lookups, and nothing else: negation, numbers, antonyms, roles and
   every other check still apply, and a served or compared candidate accepted through a
   learnt pair whose answer then differs vetoes the pair. Learnt pairs are kept with the
   group's state (they survive restarts) and are never shared across tenants unless
   ``pool="cache"``. They widen what the verifier accepts, not the threshold: the bound
   above still decides what is served below ``similarity_threshold``.

The near-miss verifier stays in force at every threshold: a candidate it rejects is never
served and never observed.

Example:
    .. code-block:: python

        from langchain_tokenopt.cache import OnlineCalibration, SemanticCache

        cache = SemanticCache(calibration=OnlineCalibration(max_error_rate=0.01))
        ...
        print(cache.stats().calibration)  # {"acme": TenantCalibration(threshold=0.88, ...)}
        cache.reset_calibration(tenant_id="acme")
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal, Protocol, runtime_checkable

from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from langchain_tokenopt.cache.records import TenantCalibration
from langchain_tokenopt.errors import TokenOptConfigError

__all__ = [
    "AnswerJudge",
    "CalibrationStore",
    "OnlineCalibration",
    "TenantCalibrator",
    "answer_form",
    "calibrated_threshold",
    "wilson_upper",
]

logger = logging.getLogger(__name__)

#: Width of a similarity bin (observations are kept as counts per bin).
BIN_WIDTH = 0.01
_STATE_VERSION = 3
#: Word pairs with evidence kept per group (further new pairs are not recorded).
_MAX_WORD_PAIRS = 2048
#: The group of every tenant when evidence is pooled cache-wide (``pool="cache"``).
_POOLED_GROUP = "*"
_PENDING = 4096
_JSON_START = ("{", "[")

#: ``judge(fresh_answer, cached_answer) -> bool``: whether the cached answer would do.
AnswerJudge = Callable[[str, str], bool]


@runtime_checkable
class CalibrationStore(Protocol):
    """Where a backend keeps calibration state (``LocalBackend`` and ``RedisBackend`` do)."""

    def calibration_states(self) -> dict[str, str]:
        """Return every stored state, by key."""
        ...

    def save_calibration_state(self, key: str, state: str) -> None:
        """Insert or replace one state."""
        ...

    def delete_calibration_state(self, key: str | None = None) -> None:
        """Delete one state, or all of them (``None``)."""
        ...


def _check_rate(name: str, value: object, *, low: float, high: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or not low <= value <= high
    ):
        msg = f"{name} must be a number in [{low}, {high}], got {value!r}"
        raise TokenOptConfigError(msg)
    return float(value)


@dataclass(frozen=True)
class OnlineCalibration:
    """Settings of online per-tenant threshold calibration (``SemanticCache(calibration=...)``).

    ``calibration="online"`` is ``OnlineCalibration()``. What ``max_error_rate`` bounds is
    the share of a tenant's (or, with ``pool="cache"``, the cache's) semantic lookups served
    a non-equivalent answer below ``similarity_threshold``, at ``confidence``; see
    :mod:`langchain_tokenopt.cache.calibration`.

    Raises:
        TokenOptConfigError: a value is out of range, ``pool`` is unknown or ``judge`` is
            not callable.

    Example:
        .. code-block:: python

            SemanticCache(calibration=OnlineCalibration(max_error_rate=0.02, floor=0.6))
            SemanticCache(calibration=OnlineCalibration(pool="cache"))  # tenants share
    """

    max_error_rate: float = 0.01
    """Bound on the share of a group's semantic lookups served a non-equivalent answer below
    the configured threshold (per request; see the module docstring)."""
    confidence: float = 0.95
    """One-sided confidence of the Wilson upper bound on the error rate."""
    floor: float = 0.5
    """Lowest threshold a tenant can reach; candidates below it are never observed."""
    exploration: float = 0.1
    """Share of would-be hits below the configured threshold still looked up as misses."""
    answer_similarity: float = 0.9
    """Cosine the two answers' embeddings need to count as equivalent (free-text answers)."""
    judge: AnswerJudge | None = None
    """Optional ``judge(fresh, cached) -> bool`` replacing the built-in comparison."""
    seed: int | None = None
    """Seed of the exploration draws (``None``: unseeded)."""
    pool: Literal["tenant", "cache"] = "tenant"
    """Whose evidence a threshold rests on: each tenant's own (``"tenant"``), or every
    tenant's together (``"cache"``: one threshold for all, learnt faster; for tenants of one
    application with alike traffic)."""
    word_confirmations: int = 2
    """Distinct question pairs with equivalent answers (and none with different ones) after
    which a group's verifier explains a word pair its lexicon does not relate (see the
    module docstring); ``0`` learns none."""

    def __post_init__(self) -> None:
        _check_rate("max_error_rate", self.max_error_rate, low=0.0, high=1.0)
        _check_rate("confidence", self.confidence, low=0.5, high=0.999999)
        _check_rate("floor", self.floor, low=-1.0, high=1.0)
        _check_rate("exploration", self.exploration, low=0.0, high=1.0)
        _check_rate("answer_similarity", self.answer_similarity, low=-1.0, high=1.0)
        if self.judge is not None and not callable(self.judge):
            msg = f"judge must be a callable judge(fresh, cached) -> bool, got {self.judge!r}"
            raise TokenOptConfigError(msg)
        if self.pool not in ("tenant", "cache"):
            msg = f"pool must be 'tenant' or 'cache', got {self.pool!r}"
            raise TokenOptConfigError(msg)
        n = self.word_confirmations
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            msg = f"word_confirmations must be an int >= 0 (0 = off), got {n!r}"
            raise TokenOptConfigError(msg)
        seed = self.seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            msg = f"seed must be an int or None, got {self.seed!r}"
            raise TokenOptConfigError(msg)


def wilson_upper(errors: float, n: float, confidence: float) -> float:
    """One-sided Wilson score upper bound on a proportion (1.0 without observations).

    ``errors`` and ``n`` may be effective (non-integer) counts.
    """
    if n <= 0:
        return 1.0
    z = NormalDist().inv_cdf(confidence)
    p = min(max(errors / n, 0.0), 1.0)
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return min(1.0, (centre + spread) / (1 + z2 / n))


def _bin(similarity: float) -> int:
    return math.floor(similarity / BIN_WIDTH + 1e-9)


def calibrated_threshold(
    bins: dict[int, tuple[int, int, int]],
    requests: int,
    *,
    base: float,
    floor: float,
    max_error_rate: float,
    confidence: float,
) -> tuple[float, int, int, float]:
    """Return the effective threshold and the evidence for it (pure).

    Args:
        bins: ``{bin: (candidates, compared, errors)}``; bin ``b`` holds similarities in
            ``[b * BIN_WIDTH, (b + 1) * BIN_WIDTH)``: the verifier-accepted band candidates
            that fell in it, how many of them had their answer compared, and how many of
            those were not equivalent.
        requests: The group's semantic lookups (the denominator of the per-request error).
        base: The configured threshold (returned without enough evidence).
        floor: The lowest threshold allowed.
        max_error_rate: Bound on the upper confidence bound of the per-request error.
        confidence: One-sided confidence of the bound.

    Returns:
        ``(threshold, compared, errors, bound)``: the compared candidates and errors at or
        above the threshold and the upper bound on the per-request error it adds (``1.0``
        when not lowered).

    Example:
        .. code-block:: python

            calibrated_threshold({80: (30, 30, 0)}, 300, base=0.93, floor=0.5,
                                 max_error_rate=0.01, confidence=0.95)[0]  # 0.8
    """
    best = (base, 0, 0, 1.0)
    seen = compared = wrong = 0
    estimated = design = 0.0
    for b in sorted((b for b in bins if b * BIN_WIDTH < base), reverse=True):
        edge = round(b * BIN_WIDTH, 6)
        if edge < floor - 1e-9:
            break
        m, n, k = bins[b]
        if m <= 0:
            continue
        seen, compared, wrong = seen + m, compared + n, wrong + k
        if n > 0:
            estimated += m * k / n
            design += m * m / n
        else:  # served, never compared: counted as wrong
            estimated += m
            design += m
        deff = max(design / seen, 1.0)
        total = max(requests, seen)
        bound = wilson_upper(estimated / deff, total / deff, confidence)
        if bound <= max_error_rate:
            best = (max(edge, floor), compared, wrong, bound)
    return best


@dataclass(frozen=True)
class _Answer:
    text: str
    structured: str | None


def _canonical_json(text: str) -> str | None:
    stripped = text.strip()
    if not stripped.startswith(_JSON_START):
        return None
    try:
        return json.dumps(json.loads(stripped), sort_keys=True)
    except ValueError:
        return None


def answer_form(generations: Sequence[Generation]) -> _Answer:
    """The text of an answer and, for structured output or tool calls, a canonical form."""
    texts: list[str] = []
    calls: list[dict[str, object]] = []
    structured = False
    for gen in generations:
        texts.append(gen.text)
        message = gen.message if isinstance(gen, ChatGeneration) else None
        if isinstance(message, AIMessage):
            extra = message.additional_kwargs
            for call in message.tool_calls:
                calls.append({"name": call["name"], "args": call["args"]})
            structured = structured or bool(
                message.tool_calls
                or message.invalid_tool_calls
                or extra.get("function_call")
                or extra.get("tool_calls")
                or extra.get("parsed")
            )
            if extra.get("function_call") or (extra.get("tool_calls") and not message.tool_calls):
                calls.append({"raw": extra.get("function_call") or extra.get("tool_calls")})
    text = "\n".join(texts)
    as_json = _canonical_json(text)
    if structured or as_json is not None:
        canonical = json.dumps(
            {"text": as_json if as_json is not None else text.strip(), "calls": calls},
            sort_keys=True,
            default=str,
        )
        return _Answer(text, canonical)
    return _Answer(text, None)


@dataclass(frozen=True)
class _Pending:
    group: str
    label: str
    similarity: float
    payload: str
    learned: tuple[str, ...] = ()
    """Learnt word pairs the candidate was accepted through (vetoed on an error)."""


@dataclass(frozen=True)
class _WordsPending:
    """A candidate refused for one unrelated word pair, waiting for the fresh answer."""

    group: str
    label: str
    key: str
    pair: str
    payload: str


class TenantCalibrator:
    """Per-group evidence and thresholds of one :class:`SemanticCache` (thread-safe).

    Internal to the cache: it holds no I/O; the cache loads and saves the states it returns.
    A group is a tenant's digest, or ``"*"`` with ``pool="cache"``.

    Args:
        config: The calibration settings.
        base: The cache's configured similarity threshold.
    """

    def __init__(self, config: OnlineCalibration, base: float) -> None:
        self.config = config
        self.base = base
        self.loaded = False
        self._lock = threading.Lock()
        self._bins: dict[str, dict[int, tuple[int, int, int]]] = {}
        self._requests: dict[str, int] = {}
        self._labels: dict[str, str] = {}
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._words_pending: OrderedDict[str, _WordsPending] = OrderedDict()
        # group -> word pair key -> the question pairs confirming it, or None once vetoed
        self._words: dict[str, dict[str, list[str] | None]] = {}
        # per group: learned(), dropped whenever the group's words change
        self._learned: dict[str, frozenset[str]] = {}
        self._random = random.Random(config.seed)

    @staticmethod
    def question_pair(query: str, candidate: str) -> str:
        """A short digest of an unordered pair of questions (one confirmation each)."""
        text = "\x00".join(sorted((query, candidate)))
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]

    def group(self, tenant: str) -> str:
        """The evidence group of a tenant digest."""
        return _POOLED_GROUP if self.config.pool == "cache" else tenant

    # ---------------------------------------------------------------- state

    def load(self, states: dict[str, str]) -> None:
        """Adopt the states read from the backend (corrupt ones are skipped with a warning)."""
        with self._lock:
            for group, raw in states.items():
                try:
                    data = json.loads(raw)
                    bins: dict[int, tuple[int, int, int]] = {}
                    for b, v in data["bins"].items():
                        # version 1 kept (compared, errors): every candidate was compared
                        m, n, k = (int(v[0]), int(v[0]), int(v[1])) if len(v) == 2 else v
                        bins[int(b)] = (int(m), int(n), int(k))
                    requests = int(data.get("requests", sum(v[0] for v in bins.values())))
                    words: dict[str, list[str] | None] = {
                        str(k): None if v is None else [str(x) for x in v]
                        for k, v in data.get("words", {}).items()
                    }
                except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
                    logger.warning("ignoring unreadable calibration state %r: %s", group, exc)
                    continue
                self._bins[group] = bins
                self._requests[group] = requests
                if words:
                    self._words[group] = words
            self._learned.clear()
            self.loaded = True

    def dump(self, group: str) -> str:
        """The state of one group as stored."""
        with self._lock:
            bins = self._bins.get(group, {})
            return json.dumps(
                {
                    "v": _STATE_VERSION,
                    "requests": self._requests.get(group, 0),
                    "bins": {str(b): list(v) for b, v in sorted(bins.items())},
                    "words": dict(sorted(self._words.get(group, {}).items())),
                }
            )

    def forget(self, group: str | None) -> None:
        """Drop the evidence of one group (``None``: all)."""
        with self._lock:
            if group is None:
                self._bins.clear()
                self._requests.clear()
                self._pending.clear()
                self._words.clear()
                self._words_pending.clear()
                self._learned.clear()
                return
            self._bins.pop(group, None)
            self._requests.pop(group, None)
            self._words.pop(group, None)
            self._learned.pop(group, None)
            for key in [k for k, p in self._pending.items() if p.group == group]:
                del self._pending[key]
            for key in [k for k, w in self._words_pending.items() if w.group == group]:
                del self._words_pending[key]

    # ---------------------------------------------------------------- decisions

    def _evidence(self, group: str) -> tuple[float, int, int, float]:
        cfg = self.config
        return calibrated_threshold(
            self._bins.get(group, {}),
            self._requests.get(group, 0),
            base=self.base,
            floor=cfg.floor,
            max_error_rate=cfg.max_error_rate,
            confidence=cfg.confidence,
        )

    def request(self, group: str) -> float:
        """Count one semantic lookup of a group; return the threshold for it.

        The threshold rests on the evidence from before this lookup.
        """
        with self._lock:
            threshold = self._evidence(group)[0]
            self._requests[group] = self._requests.get(group, 0) + 1
            return threshold

    def threshold(self, group: str) -> float:
        """The effective threshold of a group (the configured one without evidence)."""
        with self._lock:
            return self._evidence(group)[0]

    def in_band(self, similarity: float) -> bool:
        """Whether a similarity lies in the uncertain band ``[floor, configured threshold)``."""
        return self.config.floor <= similarity < self.base

    def seen(self, group: str, similarity: float) -> None:
        """Count a verifier-accepted band candidate (served or not) in its bin."""
        with self._lock:
            bins = self._bins.setdefault(group, {})
            b = _bin(similarity)
            m, n, k = bins.get(b, (0, 0, 0))
            bins[b] = (m + 1, n, k)

    def explore(self) -> bool:
        """Draw whether a would-be hit in the band is looked up as a miss instead."""
        with self._lock:
            return self._random.random() < self.config.exploration

    def expect(
        self,
        entry_id: str,
        group: str,
        label: str,
        similarity: float,
        payload: str,
        learned: tuple[str, ...] = (),
    ) -> None:
        """Remember a band candidate until the fresh answer for ``entry_id`` arrives."""
        with self._lock:
            self._pending[entry_id] = _Pending(group, label, similarity, payload, learned)
            self._pending.move_to_end(entry_id)
            while len(self._pending) > _PENDING:
                self._pending.popitem(last=False)

    def take(self, entry_id: str) -> _Pending | None:
        """Return and forget the candidate remembered for ``entry_id``, if any."""
        with self._lock:
            return self._pending.pop(entry_id, None)

    def record(self, pending: _Pending, equivalent: bool) -> bool:
        """Record one comparison (similarity, whether the answers were equivalent).

        Returns ``True``: the group's state changed (as :meth:`record_words` reports).
        """
        with self._lock:
            bins = self._bins.setdefault(pending.group, {})
            b = _bin(pending.similarity)
            m, n, k = bins.get(b, (0, 0, 0))
            bins[b] = (max(m, n + 1), n + 1, k + (0 if equivalent else 1))
            self._labels.setdefault(pending.group, pending.label)
            if not equivalent:
                for key in pending.learned:
                    self._veto(pending.group, key)
            return True

    # ---------------------------------------------------------------- learnt words

    def _veto(self, group: str, key: str) -> None:
        self._learned.pop(group, None)
        words = self._words.setdefault(group, {})
        if key in words and words[key] is not None:
            logger.info("calibration: word pair %r vetoed (answers differed)", key)
        words[key] = None

    def learned(self, group: str) -> frozenset[str]:
        """The word pairs a group's evidence explains (empty when learning is off)."""
        with self._lock:
            found = self._learned.get(group)
            if found is None:
                found = self._learned[group] = frozenset(self._learned_locked(group))
            return found

    def expect_words(
        self, entry_id: str, group: str, label: str, key: str, pair: str, payload: str
    ) -> None:
        """Remember a candidate refused for the unrelated word pair ``key`` (learning on).

        ``pair`` is :meth:`question_pair` of the query and the candidate.
        """
        if self.config.word_confirmations <= 0:
            return
        with self._lock:
            words = self._words.get(group, {})
            if words.get(key, ()) is None:
                return  # vetoed for good: nothing left to learn
            self._words_pending[entry_id] = _WordsPending(group, label, key, pair, payload)
            self._words_pending.move_to_end(entry_id)
            while len(self._words_pending) > _PENDING:
                self._words_pending.popitem(last=False)

    def take_words(self, entry_id: str) -> _WordsPending | None:
        """Return and forget the refused candidate remembered for ``entry_id``, if any."""
        with self._lock:
            return self._words_pending.pop(entry_id, None)

    def record_words(self, pending: _WordsPending, equivalent: bool) -> bool:
        """Record one confirmation (or a veto) of a word pair; return whether it changed."""
        need = self.config.word_confirmations
        with self._lock:
            self._labels.setdefault(pending.group, pending.label)
            words = self._words.setdefault(pending.group, {})
            seen = words.get(pending.key, [])
            if seen is None:
                return False
            if not equivalent:
                self._veto(pending.group, pending.key)
                return True
            if pending.pair in seen or len(seen) >= need:
                return False
            if pending.key not in words and len(words) >= _MAX_WORD_PAIRS:
                return False
            words[pending.key] = [*seen, pending.pair]
            self._learned.pop(pending.group, None)
            if len(seen) + 1 == need:
                logger.info("calibration: word pair %r learnt", pending.key)
            return True

    def label(self, group: str, label: str) -> None:
        """Remember the readable tenant id of a group (ids are hashed before storage)."""
        with self._lock:
            self._labels.setdefault(group, "*" if group == _POOLED_GROUP else label)

    def snapshot(self) -> dict[str, TenantCalibration]:
        """Every group's effective threshold and evidence, by tenant id (digest if unseen).

        With ``pool="cache"`` the one pooled group is listed under ``"*"``.
        """
        with self._lock:
            out: dict[str, TenantCalibration] = {}
            for group in dict.fromkeys([*self._bins, *self._words]):
                bins = self._bins.get(group, {})
                threshold, n, k, bound = self._evidence(group)
                label = "*" if group == _POOLED_GROUP else self._labels.get(group, group)
                out[label] = TenantCalibration(
                    tenant=label,
                    threshold=threshold,
                    observations=sum(v[1] for v in bins.values()),
                    errors=sum(v[2] for v in bins.values()),
                    supporting=n,
                    error_bound=bound,
                    requests=self._requests.get(group, 0),
                    candidates=sum(v[0] for v in bins.values()),
                    learned_words=tuple(sorted(self._learned_locked(group))),
                )
            return out

    def _learned_locked(self, group: str) -> list[str]:
        need = self.config.word_confirmations
        words = self._words.get(group, {})
        return [k for k, v in words.items() if need > 0 and v is not None and len(v) >= need]

    # ---------------------------------------------------------------- answers

    def equivalent_without_embeddings(self, fresh: _Answer, cached: _Answer) -> bool | None:
        """Decide equivalence when no embedding is needed (``None``: compare embeddings)."""
        if fresh.structured is not None or cached.structured is not None:
            return fresh.structured == cached.structured
        if fresh.text.strip() == cached.text.strip():
            return True
        if not fresh.text.strip() or not cached.text.strip():
            return False
        return None

    def judge(self, fresh: str, cached: str) -> bool | None:
        """Run the user's judge; ``None`` (no observation) when it fails."""
        judge = self.config.judge
        if judge is None:  # pragma: no cover - callers check first
            return None
        try:
            return bool(judge(fresh, cached))
        except Exception as exc:  # noqa: BLE001 - a user callable; fail open
            logger.warning("calibration judge failed, observation dropped: %s", exc)
            return None
