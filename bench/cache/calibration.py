"""Online threshold calibration replayed on two question streams (issue 22's targets).

Run from the repository root::

    python -m bench cache calibration                 # both streams, test splits
    python -m bench cache calibration --split dev     # tune knobs here only
    python -m bench cache calibration --stream own    # one stream
    python -m bench cache calibration --stream own --pool cache  # tenants share evidence
    python -m bench cache calibration --stream own --max-candidates 1  # nearest entry only
    python -m bench cache calibration --stream own --word-confirmations 0  # learn no words

The published figures (docs/benchmarks.md, ~5 min on 2 shared cores)::

    nice -n 5 python -m bench cache calibration --clusters 300 \
        --sweep 0.93,0.9,0.88,0.85,0.8,0.75,0.7,0.6 --verifier-audit   # and --split dev

``--sweep`` replays the same streams without calibration at fixed thresholds (what any single
per-tenant threshold reaches, in hindsight); ``--verifier-audit`` checks the near-miss
verifier pairwise inside each intent of the own stream.

Streams (each a real ``SemanticCache(calibration="online")`` on the packaged embedder and a
``LocalBackend`` in a temporary folder; the "LLM" answers from the stream):

* ``own`` (b): ``bench/data/calibration_stream.jsonl``, 76 hand-written intents over eight
  domains, each a question, five honest paraphrases (same answer) and two near misses (one
  word, role, number or polarity changed; their own answer). Split dev/test by intent. Each
  tenant replays the split's questions in its own random order, all tenants in one cache;
  the answer comparison is the built-in one (answer embeddings; ``--judge exact`` swaps in
  exact match).
* ``qqp`` (a): duplicate clusters from the QQP dev pool (``similiar_qqp_full.json.gz`` minus
  MeanCache's test pairs; clusters = connected duplicate pairs) plus distractors (the
  non-duplicate partners of cluster members), one shared cache and tenant; "same cluster"
  stands in for answer equivalence (the answer is the cluster id, compared exactly). Split
  dev/test by cluster (the datasets README's sha1 rule on its first question).

Per request: served correct, served wrong (error), miss while an equivalent answer was
cached (achievable), near misses served; per tenant, the word pairs it learnt
(``learned_words``, ``OnlineCalibration.word_confirmations``). Writes
``bench/results/cache_calibration_stream.json`` (``..._dev.json`` with ``--split dev``;
``--out STEM`` names it, ``--results DIR`` moves it) and a learning curve PNG beside it.
Caveats: QQP is non-commercial (internal evaluation only) and the embedder was trained on
QQP duplicates.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.outputs import Generation

from bench.cache.data import prompt_of, qqp_dev_pool
from bench.common import BENCH, read_jsonl, write_json
from langchain_tokenopt.cache import (
    DEFAULT_SIMILARITY_THRESHOLD,
    CacheLookup,
    LocalBackend,
    OnlineCalibration,
    SemanticCache,
    cache_scope,
)

__all__ = ["OWN", "Request", "Tally", "own_requests", "qqp_requests", "replay", "run", "run_stream"]

#: Our own stream (76 intents over eight domains; see the module docstring).
OWN = BENCH / "data" / "calibration_stream.jsonl"
LLM_STRING = str(FakeListChatModel(responses=["x"])._get_llm_string())
COUNTS = (
    "requests",
    "served_correct",
    "served_wrong",
    "near_miss_served",
    "near_misses",
    "achievable",
    "achievable_hit",
    "achievable_after",
    "achievable_hit_after",
    "exact_hits",
)
#: Requests of a tenant before the paraphrase-hit share is counted (issue 22).
WARMUP = 150


@dataclass(frozen=True)
class Request:
    """One question of a stream: its answer (= its item) and what it is."""

    question: str
    answer: str
    intent: str
    kind: str  # "question" | "paraphrase" | "near_miss" | "distractor"


@dataclass
class Tally:
    requests: int = 0
    served_correct: int = 0
    served_wrong: int = 0
    near_miss_served: int = 0
    near_misses: int = 0
    achievable: int = 0
    achievable_hit: int = 0
    achievable_after: int = 0
    achievable_hit_after: int = 0
    exact_hits: int = 0
    achievable_misses: Counter[str] = field(default_factory=Counter)
    curve: list[dict[str, float]] = field(default_factory=list)
    wrong: list[dict[str, str]] = field(default_factory=list)

    def report(self, max_error_rate: float) -> dict[str, Any]:
        err = self.served_wrong / self.requests if self.requests else 0.0
        return {
            "requests": self.requests,
            "served_correct": self.served_correct,
            "served_wrong": self.served_wrong,
            "error_per_request": round(err, 5),
            "error_target_met": err <= max_error_rate,
            "near_misses": self.near_misses,
            "near_misses_served": self.near_miss_served,
            "achievable": self.achievable,
            "achievable_hits": self.achievable_hit,
            "achievable_hit_share": _share(self.achievable_hit, self.achievable),
            f"achievable_after_{WARMUP}": self.achievable_after,
            f"achievable_hit_share_after_{WARMUP}": _share(
                self.achievable_hit_after, self.achievable_after
            ),
            "exact_hits": self.exact_hits,
            "achievable_misses_by_cause": dict(self.achievable_misses.most_common()),
            "wrong_examples": self.wrong[:20],
        }


def _share(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _test(key: str) -> bool:
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % 5 == 0


# ----------------------------------------------------------------------------- streams


def own_requests(split: str) -> list[Request]:
    """The own stream's requests of ``split``: each intent's question, paraphrases, near misses."""
    out: list[Request] = []
    for d in read_jsonl(OWN):
        if d["split"] != split:
            continue
        out.append(Request(d["question"], d["answer"], d["intent"], "question"))
        out += [Request(p, d["answer"], d["intent"], "paraphrase") for p in d["paraphrases"]]
        out += [
            Request(n["question"], n["answer"], d["intent"], "near_miss") for n in d["near_misses"]
        ]
    return out


def qqp_requests(data: Path, split: str, clusters: int, seed: int) -> list[Request]:
    """Duplicate clusters (size >= 2) and their non-duplicate partners, from the dev pool."""
    pool = qqp_dev_pool(data)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pool:
        if p["label"] == 1:
            a, b = find(p["text_a"]), find(p["text_b"])
            if a != b:
                parent[a] = b
    members: dict[str, list[str]] = defaultdict(list)
    for q in list(parent):
        members[find(q)].append(q)
    partners: dict[str, list[str]] = defaultdict(list)
    for p in pool:
        if p["label"] == 0:
            partners[p["text_a"]].append(p["text_b"])
            partners[p["text_b"]].append(p["text_a"])
    groups = sorted(
        (sorted(qs) for qs in members.values() if 2 <= len(qs) <= 8),
        key=lambda qs: qs[0],
    )
    groups = [qs for qs in groups if (_test(qs[0]) == (split == "test"))]
    rng = random.Random(seed)
    rng.shuffle(groups)
    out: list[Request] = []
    used: set[str] = set()
    for i, qs in enumerate(groups[:clusters]):
        cid = f"cluster-{i}"
        used.update(qs)
        out += [
            Request(q, cid, cid, "question" if j == 0 else "paraphrase") for j, q in enumerate(qs)
        ]
        for j, q in enumerate(qs):
            for d in partners.get(q, [])[:1]:
                if d not in used and d not in parent:
                    used.add(d)
                    out.append(Request(d, f"{cid}-distractor-{j}", cid, "distractor"))
    return out


# ----------------------------------------------------------------------------- replay


def miss_cause(result: CacheLookup, floor: float) -> str:
    """Why a request missed although an equivalent answer was cached.

    "verifier rejected the best candidate": every candidate checked (``max_candidates``
    nearest, above the floor) was turned down.
    """
    sim = result.best_similarity
    if sim is None or sim < floor:
        return "best candidate below the floor"
    if result.reason.startswith("calibrating"):
        return "verifier accepted, threshold not lowered (observed)"
    return "verifier rejected the best candidate"


def replay(
    cache: SemanticCache,
    streams: dict[str, list[Request]],
    *,
    floor: float,
    curve_every: int = 25,
) -> dict[str, Tally]:
    """Interleave the tenants' streams request by request through one cache."""
    tallies = {t: Tally() for t in streams}
    stored: dict[str, dict[str, str]] = {t: {} for t in streams}  # answer -> a stored question
    cursors = dict.fromkeys(streams, 0)
    while any(cursors[t] < len(s) for t, s in streams.items()):
        for tenant, stream in streams.items():
            i = cursors[tenant]
            if i >= len(stream):
                continue
            cursors[tenant] = i + 1
            req, tally = stream[i], tallies[tenant]
            with cache_scope(tenant_id=tenant):
                result, gens = cache.lookup_detailed(prompt_of(req.question), LLM_STRING)
                achievable = req.answer in stored[tenant] and req.kind != "near_miss"
                tally.requests += 1
                tally.near_misses += req.kind == "near_miss"
                tally.achievable += achievable
                after = tally.requests > WARMUP
                tally.achievable_after += achievable and after
                if gens is not None:
                    served = gens[0].text
                    tally.exact_hits += result.outcome == "exact_hit"
                    if served == req.answer:
                        tally.served_correct += 1
                        tally.achievable_hit += achievable
                        tally.achievable_hit_after += achievable and after
                    else:
                        tally.served_wrong += 1
                        tally.near_miss_served += req.kind == "near_miss"
                        tally.wrong.append(
                            {
                                "asked": req.question,
                                "kind": req.kind,
                                "served_for": result.hit.cached_text if result.hit else "",
                                "similarity": f"{result.best_similarity:.3f}",
                            }
                        )
                else:
                    if achievable:
                        tally.achievable_misses[miss_cause(result, floor)] += 1
                    cache.update(prompt_of(req.question), LLM_STRING, [Generation(text=req.answer)])
                    stored[tenant].setdefault(req.answer, req.question)
            if tally.requests % curve_every == 0 or tally.requests == len(stream):
                calibration = cache.stats().calibration
                state = calibration.get(tenant) or calibration.get("*")
                tally.curve.append(
                    {
                        "requests": tally.requests,
                        "threshold": state.threshold if state else cache.similarity_threshold,
                        "observations": state.observations if state else 0,
                        "band_errors": state.errors if state else 0,
                        "achievable_hit_share": _share(tally.achievable_hit, tally.achievable)
                        or 0.0,
                        "error_per_request": tally.served_wrong / tally.requests,
                    }
                )
    return tallies


