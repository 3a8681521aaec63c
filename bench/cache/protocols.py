"""The accuracy protocols of the cache bench: threshold curves, pairwise, shared index, follow-ups.

* pairwise: a cache holding only ``question1`` (a fresh scope per pair) is asked ``question2``;
* shared index: all ``question1`` in one scope, every ``question2`` asked; a hit returning
  another pair's entry is a wrong answer;
* follow-ups: each follow-up cached inside its conversation, then asked standalone and after
  another conversation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import Generation

from bench.cache.data import LLM_STRING, Precomputed, normalized, prompt_of, shown
from langchain_tokenopt.cache import (
    DEFAULT_SIMILARITY_THRESHOLD,
    NearMissVerifier,
    SemanticCache,
    cache_scope,
)

__all__ = [
    "Lookup",
    "Store",
    "anchor_followups",
    "curve",
    "ours_shared",
    "pair_decisions",
    "plot_curve",
    "recall_at_fhr",
    "rule_breakdown",
    "run_followups",
    "run_pairwise",
    "run_shared",
]

#: A cache's lookup for the shared index: question -> the stored answer, or ``None``.
Lookup = Callable[[str], "str | None"]
#: A cache's store for the shared index: (question, answer).
Store = Callable[[str, str], None]


def pair_decisions(
    pairs: Sequence[tuple[str, str, int]], emb: Precomputed, verifier: NearMissVerifier
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cosine per pair, verifier verdict per pair (query=q2, candidate=q1), labels."""
    a = emb.encode([normalized(p[0]) for p in pairs])
    b = emb.encode([normalized(p[1]) for p in pairs])
    sims = (a * b).sum(axis=1)
    ok = np.array(
        [
            verifier.verify(normalized(q2), normalized(q1), float(s)).accepted
            for (q1, q2, _), s in zip(pairs, sims, strict=True)
        ]
    )
    exact = np.array([normalized(q1) == normalized(q2) for q1, q2, _ in pairs])
    return np.where(exact, 1.0, sims), ok | exact, np.array([p[2] for p in pairs])


def curve(
    sims: np.ndarray, ok: np.ndarray, y: np.ndarray, thresholds: Sequence[float]
) -> list[dict[str, float]]:
    """Recall and false-hit rate per threshold, cosine alone and with the verifier."""
    rows = []
    for t in thresholds:
        plain = sims >= t
        verified = plain & ok
        rows.append(
            {
                "threshold": round(float(t), 3),
                "recall": float(plain[y == 1].mean()),
                "fhr": float(plain[y == 0].mean()),
                "recall_verified": float(verified[y == 1].mean()),
                "fhr_verified": float(verified[y == 0].mean()),
            }
        )
    return rows


def recall_at_fhr(rows: list[dict[str, float]], fhr: float, verified: bool) -> dict[str, float]:
    """The best recall of a curve whose false-hit rate is at most ``fhr`` (oracle threshold)."""
    key_r, key_f = ("recall_verified", "fhr_verified") if verified else ("recall", "fhr")
    ok = [r for r in rows if r[key_f] <= fhr]
    best = max(ok, key=lambda r: r[key_r]) if ok else {"threshold": 1.0, key_r: 0.0, key_f: 0.0}
    return {"threshold": best["threshold"], "recall": best[key_r], "fhr": best[key_f]}


def rule_breakdown(
    pairs: Sequence[tuple[str, str, int]], sims: np.ndarray, verifier: NearMissVerifier
) -> dict[str, list[int]]:
    """Verifier verdict (first failing rule) per label, on pairs at the default threshold."""
    counts: dict[str, list[int]] = {}
    for (q1, q2, label), sim in zip(pairs, sims, strict=True):
        if sim < DEFAULT_SIMILARITY_THRESHOLD or normalized(q1) == normalized(q2):
            continue
        verdict = verifier.verify(normalized(q2), normalized(q1), float(sim))
        key = "accepted" if verdict.accepted else verdict.reason.split(":")[0]
        counts.setdefault(key, [0, 0])[label] += 1
    return dict(sorted(counts.items()))


def run_pairwise(cache: SemanticCache, pairs: Sequence[tuple[str, str, int]]) -> dict[str, Any]:
    """The pairwise protocol through the real cache (one scope per pair)."""
    hits = np.zeros(len(pairs), dtype=bool)
    for i, (q1, q2, _) in enumerate(pairs):
        with cache_scope(tenant_id=f"pair-{i}"):
            cache.update(prompt_of(q1), LLM_STRING, [Generation(text=str(i))])
            hits[i] = cache.lookup(prompt_of(q2), LLM_STRING) is not None
    y = np.array([p[2] for p in pairs])
    n_hits = int(hits.sum())
    return {
        "recall": float(hits[y == 1].mean()),
        "fhr": float(hits[y == 0].mean()),
        "precision": float(hits[y == 1].sum() / n_hits) if n_hits else 0.0,
        "stats": cache.stats().__dict__,
    }


