"""Online per-tenant calibration of the similarity threshold, with a bound on the error rate.

The packaged threshold (``DEFAULT_SIMILARITY_THRESHOLD``) is set on general paraphrase
data; a deployment's own traffic usually separates better, so that threshold blocks many
honest paraphrases. With ``SemanticCache(calibration="online")`` each tenant learns its own
threshold from evidence, after the idea of vCache (arXiv 2502.03771; written from the
paper, not its code):

1. A candidate whose similarity falls in the **uncertain band**
   ``[floor, similarity_threshold)`` and that the near-miss verifier accepts is *not*
   served: the lookup is a miss, as without calibration, and the candidate is remembered.
2. When the fresh answer for that prompt arrives (``update``), it is compared with the
   candidate's cached answer: exact match for structured output and tool calls, cosine of
   the two answers' embeddings (same embedder) otherwise, or the user's
   ``judge(fresh, cached) -> bool``. The outcome (similarity, equivalent?) is recorded for
   the tenant, in similarity bins stored in the backend (it survives restarts).
3. The tenant's effective threshold is the lowest bin edge ``s`` such that the one-sided
   Wilson upper confidence bound on the error rate of the observations with similarity
   ``>= s`` is at most ``max_error_rate``. Without evidence it stays at the cache's
   threshold; it never goes below ``floor``.
4. Candidates between the effective and the configured threshold are served, except an
   ``exploration`` share of them that is still treated as a miss, so the evidence keeps
   coming and a drift in the traffic raises the threshold again.

The near-miss verifier stays in force at every threshold: a candidate it rejects is never
served and never observed.

Example:
    .. code-block:: python

        from langchain_tokenopt.cache import OnlineCalibration, SemanticCache

        cache = SemanticCache(calibration=OnlineCalibration(max_error_rate=0.01))
        ...
        print(cache.stats().calibration)  # {"acme": TenantCalibration(threshold=0.71, ...)}
        cache.reset_calibration(tenant_id="acme")
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Protocol, runtime_checkable

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
_STATE_VERSION = 1
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

    ``calibration="online"`` is ``OnlineCalibration()``.

    Raises:
        TokenOptConfigError: a value is out of range or ``judge`` is not callable.

    Example:
        .. code-block:: python

            SemanticCache(calibration=OnlineCalibration(max_error_rate=0.02, floor=0.6))
    """

    max_error_rate: float = 0.01
    """Bound on the share of served band candidates whose answer is not equivalent."""
    confidence: float = 0.95
    """One-sided confidence of the Wilson upper bound on the error rate."""
    floor: float = 0.5
    """Lowest threshold a tenant can reach; candidates below it are never observed."""
    exploration: float = 0.05
    """Share of would-be hits below the configured threshold still looked up as misses."""
    answer_similarity: float = 0.9
    """Cosine the two answers' embeddings need to count as equivalent (free-text answers)."""
    judge: AnswerJudge | None = None
    """Optional ``judge(fresh, cached) -> bool`` replacing the built-in comparison."""
    seed: int | None = None
    """Seed of the exploration draws (``None``: unseeded)."""

    def __post_init__(self) -> None:
        _check_rate("max_error_rate", self.max_error_rate, low=0.0, high=1.0)
        _check_rate("confidence", self.confidence, low=0.5, high=0.999999)
        _check_rate("floor", self.floor, low=-1.0, high=1.0)
        _check_rate("exploration", self.exploration, low=0.0, high=1.0)
        _check_rate("answer_similarity", self.answer_similarity, low=-1.0, high=1.0)
        if self.judge is not None and not callable(self.judge):
            msg = f"judge must be a callable judge(fresh, cached) -> bool, got {self.judge!r}"
            raise TokenOptConfigError(msg)
        seed = self.seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            msg = f"seed must be an int or None, got {self.seed!r}"
            raise TokenOptConfigError(msg)


def wilson_upper(errors: int, n: int, confidence: float) -> float:
    """One-sided Wilson score upper bound on a proportion (1.0 without observations)."""
    if n <= 0:
        return 1.0
    z = NormalDist().inv_cdf(confidence)
    p = errors / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return min(1.0, (centre + spread) / (1 + z2 / n))


def _bin(similarity: float) -> int:
    return math.floor(similarity / BIN_WIDTH + 1e-9)


def calibrated_threshold(
    bins: dict[int, tuple[int, int]],
    *,
    base: float,
    floor: float,
    max_error_rate: float,
    confidence: float,
) -> tuple[float, int, int, float]:
    """Return the effective threshold and the evidence for it (pure).

    Args:
        bins: ``{bin: (observations, errors)}``; bin ``b`` holds similarities in
            ``[b * BIN_WIDTH, (b + 1) * BIN_WIDTH)``.
        base: The configured threshold (returned without enough evidence).
        floor: The lowest threshold allowed.
        max_error_rate: Bound on the upper confidence bound of the error rate.
        confidence: One-sided confidence of the bound.

    Returns:
        ``(threshold, observations, errors, bound)``: observations and errors at or above
        the threshold and the upper bound on their error rate (``1.0`` when not lowered).
    """
    best = (base, 0, 0, 1.0)
    n = k = 0
    for b in sorted((b for b in bins if b * BIN_WIDTH < base), reverse=True):
        edge = round(b * BIN_WIDTH, 6)
        if edge < floor - 1e-9:
            break
        seen, wrong = bins[b]
        n, k = n + seen, k + wrong
        bound = wilson_upper(k, n, confidence)
        if bound <= max_error_rate:
            best = (max(edge, floor), n, k, bound)
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