def run_stream(
    name: str,
    streams: dict[str, list[Request]],
    config: OnlineCalibration | None,
    *,
    threshold: float = DEFAULT_SIMILARITY_THRESHOLD,
    max_error_rate: float = 0.01,
    max_candidates: int | None = None,
) -> dict[str, Any]:
    """Replay with online calibration, or (``config=None``) at one fixed threshold."""
    extra: dict[str, Any] = {} if max_candidates is None else {"max_candidates": max_candidates}
    with tempfile.TemporaryDirectory() as folder:  # never the user's default cache file
        cache = SemanticCache(
            backend=LocalBackend(path=Path(folder) / "cache.sqlite3"),
            calibration=config,
            similarity_threshold=threshold,
            **extra,
        )
        started = time.perf_counter()
        floor = config.floor if config is not None else threshold
        tallies = replay(cache, streams, floor=floor)
        seconds = time.perf_counter() - started
        stats = cache.stats()
        cache.close()
    if name != "own":
        # QQP text stays out of bench/results (a public set, for measurement only): keep
        # the similarities, drop the questions
        for tally in tallies.values():
            tally.wrong = [
                {k: v for k, v in w.items() if k not in ("asked", "served_for")}
                for w in tally.wrong
            ]
    per_tenant = {t: tally.report(max_error_rate) for t, tally in tallies.items()}
    total = Tally()
    for tally in tallies.values():
        for f in COUNTS:
            setattr(total, f, getattr(total, f) + getattr(tally, f))
        total.wrong += tally.wrong
        total.achievable_misses += tally.achievable_misses
    return {
        "stream": name,
        "tenants": len(streams),
        "threshold": threshold,
        "max_candidates": cache.max_candidates,
        "calibration_on": config is not None,
        "total": total.report(max_error_rate),
        "per_tenant": per_tenant,
        "calibration": {
            t: {
                "threshold": s.threshold,
                "observations": s.observations,
                "errors": s.errors,
                "supporting": s.supporting,
                "error_bound": round(s.error_bound, 5),
                "learned_words": list(s.learned_words),
            }
            for t, s in stats.calibration.items()
        },
        "verifier_rejections": stats.verifier_rejections,
        "rejections_by_reason": dict(stats.rejections_by_reason),
        "curves": {t: tally.curve for t, tally in tallies.items()},
        "seconds": round(seconds, 1),
    }