def run_shared(
    lookup: Lookup, store: Store, pairs: Sequence[tuple[str, str, int]]
) -> dict[str, Any]:
    """All question1 stored once (answer = the question itself), every question2 asked."""
    for q1 in dict.fromkeys(p[0] for p in pairs):
        store(q1, q1)
    correct = wrong_dup = wrong_nondup = 0
    wrong: list[dict[str, Any]] = []
    for q1, q2, label in pairs:
        got = lookup(q2)
        if got is None:
            continue
        if label == 1 and got == q1:
            correct += 1
        else:
            if label == 1:
                wrong_dup += 1
            else:
                wrong_nondup += 1
            wrong.append({"asked": q2, "served_for": got, "pair_question1": q1, "label": label})
    n_pos = sum(1 for p in pairs if p[2] == 1)
    n_neg = len(pairs) - n_pos
    served = correct + wrong_dup + wrong_nondup
    return {
        "recall": correct / n_pos if n_pos else 0.0,
        "fhr": wrong_nondup / n_neg if n_neg else 0.0,
        "wrong_on_duplicates": wrong_dup,
        "precision": correct / served if served else 0.0,
        "hits": served,
        "wrong_examples": wrong,
    }


def ours_shared(cache: SemanticCache) -> tuple[Lookup, Store]:
    """Our cache's lookup and store for :func:`run_shared`."""

    def lookup(q: str) -> str | None:
        got = cache.lookup(prompt_of(q), LLM_STRING)
        return got[0].text if got else None

    def store(q: str, answer: str) -> None:
        cache.update(prompt_of(q), LLM_STRING, [Generation(text=answer)])

    return lookup, store


def run_followups(cache: SemanticCache, records: list[dict[str, str]]) -> dict[str, Any]:
    """Each follow-up cached inside its conversation, then asked standalone and elsewhere.

    With ``history_policy="standalone"`` a follow-up that reads as self-contained is stored
    without its conversation on purpose; ``other_conversation_hits`` lists those served in
    another conversation so they can be read (a self-contained question has one answer).
    """
    convs = [[HumanMessage(r["Main Query"]), AIMessage(r["Main Query Response"])] for r in records]
    for i, r in enumerate(records):
        cache.update(
            prompt_of(r["Follow-Up Query"], convs[i]), LLM_STRING, [Generation(text=f"f{i}")]
        )
        cache.update(prompt_of(r["Main Query"]), LLM_STRING, [Generation(text=f"m{i}")])
    other = standalone = own = 0
    crossed: list[dict[str, str]] = []
    for i, r in enumerate(records):
        j = (i + 1) % len(records)
        got = cache.lookup(prompt_of(r["Follow-Up Query"], convs[j]), LLM_STRING)
        other += got is not None
        if got is not None:
            crossed.append(
                {
                    "follow_up": r["Follow-Up Query"],
                    "own_main_query": r["Main Query"],
                    "asked_after": records[j]["Main Query"],
                    "served": got[0].text,
                }
            )
        got = cache.lookup(prompt_of(r["Follow-Up Query"]), LLM_STRING)
        standalone += got is not None
        got = cache.lookup(prompt_of(r["Follow-Up Query"], convs[i]), LLM_STRING)
        own += got is not None
    return {
        "n": len(records),
        "hits_in_other_conversation": other,
        "followup_hits_standalone": standalone,
        "hits_in_own_conversation": own,
        "other_conversation_hits": crossed,
    }


def anchor_followups(
    check: Callable[[str], bool], store: Store, records: list[dict[str, str]]
) -> int:
    """Anchors key on the last message: a follow-up stored once hits in any conversation."""
    for i, r in enumerate(records):
        store(r["Main Query"], f"m{i}")
    return sum(1 for r in records if check(r["Follow-Up Query"]))


def plot_curve(rows: list[dict[str, float]], path: Path, title: str) -> str:
    """Recall against false-hit rate, cosine alone and with the verifier (a PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot(
        [r["fhr"] * 100 for r in rows], [r["recall"] for r in rows], "o-", ms=3, label="cosine only"
    )
    ax.plot(
        [r["fhr_verified"] * 100 for r in rows],
        [r["recall_verified"] for r in rows],
        "o-",
        ms=3,
        label="cosine + verifier",
    )
    ax.set_xlabel("false-hit rate on non-duplicates (%)")
    ax.set_ylabel("recall on duplicates")
    ax.set_xlim(0, 25)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return shown(path)