class TenantCalibrator:
    """Per-tenant evidence and thresholds of one :class:`SemanticCache` (thread-safe).

    Internal to the cache: it holds no I/O; the cache loads and saves the states it returns.

    Args:
        config: The calibration settings.
        base: The cache's configured similarity threshold.
    """

    def __init__(self, config: OnlineCalibration, base: float) -> None:
        self.config = config
        self.base = base
        self.loaded = False
        self._lock = threading.Lock()
        self._bins: dict[str, dict[int, tuple[int, int]]] = {}
        self._labels: dict[str, str] = {}
        self._thresholds: dict[str, float] = {}
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._random = random.Random(config.seed)

    # ---------------------------------------------------------------- state

    def load(self, states: dict[str, str]) -> None:
        """Adopt the states read from the backend (corrupt ones are skipped with a warning)."""
        with self._lock:
            for group, raw in states.items():
                try:
                    data = json.loads(raw)
                    bins = {int(b): (int(v[0]), int(v[1])) for b, v in data["bins"].items()}
                except (ValueError, KeyError, TypeError, IndexError) as exc:
                    logger.warning("ignoring unreadable calibration state %r: %s", group, exc)
                    continue
                self._bins[group] = bins
                self._thresholds.pop(group, None)
            self.loaded = True

    def dump(self, group: str) -> str:
        """The state of one group as stored."""
        with self._lock:
            bins = self._bins.get(group, {})
            return json.dumps(
                {"v": _STATE_VERSION, "bins": {str(b): list(v) for b, v in sorted(bins.items())}}
            )

    def forget(self, group: str | None) -> None:
        """Drop the evidence of one group (``None``: all)."""
        with self._lock:
            if group is None:
                self._bins.clear()
                self._thresholds.clear()
                self._pending.clear()
                return
            self._bins.pop(group, None)
            self._thresholds.pop(group, None)
            for key in [k for k, p in self._pending.items() if p.group == group]:
                del self._pending[key]

    # ---------------------------------------------------------------- decisions

    def _evidence(self, group: str) -> tuple[float, int, int, float]:
        cfg = self.config
        return calibrated_threshold(
            self._bins.get(group, {}),
            base=self.base,
            floor=cfg.floor,
            max_error_rate=cfg.max_error_rate,
            confidence=cfg.confidence,
        )

    def threshold(self, group: str) -> float:
        """The effective threshold of a group (the configured one without evidence)."""
        with self._lock:
            value = self._thresholds.get(group)
            if value is None:
                value = self._thresholds[group] = self._evidence(group)[0]
            return value

    def in_band(self, similarity: float) -> bool:
        """Whether a similarity lies in the uncertain band ``[floor, configured threshold)``."""
        return self.config.floor <= similarity < self.base

    def explore(self) -> bool:
        """Draw whether a would-be hit in the band is looked up as a miss instead."""
        with self._lock:
            return self._random.random() < self.config.exploration

    def expect(
        self, entry_id: str, group: str, label: str, similarity: float, payload: str
    ) -> None:
        """Remember a band candidate until the fresh answer for ``entry_id`` arrives."""
        with self._lock:
            self._pending[entry_id] = _Pending(group, label, similarity, payload)
            self._pending.move_to_end(entry_id)
            while len(self._pending) > _PENDING:
                self._pending.popitem(last=False)

    def take(self, entry_id: str) -> _Pending | None:
        """Return and forget the candidate remembered for ``entry_id``, if any."""
        with self._lock:
            return self._pending.pop(entry_id, None)

    def record(self, pending: _Pending, equivalent: bool) -> None:
        """Record one observation (similarity, whether the answers were equivalent)."""
        with self._lock:
            bins = self._bins.setdefault(pending.group, {})
            b = _bin(pending.similarity)
            seen, wrong = bins.get(b, (0, 0))
            bins[b] = (seen + 1, wrong + (0 if equivalent else 1))
            self._labels.setdefault(pending.group, pending.label)
            self._thresholds.pop(pending.group, None)

    def label(self, group: str, label: str) -> None:
        """Remember the readable tenant id of a group (ids are hashed before storage)."""
        with self._lock:
            self._labels.setdefault(group, label)

    def snapshot(self) -> dict[str, TenantCalibration]:
        """Every group's effective threshold and evidence, by tenant id (digest if unseen)."""
        with self._lock:
            out: dict[str, TenantCalibration] = {}
            for group, bins in self._bins.items():
                threshold, n, k, bound = self._evidence(group)
                label = self._labels.get(group, group)
                out[label] = TenantCalibration(
                    tenant=label,
                    threshold=threshold,
                    observations=sum(v[0] for v in bins.values()),
                    errors=sum(v[1] for v in bins.values()),
                    supporting=n,
                    error_bound=bound,
                )
            return out

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