def verifier_audit(split: str) -> dict[str, Any]:
    """Pairwise, inside each intent of the own stream: what the verifier lets through.

    Ordered pairs (query, cached): paraphrase pairs share an answer; near-miss pairs (a near
    miss against the intent's question or a paraphrase, both ways) do not.
    """
    from langchain_tokenopt.cache import NearMissVerifier
    from langchain_tokenopt.embeddings import get_default_query_embeddings

    reqs = own_requests(split)
    vectors = get_default_query_embeddings().embed_documents([r.question for r in reqs])
    unit = {
        r.question: np.asarray(v) / float(np.linalg.norm(v))
        for r, v in zip(reqs, vectors, strict=True)
    }
    verifier = NearMissVerifier()
    by_intent: dict[str, list[Request]] = defaultdict(list)
    for r in reqs:
        by_intent[r.intent].append(r)
    rows: list[dict[str, Any]] = []
    for items in by_intent.values():
        for q in items:
            for c in items:
                if q is c or (q.kind == "near_miss" and c.kind == "near_miss"):
                    continue
                sim = float(unit[q.question] @ unit[c.question])
                verdict = verifier.verify(q.question, c.question, sim)
                rows.append(
                    {
                        "same_answer": q.answer == c.answer,
                        "similarity": round(sim, 4),
                        "accepted": verdict.accepted,
                        "reason": verdict.reason.split(":")[0] if verdict.reason else "",
                        "query": q.question,
                        "cached": c.question,
                    }
                )
    para = [r for r in rows if r["same_answer"]]
    near = [r for r in rows if not r["same_answer"]]
    accepted_near = sorted((r for r in near if r["accepted"]), key=lambda r: -r["similarity"])
    return {
        "split": split,
        "paraphrase_pairs": len(para),
        "paraphrase_pairs_accepted": _share(sum(r["accepted"] for r in para), len(para)),
        "paraphrase_rejections_by_reason": dict(
            Counter(r["reason"] for r in para if not r["accepted"]).most_common()
        ),
        "near_miss_pairs": len(near),
        "near_miss_pairs_accepted": _share(len(accepted_near), len(near)),
        "near_miss_pairs_accepted_at_or_above": {
            str(t): sum(r["similarity"] >= t for r in accepted_near) for t in (0.93, 0.9, 0.85, 0.8)
        },
        "accepted_near_misses": accepted_near[:60],
        "rejected_paraphrases": [r for r in para if not r["accepted"]][:60],
    }


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs, sweep = report["streams"], report["fixed_threshold_sweep"]
    panels = len(runs) + bool(sweep)
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), squeeze=False)
    for ax, run in zip(axes[0], runs, strict=False):
        twin = ax.twinx()
        for tenant, curve in run["curves"].items():
            x = [c["requests"] for c in curve]
            ax.plot(x, [c["achievable_hit_share"] for c in curve], label=f"{tenant} hit share")
            twin.plot(x, [c["threshold"] for c in curve], linestyle="--", alpha=0.6)
        ax.axvline(WARMUP, color="grey", linewidth=0.8)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("requests of the tenant")
        ax.set_ylabel("achievable hits served (cumulative)")
        twin.set_ylabel("tenant threshold (dashed)")
        ax.set_title(f"stream {run['stream']} ({report['split']})")
        ax.legend(loc="lower right", fontsize=7)
    if sweep:
        ax = axes[0][-1]
        after = f"achievable_hit_share_after_{WARMUP}"
        for name in dict.fromkeys(row["stream"] for row in sweep):
            rows = sorted((r for r in sweep if r["stream"] == name), key=lambda r: r["threshold"])
            x = [r["threshold"] for r in rows]
            (line,) = ax.plot(x, [r[after] or 0.0 for r in rows], marker="o", label=f"{name} hits")
            ax.plot(
                x,
                [10 * r["error_per_request"] for r in rows],
                linestyle="--",
                color=line.get_color(),
                label=f"{name} 10 x error/request",
            )
        ax.axhline(10 * report["max_error_rate"], color="grey", linewidth=0.8)
        ax.axhline(0.8, color="grey", linewidth=0.8, linestyle=":")
        ax.set_xlabel("fixed threshold, no calibration (hindsight)")
        ax.set_ylabel(f"achievable hits after {WARMUP} / 10 x error per request")
        ax.set_title(f"what any single threshold reaches ({report['split']})")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args: argparse.Namespace) -> None:
    """Replay the chosen streams (and the sweep, and the audit); write the JSON and the PNG."""

    def config(judge: str) -> OnlineCalibration:
        extra: dict[str, Any] = {}
        if args.exploration is not None:
            extra["exploration"] = args.exploration
        if args.word_confirmations is not None:
            extra["word_confirmations"] = args.word_confirmations
        return OnlineCalibration(
            max_error_rate=args.max_error_rate,
            seed=args.seed,
            judge=(lambda fresh, cached: fresh == cached) if judge == "exact" else None,
            pool=args.pool,
            **extra,
        )

    runs = []
    own_streams: dict[str, list[Request]] = {}
    qqp_streams: dict[str, list[Request]] = {}
    if args.stream in ("own", "both"):
        base = own_requests(args.split)
        streams = {}
        for t in range(args.tenants):
            order = list(base)
            random.Random(args.seed * 1000 + t).shuffle(order)
            streams[f"tenant-{t}"] = order
        runs.append(
            run_stream(
                "own",
                streams,
                config(args.judge),
                max_error_rate=args.max_error_rate,
                max_candidates=args.max_candidates,
            )
        )
        own_streams = streams
    if args.stream in ("qqp", "both"):
        reqs = qqp_requests(args.data, args.split, args.clusters, args.seed)
        random.Random(args.seed).shuffle(reqs)
        runs.append(
            run_stream(
                "qqp",
                {"qqp": reqs},
                config("exact"),
                max_error_rate=args.max_error_rate,
                max_candidates=args.max_candidates,
            )
        )
        qqp_streams = {"qqp": reqs}
    sweep = []
    for raw in filter(None, args.sweep.split(",")):
        for name, streams in (("own", own_streams), ("qqp", qqp_streams)):
            if streams:
                run = run_stream(
                    name,
                    streams,
                    None,
                    threshold=float(raw),
                    max_error_rate=args.max_error_rate,
                    max_candidates=args.max_candidates,
                )
                sweep.append({"stream": name, "threshold": float(raw), **run["total"]})
    report = {
        "split": args.split,
        "judge_own": args.judge,
        "pool": args.pool,
        "word_confirmations": (
            OnlineCalibration().word_confirmations
            if args.word_confirmations is None
            else args.word_confirmations
        ),
        "max_error_rate": args.max_error_rate,
        "warmup": WARMUP,
        "streams": runs,
        "fixed_threshold_sweep": sweep,
    }
    if args.verifier_audit:
        report["verifier_audit"] = verifier_audit(args.split)
        audit = report["verifier_audit"]
        print(
            f"verifier audit ({args.split}): paraphrase pairs accepted "
            f"{audit['paraphrase_pairs_accepted']} of {audit['paraphrase_pairs']}; near-miss "
            f"pairs accepted {audit['near_miss_pairs_accepted']} of {audit['near_miss_pairs']} "
            f"(at or above: {audit['near_miss_pairs_accepted_at_or_above']})"
        )
    stem = args.out or (
        "cache_calibration_stream" + ("" if args.split == "test" else f"_{args.split}")
    )
    write_json(args.results / f"{stem}.json", report, indent=1)
    plot(report, args.results / f"{stem}.png")
    for run in runs:
        t = run["total"]
        print(
            f"[{run['stream']}] requests={t['requests']} wrong={t['served_wrong']} "
            f"err/req={t['error_per_request']} near_miss_served={t['near_misses_served']}/"
            f"{t['near_misses']} achievable={t['achievable_hits']}/{t['achievable']} "
            f"after{WARMUP}={t[f'achievable_hit_share_after_{WARMUP}']} "
            f"thresholds={[v['threshold'] for v in run['calibration'].values()]} "
            f"({run['seconds']} s)"
        )
    for row in sweep:
        print(
            f"  fixed {row['stream']} t={row['threshold']}: wrong={row['served_wrong']} "
            f"err/req={row['error_per_request']} near_miss_served={row['near_misses_served']} "
            f"achievable={row['achievable_hit_share']} after{WARMUP}="
            f"{row[f'achievable_hit_share_after_{WARMUP}']}"
        )
