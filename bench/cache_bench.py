"""Semantic-cache benchmark: accuracy protocols, follow-ups, latency, anchors, scale.

Run from the repository root::

    python bench/cache_bench.py            # full run (test split), ~15-25 min on 2 cores
    python bench/cache_bench.py --quick    # small run, ~3 min
    python bench/cache_bench.py --calibrate  # threshold curve on the DEV split only
    python bench/cache_bench.py --only-anchors  # ours beside redisvl, langchain-redis, GPTCache
    python bench/cache_bench.py --only-pairwise  # test curve, pairwise, GPTCache paraphrases

Protocols on ``cache/meancache/test.csv`` (the cache's test split):

* pairwise: a cache holding only ``question1`` (fresh scope per pair) is asked ``question2``;
* shared index: all ``question1`` in one scope, every ``question2`` asked; a hit returning
  another pair's entry is a wrong answer.

Writes ``bench/results/cache_bench.json`` (``cache_bench_quick.json`` with --quick),
``bench/results/cache_threshold_curve.png`` and ``bench/results/cache_shared_wrong_hits.json``.
Latency numbers are meaningful only on a quiet machine; pin with ``taskset -c 1``.
Caveat printed beside the numbers: all-MiniLM-L6-v2 was trained on QQP duplicate pairs, so
recall on QQP positives is optimistic; QQP is non-commercial (internal evaluation only).
"""

from __future__ import annotations

import argparse
import atexit
import csv
import gc
import hashlib
import io
import json
import os
import random
import resource
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from langchain_core.embeddings import Embeddings  # noqa: E402
from langchain_core.load import dumps  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langchain_core.outputs import Generation  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from langchain_tokenopt.cache import (  # noqa: E402
    DEFAULT_SIMILARITY_THRESHOLD,
    LocalBackend,
    NearMissVerifier,
    RedisBackend,
    SemanticCache,
    cache_scope,
)
from langchain_tokenopt.embeddings import LocalEmbeddings, OnnxEmbeddings  # noqa: E402

console = Console(width=160)
LLM_STRING = (
    '{"id": ["langchain", "chat_models", "openai", "ChatOpenAI"], "kwargs": {"model_name": '
    '"gpt-4o-mini", "temperature": 0.0}, "lc": 1, "type": "constructor"}---[(\'stop\', None)]'
)
CAVEAT = (
    "Caveat: all-MiniLM-L6-v2 was trained on QQP duplicates (recall on QQP positives is "
    "optimistic); QQP is for non-commercial, internal evaluation only."
)


# ----------------------------------------------------------------------------- data


def load_pairs(data: Path, limit: int | None, seed: int = 0) -> list[tuple[str, str, int]]:
    with open(data / "cache" / "meancache" / "test.csv", newline="", encoding="utf-8") as fh:
        rows = [
            (r["question1"], r["question2"], int(r["is_duplicate"])) for r in csv.DictReader(fh)
        ]
    if limit and limit < len(rows):
        rows = random.Random(seed).sample(rows, limit)
    return rows


def load_dev_pairs(data: Path, limit: int, seed: int = 0) -> list[tuple[str, str, int]]:
    test = {(a, b) for a, b, _ in load_pairs(data, None)}
    test |= {(b, a) for a, b in test}
    with tarfile.open(data / "cache" / "gptcache" / "similiar_qqp_full.json.gz") as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".json"))
        raw = tar.extractfile(member)
        assert raw is not None
        pairs = json.load(io.TextIOWrapper(raw, encoding="utf-8"))
    dev = [
        (p["text_a"], p["text_b"], int(p["label"]))
        for p in pairs
        if (p["text_a"], p["text_b"]) not in test
    ]
    rng = random.Random(seed)
    pos = [p for p in dev if p[2] == 1]
    neg = [p for p in dev if p[2] == 0]
    rng.shuffle(pos)
    rng.shuffle(neg)
    return pos[: limit // 2] + neg[: limit // 2]


def load_paraphrases(data: Path, limit: int | None) -> list[tuple[str, str]]:
    rows = json.loads((data / "cache" / "gptcache" / "mock_data.json").read_text(encoding="utf-8"))
    pairs = [(r["origin"], r["similar"]) for r in rows]
    return pairs[:limit] if limit else pairs


def load_followups(data: Path) -> list[dict[str, str]]:
    return json.loads(
        (data / "cache" / "meancache" / "contextual_queries.json").read_text(encoding="utf-8")
    )


def prompt_of(question: str, history: Sequence[Any] = ()) -> str:
    return dumps([*history, HumanMessage(question)])


# ----------------------------------------------------------------------------- embedder


class Precomputed(Embeddings):
    """Vectors computed in batch up front by the real embedder (identical to per-query calls)."""

    def __init__(self, base: OnnxEmbeddings | LocalEmbeddings, texts: Sequence[str]) -> None:
        self.base = base
        uniq = sorted(set(texts))
        vecs = base.encode(uniq) if uniq else np.zeros((0, 384), dtype=np.float32)
        self.table = {t: v for t, v in zip(uniq, vecs, strict=True)}

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self.table]
        if missing:
            for t, v in zip(missing, self.base.encode(missing), strict=True):
                self.table[t] = v
        return np.vstack([self.table[t] for t in texts])

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


def normalized(text: str) -> str:
    from langchain_tokenopt.cache.keys import normalize_text

    return normalize_text(text)


# ----------------------------------------------------------------------------- decisions


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


# ----------------------------------------------------------------------------- protocols


def run_pairwise(cache: SemanticCache, pairs: Sequence[tuple[str, str, int]]) -> dict[str, Any]:
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
    lookup: Callable[[str], str | None],
    store: Callable[[str, str], None],
    pairs: Sequence[tuple[str, str, int]],
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


def ours_shared(
    cache: SemanticCache,
) -> tuple[Callable[[str], str | None], Callable[[str, str], None]]:
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
    check: Callable[[str], bool], store: Callable[[str, str], None], records: list[dict[str, str]]
) -> int:
    """Anchors key on the last message: a follow-up stored once hits in any conversation."""
    for i, r in enumerate(records):
        store(r["Main Query"], f"m{i}")
    return sum(1 for r in records if check(r["Follow-Up Query"]))


# ----------------------------------------------------------------------------- latency


def pct(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan")}
    arr = np.array(values)
    return {"p50": float(np.percentile(arr, 50)), "p95": float(np.percentile(arr, 95))}


def measure_latency(
    cache: SemanticCache, pairs: Sequence[tuple[str, str, int]], n: int = 300
) -> dict[str, Any]:
    """Store question1s, then time exact repeats, duplicates and fresh questions.

    Timings are grouped by the lookup's actual outcome (exact_hit / semantic_hit / miss,
    rejections counted with misses); the embedding memo is cleared before every lookup.
    """
    stored = list(dict.fromkeys(p[0] for p in pairs))
    for q in stored:
        cache.update(prompt_of(q), LLM_STRING, [Generation(text="x")])
    dups = [p[1] for p in pairs if p[2] == 1]
    fresh = [f"{p[1]} Please answer briefly." for p in pairs if p[2] == 0]
    queries = stored[:n] + dups[: 3 * n] + fresh[:n]
    groups: dict[str, dict[str, list[float]]] = {}
    for q in queries:
        cache._memo.clear()  # noqa: SLF001 - measure real embedding cost, not the memo
        t0 = time.perf_counter()
        result, _ = cache.lookup_detailed(prompt_of(q), LLM_STRING)
        total = (time.perf_counter() - t0) * 1000
        kind = "miss" if result.outcome == "rejected" else result.outcome
        g = groups.setdefault(kind, {"total": [], "emb": [], "search": []})
        g["total"].append(total)
        g["emb"].append(result.embedding_ms)
        g["search"].append(result.search_ms)
    return {
        k: {
            "total_ms": pct(v["total"]),
            "embedding_ms": pct(v["emb"]),
            "search_ms": pct(v["search"]),
            "n": len(v["total"]),
        }
        for k, v in groups.items()
    }


class Switchable(Embeddings):
    """Delegates to ``target`` (precomputed for accuracy runs, the real model for latency)."""

    def __init__(self, target: Embeddings) -> None:
        self.target = target

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.target.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.target.embed_query(text)


def run_burst(redis_url: str, n: int) -> dict[str, Any]:
    """``n`` concurrent async calls on a RedisBackend at its defaults (half updates, half lookups).

    The load bench's burst (exact path, as there): before the backend's concurrency gate
    a 10,000-call burst timed out on the connection pool and was served as misses.
    """
    import asyncio

    cache = SemanticCache(backend=RedisBackend(url=redis_url, prefix="burst:"), semantic=False)
    prompts = [prompt_of(f"burst question {i}") for i in range(n // 2)]
    latencies: list[float] = []

    async def timed(coro: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await coro
        finally:
            latencies.append((time.perf_counter() - t0) * 1000)

    async def burst() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(
            *(
                timed(cache.aupdate(p, LLM_STRING, [Generation(text=str(i))]))
                for i, p in enumerate(prompts)
            ),
            *(timed(cache.alookup(p, LLM_STRING)) for p in prompts),
        )
        return time.perf_counter() - t0

    wall = asyncio.run(burst())
    stats = cache.stats()
    served = sum(
        cache.lookup(p, LLM_STRING) == [Generation(text=str(i))] for i, p in enumerate(prompts)
    )
    cache.clear()
    cache.close()
    return {
        "calls": n,
        "errors": stats.errors,
        "lookups_in_burst": n // 2,
        "burst_hits": stats.hits,
        "stored_and_served_after": served,
        "wall_s": wall,
        "p50_ms": pct(latencies)["p50"],
        "p95_ms": pct(latencies)["p95"],
    }


def pin_server(server: Any, cpu: int | None) -> None:
    """Move the Redis server to one CPU (as on its own host); ``None`` leaves it as started."""
    if cpu is not None and server.pid is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(server.pid, {cpu})


def local_latency(emb: Any, pairs: Any, folder: Path) -> dict[str, Any]:
    """Lookup latency of the embedded backend (a fresh SQLite file in ``folder``)."""
    cache = SemanticCache(
        backend=LocalBackend(path=folder / "l.sqlite3", max_entries=None), embeddings=emb
    )
    try:
        return measure_latency(cache, pairs)
    finally:
        cache.close()


def latency_only(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """The latency section alone: local and Redis backends, real int8 embedder."""
    pairs = load_pairs(args.data, None)
    lat_emb = OnnxEmbeddings()
    lat_emb.encode(["warm"])
    with tempfile.TemporaryDirectory() as tmp:
        report["latency_local"] = local_latency(lat_emb, pairs, Path(tmp))
    if not args.no_redis:
        from tests.redis_server import RedisServer

        with RedisServer() as server:
            pin_server(server, args.redis_cpu)
            rcache = SemanticCache(
                backend=RedisBackend(url=server.url, prefix="lat:"), embeddings=lat_emb
            )
            report["latency_redis"] = measure_latency(rcache, pairs)
            rcache.clear()
            rcache.close()
    report["redis_cpu"] = args.redis_cpu


def latency_table(report: dict[str, Any]) -> None:
    lat_rows = []
    for backend in ("latency_local", "latency_redis"):
        for kind, v in report.get(backend, {}).items():
            lat_rows.append(
                [
                    backend.split("_")[1],
                    kind,
                    v["total_ms"]["p50"],
                    v["total_ms"]["p95"],
                    v["embedding_ms"]["p50"],
                    v["search_ms"]["p50"],
                    v["n"],
                ]
            )
    for k, v in report.get("anchors", {}).items():
        lat = v["lookup_latency_ms"]
        lat_rows.append([k, "lookup (mixed)", lat["p50"], lat["p95"], "", "", ""])
    table(
        "lookup latency (ms)",
        ["backend", "case", "p50", "p95", "embed p50", "search p50", "n"],
        lat_rows,
    )


# ----------------------------------------------------------------------------- anchors


def time_lookups(
    lookup: Callable[[str], Any], queries: Sequence[str], before: Callable[[], Any] | None = None
) -> dict[str, float]:
    """p50 / p95 ms of ``lookup`` over ``queries`` (``before`` runs untimed before each)."""
    times = []
    for q in queries:
        if before is not None:
            before()
        t0 = time.perf_counter()
        lookup(q)
        times.append((time.perf_counter() - t0) * 1000)
    return pct(times)


class GPTCacheAnchor:
    """GPTCache set up by its own quick initializer, ``init_similar_cache``, at its defaults.

    That is SQLite + faiss (flat L2), ``SearchDistanceEvaluation`` and ``similarity_threshold``
    0.8. Only the embedding is ours: GPTCache's default ONNX model would be fetched from a model
    hub, so it gets the packaged MiniLM through ``switch``, like the other anchors. The
    threshold in its terms: a hit needs ``4 - L2^2 >= 0.8 * 4``, that is L2^2 <= 0.8, which for
    MiniLM's unit vectors is cosine >= 0.6 (cosine distance <= 0.4). GPTCache has no scope:
    every prompt shares one index.

    Its default store keeps 1,000 entries (an in-memory LRU that drops a fifth when full), so
    a shared index of 9,042 questions keeps only the newest few hundred. ``max_size`` raises
    that capacity through ``eviction_params`` (``manager_factory``'s own ``max_size`` argument
    is not read by its default eviction manager).
    """

    DISTANCE_THRESHOLD = 0.4  # the cosine distance its default threshold allows (see above)

    def __init__(self, switch: Embeddings, folder: Path, max_size: int | None = None) -> None:
        self.switch = switch
        self.folder = folder
        self.max_size = max_size
        self.generation = 0
        self.cache: Any = None
        self.embedding = self._embedding(switch)
        # GPTCache writes each cache's faiss index in an exit hook; registered first, this one
        # runs after those hooks (exit hooks run last-in, first-out).
        atexit.register(shutil.rmtree, folder, True)
        self.clear()

    @staticmethod
    def _embedding(switch: Embeddings) -> Any:
        """The packaged MiniLM (through ``switch``) as a GPTCache embedding."""
        from gptcache.embedding.base import BaseEmbedding

        class _MiniLM(BaseEmbedding):
            def to_embeddings(self, data: Any, **_: Any) -> np.ndarray:
                return np.asarray(switch.embed_query(str(data)), dtype=np.float32)

            @property
            def dimension(self) -> int:
                return 384

        return _MiniLM()

    def clear(self) -> None:
        """Start an empty cache (GPTCache has no clear: a new data folder each time)."""
        from gptcache import Cache
        from gptcache.adapter.api import init_similar_cache

        self.generation += 1
        self.cache = Cache()
        data_dir = str(self.folder / f"gptcache-{self.generation}")
        kwargs: dict[str, Any] = {}
        if self.max_size is not None:
            from gptcache.manager import manager_factory

            kwargs["data_manager"] = manager_factory(
                "sqlite,faiss",
                data_dir=data_dir,
                vector_params={"dimension": 384},
                eviction_params={"max_size": self.max_size},
            )
        init_similar_cache(
            data_dir=data_dir, cache_obj=self.cache, embedding=self.embedding, **kwargs
        )

    def entries(self) -> list[int]:
        """Ids of the entries the store holds."""
        return list(self.cache.data_manager.s.get_ids(deleted=False))

    def lookup(self, question: str) -> str | None:
        from gptcache.adapter.api import get

        got = get(question, cache_obj=self.cache)
        return None if got is None else str(got)

    def store(self, question: str, answer: str) -> None:
        from gptcache.adapter.api import put

        put(question, answer, cache_obj=self.cache)


def run_anchors(
    redis_url: str,
    emb: Precomputed,
    real: Embeddings,
    pairs: Sequence[tuple[str, str, int]],
    records: list[dict[str, str]],
    n_latency: int = 300,
) -> dict[str, Any]:
    """redisvl SemanticCache, langchain-redis RedisSemanticCache and GPTCache at their defaults."""
    from langchain_redis import RedisSemanticCache
    from redisvl.extensions.cache.llm import SemanticCache as RVLCache
    from redisvl.utils.vectorize import CustomTextVectorizer

    out: dict[str, Any] = {}
    switch = Switchable(emb)
    vectorizer = CustomTextVectorizer(embed=switch.embed_query, embed_many=switch.embed_documents)
    rvl = RVLCache(name="bench_rvl", redis_url=redis_url, vectorizer=vectorizer, overwrite=True)
    lcr = RedisSemanticCache(
        embeddings=switch, redis_url=redis_url, name="bench_lcr", prefix="bench_lcr"
    )
    lcr.clear()
    folder = Path(tempfile.mkdtemp(prefix="bench_gptcache_"))
    gpt = GPTCacheAnchor(switch, folder)
    gpt_big = GPTCacheAnchor(switch, folder / "big", max_size=100_000)
    anchors: dict[str, tuple[Callable[[str], str | None], Callable[[str, str], None], Any]] = {
        "redisvl_SemanticCache": (
            lambda q: h[0]["response"] if (h := rvl.check(prompt=q)) else None,
            lambda q, a: rvl.store(prompt=q, response=a) and None,
            rvl.clear,
        ),
        "langchain_redis_RedisSemanticCache": (
            lambda q: g[0].text if (g := lcr.lookup(q, LLM_STRING)) else None,
            lambda q, a: lcr.update(q, LLM_STRING, [Generation(text=a)]),
            lcr.clear,
        ),
        "GPTCache": (gpt.lookup, gpt.store, gpt.clear),
        "GPTCache_max_size_100000": (gpt_big.lookup, gpt_big.store, gpt_big.clear),
    }
    kept = {"GPTCache": gpt.entries, "GPTCache_max_size_100000": gpt_big.entries}
    thresholds = {
        "redisvl_SemanticCache": rvl.distance_threshold,
        "langchain_redis_RedisSemanticCache": 0.2,
        "GPTCache": GPTCacheAnchor.DISTANCE_THRESHOLD,
        "GPTCache_max_size_100000": GPTCacheAnchor.DISTANCE_THRESHOLD,
    }
    queries = [p[1] for p in pairs[:n_latency]]
    for name, (lookup, store, clear) in anchors.items():
        switch.target = emb
        res = run_shared(lookup, store, pairs)
        res.pop("wrong_examples")
        if name in kept:  # what its store still holds after the stores
            res["entries_kept"] = len(kept[name]())
        res["distance_threshold"] = thresholds[name]
        switch.target = real
        res["lookup_latency_ms"] = time_lookups(lookup, queries)
        switch.target = emb
        clear()
        res["followup_hits"] = anchor_followups(
            lambda q, lk=lookup: lk(q) is not None, store, records
        )
        clear()
        out[name] = res
    rvl.delete()
    return out


def anchors_only(args: argparse.Namespace, base: Embeddings, report: dict[str, Any]) -> None:
    """Ours beside the anchors (redisvl, langchain-redis, GPTCache) on the shared index alone.

    The same pairs, the same precomputed MiniLM vectors for accuracy and the real int8 embedder
    for lookup latency (the same 300 questions, the same mixed hits and misses). Ours runs at
    its shipped default on the embedded backend, each anchor at its own default.
    """
    from tests.redis_server import RedisServer

    pairs = load_pairs(args.data, 1000 if args.quick else None)
    records = load_followups(args.data)
    texts = [normalized(t) for p in pairs for t in p[:2]]
    texts += [normalized(r[k]) for r in records for k in ("Main Query", "Follow-Up Query")]
    emb = Precomputed(base, texts)
    real = OnnxEmbeddings() if args.embedder == "onnx" else LocalEmbeddings()
    real.encode(["warm"])
    switch = Switchable(emb)
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = SemanticCache(
            backend=LocalBackend(path=Path(tmp) / "ours.sqlite3", max_entries=None),
            embeddings=switch,
        )
        lookup, store = ours_shared(cache)
        res = run_shared(lookup, store, pairs)
        res.pop("wrong_examples")
        res["similarity_threshold"] = DEFAULT_SIMILARITY_THRESHOLD
        switch.target = real
        res["lookup_latency_ms"] = time_lookups(
            lookup,
            [p[1] for p in pairs[:300]],
            before=cache._memo.clear,  # noqa: SLF001 - real embedding cost, not the memo
        )
        cache.close()
        switch.target = emb
        fresh = SemanticCache(
            backend=LocalBackend(path=Path(tmp) / "fu.sqlite3", max_entries=None),
            embeddings=switch,
        )
        followups = run_followups(fresh, records)
        fresh.close()
        res["followup_hits"] = followups["followup_hits_standalone"]
        res["followup_hits_in_another_conversation"] = followups["hits_in_other_conversation"]
        rows["ours: SemanticCache (local, shipped default)"] = res
        with RedisServer() as server:
            pin_server(server, args.redis_cpu)
            rows.update(run_anchors(server.url, emb, real, pairs, records))
    report["pairs"] = len(pairs)
    report["followups"] = len(records)
    report["shared_index"] = rows
    name = "cache_anchors_quick.png" if args.quick else "cache_anchors.png"
    report["plot"] = plot_anchors(
        rows,
        ROOT / "bench" / "results" / name,
        f"shared index, {len(pairs)} MeanCache test pairs: each cache at its default",
    )
    table(
        f"shared index, {len(pairs)} MeanCache test pairs: ours beside the anchors at their "
        f"defaults; {len(records)} follow-ups asked without their conversation",
        [
            "cache",
            "recall",
            "FHR",
            "precision",
            "hits",
            "follow-up hits",
            "lookup p50 / p95 ms",
        ],
        [
            [
                k,
                round(v["recall"], 3),
                round(v["fhr"], 3),
                round(v["precision"], 3),
                v["hits"],
                v["followup_hits"],
                f"{v['lookup_latency_ms']['p50']:.2f} / {v['lookup_latency_ms']['p95']:.2f}",
            ]
            for k, v in rows.items()
        ],
    )


# ----------------------------------------------------------------------------- scale


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_crossover(sizes: Sequence[int]) -> list[dict[str, float]]:
    """Exact numpy search vs usearch HNSW per scope size (justifies ``exact_limit``)."""
    from langchain_tokenopt.cache.backends.vector_index import ScopeIndex

    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        vecs = rng.normal(size=(n, 384)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        queries = vecs[rng.integers(0, n, 200)] + rng.normal(scale=0.05, size=(200, 384)).astype(
            np.float32
        )
        ids = [str(i) for i in range(n)]
        res = {"n": n}
        for name, limit in (("exact", n + 1), ("usearch", 0)):
            index = ScopeIndex(dim=384, exact_limit=max(limit, 1))
            index.add_many(ids, vecs)
            times = []
            for q in queries:
                t0 = time.perf_counter()
                index.top1(q)
                times.append((time.perf_counter() - t0) * 1000)
            res[f"{name}_p50_ms"] = float(np.percentile(times, 50))
            res[f"{name}_p95_ms"] = float(np.percentile(times, 95))
        rows.append(res)
    return rows


def run_scale(n: int, *, reopen: bool | None = None) -> dict[str, float]:
    """Synthetic unit vectors in one scope of a LocalBackend (SQLite + usearch int8 HNSW).

    Loaded with ``LocalBackend.put_many`` in batches of 20k (one transaction and one bulk
    index add each), then 200 queries (a stored vector plus noise, cosine ~0.93 to it)
    through ``LocalBackend.search`` (HNSW candidates, rescored with the stored floats,
    entries read back from SQLite). ``reopen`` (default: n <= 100k) also times a reopen,
    which rebuilds the index from the file.
    """
    from langchain_tokenopt.cache.records import CacheEntry

    rng = np.random.default_rng(1)
    gc.collect()
    rss0 = rss_mb()
    scope = "0" * 32
    out: dict[str, float] = {"entries": n}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scale.sqlite3"
        backend = LocalBackend(path=path, max_entries=None)
        batch = 20_000
        t0 = time.perf_counter()
        vec_sample = None
        for start in range(0, n, batch):
            k = min(batch, n - start)
            vecs = rng.normal(size=(k, 384)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            if vec_sample is None:
                vec_sample = vecs[:200].copy()
            now = time.time()
            backend.put_many(
                [
                    CacheEntry(
                        entry_id=hashlib.blake2b(
                            str(start + i).encode(), digest_size=16
                        ).hexdigest(),
                        scope=scope,
                        model="m",
                        model_name="m",
                        tenant="t",
                        user="u",
                        text=f"q{start + i}",
                        payload="[]",
                        created_at=now,
                        expires_at=None,
                        vector=vecs[i].tobytes(),
                    )
                    for i in range(k)
                ]
            )
            del vecs
        insert_s = time.perf_counter() - t0
        assert vec_sample is not None
        queries = vec_sample + rng.normal(scale=0.02, size=vec_sample.shape).astype(np.float32)
        times, found = [], 0
        for i, q in enumerate(queries):
            q /= np.linalg.norm(q)
            t1 = time.perf_counter()
            cand = backend.search(scope, q, now=time.time())
            times.append((time.perf_counter() - t1) * 1000)
            found += cand is not None and cand.entry.text == f"q{i}"
        gc.collect()
        rss = rss_mb()
        out.update(
            {
                "insert_per_s": n / insert_s,
                "insert_s": insert_s,
                "search_p50_ms": float(np.percentile(times, 50)),
                "search_p95_ms": float(np.percentile(times, 95)),
                "top1_recall": found / len(queries),
                "rss_mb": rss,
                "rss_growth_mb": rss - rss0,
                "file_mb": path.stat().st_size / 2**20,
            }
        )
        backend.close()
        del backend
        gc.collect()
        if reopen if reopen is not None else n <= 100_000:
            t2 = time.perf_counter()
            again = LocalBackend(path=path, max_entries=None)
            out["reopen_s"] = time.perf_counter() - t2
            out["reopen_count_ok"] = float(again.count() == n)
            again.close()
    return out


# ----------------------------------------------------------------------------- main


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in r])
    console.print(t)


def _shown(path: Path) -> str:
    """A written file's path as recorded in the JSON: relative to the repository."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def plot_curve(rows: list[dict[str, float]], path: Path, title: str) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        import plotly.graph_objects as go

        fig = go.Figure()
        fig.add_scatter(
            x=[r["fhr"] for r in rows], y=[r["recall"] for r in rows], name="cosine only"
        )
        fig.add_scatter(
            x=[r["fhr_verified"] for r in rows],
            y=[r["recall_verified"] for r in rows],
            name="cosine + verifier",
        )
        out = path.with_suffix(".html")
        fig.write_html(str(out))
        return _shown(out)
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
    fig.savefig(path, dpi=120)
    return _shown(path)


def plot_anchors(rows: dict[str, Any], path: Path, title: str) -> str:
    """Recall against false-hit rate on the shared index: one point per cache."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, v in rows.items():
        ours = name.startswith("ours")
        ax.scatter(v["fhr"] * 100, v["recall"], s=60 if ours else 40, marker="*" if ours else "o")
        ax.annotate(
            name.split(" (")[0],
            (v["fhr"] * 100, v["recall"]),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=8,
        )
    ax.set_xlabel("false-hit rate on non-duplicates (%)")
    ax.set_ylabel("recall on duplicates (the right entry served)")
    ax.set_xlim(0, 70)
    ax.set_ylim(-0.02, 1.0)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return _shown(path)


def run_dtypes(n: int) -> list[dict[str, Any]]:
    """usearch storage types at the shipped graph settings: add rate, search, recall."""
    from langchain_tokenopt.cache.backends.vector_index import ScopeIndex

    probe = ScopeIndex(dim=384, exact_limit=1)
    probe._new_hnsw()  # noqa: SLF001 - loads onnxruntime before usearch (see its docstring)
    from usearch.index import Index

    rng = np.random.default_rng(3)
    vecs = rng.normal(size=(n, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    queries = vecs[:200] + rng.normal(scale=0.02, size=(200, 384)).astype(np.float32)
    rows = []
    for dtype in ("f32", "f16", "i8"):
        index = Index(
            ndim=384,
            metric="ip",
            dtype=dtype,
            connectivity=16,
            expansion_add=32,
            expansion_search=64,
        )
        t0 = time.perf_counter()
        index.add(np.arange(n, dtype=np.uint64), vecs)
        add_s = time.perf_counter() - t0
        times, found = [], 0
        for i, q in enumerate(queries):
            t1 = time.perf_counter()
            match = index.search(q, 1, threads=1)
            times.append((time.perf_counter() - t1) * 1000)
            found += int(match.keys[0]) == i
        rows.append(
            {
                "dtype": dtype,
                "n": n,
                "add_per_s": n / add_s,
                "search_p50_ms": float(np.percentile(times, 50)),
                "search_p95_ms": float(np.percentile(times, 95)),
                "top1_recall": found / len(queries),
                "memory_mb": index.memory_usage / 2**20,
            }
        )
    return rows


def scale_section(args: argparse.Namespace, report: dict[str, Any]) -> None:
    quick = args.quick
    sizes = args.scale if args.scale is not None else ([20_000] if quick else [100_000])
    report["crossover"] = run_crossover(
        [1_000, 2_000, 5_000, 10_000, 50_000] if not quick else [2_000, 5_000, 10_000]
    )
    table(
        "exact numpy vs usearch HNSW, one scope (ms)",
        ["n", "exact p50", "exact p95", "usearch p50", "usearch p95"],
        [
            [r["n"], r["exact_p50_ms"], r["exact_p95_ms"], r["usearch_p50_ms"], r["usearch_p95_ms"]]
            for r in report["crossover"]
        ],
    )
    report["index_dtypes"] = run_dtypes(5_000 if quick else 20_000)
    table(
        "usearch storage type (one scope, synthetic 384-d, shipped graph settings)",
        ["dtype", "n", "add/s", "search p50", "search p95", "top1 recall", "index MB"],
        [
            [
                r["dtype"],
                r["n"],
                r["add_per_s"],
                r["search_p50_ms"],
                r["search_p95_ms"],
                r["top1_recall"],
                r["memory_mb"],
            ]
            for r in report["index_dtypes"]
        ],
    )
    report["scale"] = [run_scale(n) for n in sizes]
    table(
        "scale run, LocalBackend (SQLite + usearch i8 HNSW), synthetic 384-d vectors, ms",
        [
            "entries",
            "insert/s",
            "load s",
            "search p50",
            "search p95",
            "top1 recall",
            "RSS MB",
            "RSS growth MB",
            "file MB",
            "reopen s",
        ],
        [
            [
                r["entries"],
                r["insert_per_s"],
                r["insert_s"],
                r["search_p50_ms"],
                r["search_p95_ms"],
                r["top1_recall"],
                r["rss_mb"],
                r["rss_growth_mb"],
                r["file_mb"],
                r.get("reopen_s", "not run"),
            ]
            for r in report["scale"]
        ],
    )


def pairwise_only(
    args: argparse.Namespace,
    base: OnnxEmbeddings | LocalEmbeddings,
    verifier: NearMissVerifier,
    thresholds: Sequence[float],
    report: dict[str, Any],
) -> None:
    """Test curve, pairwise protocol (verifier on and off) and GPTCache paraphrase recall."""
    pairs = load_pairs(args.data, 1000 if args.quick else None)
    paraphrases = load_paraphrases(args.data, None)
    texts = [normalized(t) for p in pairs for t in p[:2]]
    texts += [normalized(t) for p in paraphrases for t in p]
    emb = Precomputed(base, texts)
    console.print(CAVEAT)
    sims, ok, y = pair_decisions(pairs, emb, verifier)
    rows = curve(sims, ok, y, thresholds)
    report["test_curve"] = rows
    report["recall_at_fhr"] = {
        f"{t}": {"cosine": recall_at_fhr(rows, t, False), "verified": recall_at_fhr(rows, t, True)}
        for t in (0.01, 0.02, 0.05)
    }
    report["test_rules_at_default"] = rule_breakdown(pairs, sims, verifier)
    with tempfile.TemporaryDirectory() as tmp:
        proto: dict[str, Any] = {}
        for name, kw in (
            ("shipped default (verifier on)", {}),
            ("same threshold, verifier off", {"verify_hits": False}),
        ):
            cache = SemanticCache(
                backend=LocalBackend(path=Path(tmp) / f"p{len(proto)}.sqlite3", max_entries=None),
                embeddings=emb,
                **kw,
            )
            proto[name] = run_pairwise(cache, pairs)
            cache.close()
        report["pairwise"] = proto
        cache = SemanticCache(
            backend=LocalBackend(path=Path(tmp) / "g.sqlite3", max_entries=None), embeddings=emb
        )
        gpt_hits = 0
        for i, (o, s) in enumerate(paraphrases):
            with cache_scope(tenant_id=f"g{i}"):
                cache.update(prompt_of(o), LLM_STRING, [Generation(text="x")])
                gpt_hits += cache.lookup(prompt_of(s), LLM_STRING) is not None
        cache.close()
    report["gptcache_paraphrases"] = {"n": len(paraphrases), "recall": gpt_hits / len(paraphrases)}
    table(
        f"pairwise protocol (meancache test), SemanticCache at cos {DEFAULT_SIMILARITY_THRESHOLD}",
        ["config", "recall", "FHR", "precision"],
        [[k, v["recall"], v["fhr"], v["precision"]] for k, v in proto.items()],
    )
    console.print(f"GPTCache paraphrases: {report['gptcache_paraphrases']}")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    ap.add_argument("--quick", action="store_true", help="small run (1,000 pairs, no 1M scale)")
    ap.add_argument(
        "--calibrate", action="store_true", help="threshold curve on the DEV split and exit"
    )
    ap.add_argument("--dev-pairs", type=int, default=10_000)
    ap.add_argument(
        "--scale",
        type=int,
        nargs="*",
        default=None,
        help="scale-run sizes (default 100000; add 1000000)",
    )
    ap.add_argument("--only-scale", action="store_true", help="run only the scale section")
    ap.add_argument(
        "--burst",
        type=int,
        default=None,
        help="async calls in the Redis burst (default 10000, 1000 with --quick; 0 skips)",
    )
    ap.add_argument(
        "--redis-cpu",
        type=int,
        default=None,
        help="pin the bench's Redis server to this CPU (as on its own host); default: inherit",
    )
    ap.add_argument(
        "--only-latency", action="store_true", help="run only the lookup-latency section"
    )
    ap.add_argument(
        "--only-pairwise",
        action="store_true",
        help="only the test curve, the pairwise protocol and the GPTCache paraphrases",
    )
    ap.add_argument("--no-redis", action="store_true")
    ap.add_argument("--no-anchors", action="store_true")
    ap.add_argument(
        "--only-anchors",
        action="store_true",
        help="only ours beside redisvl, langchain-redis and GPTCache on the shared index",
    )
    ap.add_argument("--embedder", choices=["onnx", "torch"], default="onnx")
    args = ap.parse_args(argv)
    if args.burst is None:
        args.burst = 1000 if args.quick else 10_000
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    base = OnnxEmbeddings() if args.embedder == "onnx" else LocalEmbeddings(batch_size=64)
    thresholds = [round(x, 3) for x in np.arange(0.70, 1.0001, 0.01)]
    verifier = NearMissVerifier()
    report: dict[str, Any] = {
        "embedder": args.embedder,
        "default_threshold": DEFAULT_SIMILARITY_THRESHOLD,
        "caveat": CAVEAT,
    }

    if args.calibrate:
        dev = load_dev_pairs(args.data, args.dev_pairs)
        console.print(f"[bold]Calibration on the DEV split[/] ({len(dev)} pairs, balanced)")
        emb = Precomputed(base, [normalized(t) for p in dev for t in p[:2]])
        sims, ok, y = pair_decisions(dev, emb, verifier)
        rows = curve(sims, ok, y, [round(x, 3) for x in np.arange(0.70, 1.0001, 0.005)])
        table(
            "dev: threshold curve",
            ["cos", "recall", "FHR", "recall+verifier", "FHR+verifier"],
            [
                [r["threshold"], r["recall"], r["fhr"], r["recall_verified"], r["fhr_verified"]]
                for r in rows[::2]
            ],
        )
        for target in (0.01, 0.015, 0.02, 0.05):
            console.print(
                f"dev FHR<={target:.3f}: cosine {recall_at_fhr(rows, target, False)}"
                f"  verified {recall_at_fhr(rows, target, True)}"
            )
        report["dev_curve"] = rows
        report["dev_rules_at_default"] = rule_breakdown(dev, sims, verifier)
        table(
            f"dev: verifier verdicts on pairs at cos >= {DEFAULT_SIMILARITY_THRESHOLD}",
            ["verdict", "duplicates", "non-duplicates"],
            [[k, v[1], v[0]] for k, v in report["dev_rules_at_default"].items()],
        )
        (results_dir / f"cache_calibration_{args.embedder}.json").write_text(
            json.dumps(report, indent=1)
        )
        return

    if args.only_latency:
        latency_only(args, report)
        latency_table(report)
        out = results_dir / "cache_bench_latency.json"
        out.write_text(json.dumps(report, indent=1, default=str))
        console.print(f"wrote {out}")
        return
    if args.only_anchors:
        anchors_only(args, base, report)
        out = results_dir / ("cache_anchors_quick.json" if args.quick else "cache_anchors.json")
        out.write_text(json.dumps(report, indent=1, default=str))
        console.print(f"wrote {out}")
        return
    if args.only_scale:
        scale_section(args, report)
        out = results_dir / "cache_bench_scale.json"
        out.write_text(json.dumps(report, indent=1, default=str))
        console.print(f"wrote {out}")
        return
    if args.only_pairwise:
        pairwise_only(args, base, verifier, thresholds, report)
        out = results_dir / "cache_bench_pairwise.json"
        out.write_text(json.dumps(report, indent=1, default=str))
        console.print(f"wrote {out}")
        return
    quick = args.quick
    pairs = load_pairs(args.data, 1000 if quick else None)
    paraphrases = load_paraphrases(args.data, 200 if quick else None)
    records = load_followups(args.data)
    texts = [normalized(t) for p in pairs for t in p[:2]] + [
        normalized(t) for p in paraphrases for t in p
    ]
    texts += [normalized(r[k]) for r in records for k in ("Main Query", "Follow-Up Query")]
    t0 = time.perf_counter()
    emb = Precomputed(base, texts)
    console.print(
        f"embedded {len(emb.table)} texts in {time.perf_counter() - t0:.1f}s ({args.embedder})"
    )
    console.print(CAVEAT)

    # 1. threshold curve on the test split (same decision function as the cache)
    sims, ok, y = pair_decisions(pairs, emb, verifier)
    rows = curve(sims, ok, y, thresholds)
    report["test_curve"] = rows
    table(
        "test (meancache): pairwise threshold curve",
        ["cos", "recall", "FHR", "recall+verifier", "FHR+verifier"],
        [
            [r["threshold"], r["recall"], r["fhr"], r["recall_verified"], r["fhr_verified"]]
            for r in rows
            if r["threshold"] >= 0.78
        ],
    )
    report["recall_at_fhr"] = {
        f"{t}": {"cosine": recall_at_fhr(rows, t, False), "verified": recall_at_fhr(rows, t, True)}
        for t in (0.01, 0.02, 0.05)
    }
    table(
        "recall at fixed FHR (test; oracle threshold, for comparison only)",
        ["FHR", "cosine only", "cosine+verifier"],
        [
            [t, v["cosine"]["recall"], v["verified"]["recall"]]
            for t, v in report["recall_at_fhr"].items()
        ],
    )
    report["plot"] = plot_curve(
        rows,
        results_dir / ("cache_threshold_curve_quick.png" if quick else "cache_threshold_curve.png"),
        f"meancache test.csv, {len(pairs)} pairs, {args.embedder} MiniLM",
    )

    with tempfile.TemporaryDirectory() as tmp:
        # 2. pairwise protocol through the real cache, shipped default
        proto: dict[str, Any] = {}
        for name, kw in (
            ("shipped default (verifier on)", {}),
            ("same threshold, verifier off", {"verify_hits": False}),
        ):
            cache = SemanticCache(
                backend=LocalBackend(path=Path(tmp) / f"p{len(proto)}.sqlite3", max_entries=None),
                embeddings=emb,
                **kw,
            )
            proto[name] = run_pairwise(cache, pairs)
            cache.close()
        report["pairwise"] = proto
        table(
            f"pairwise protocol, SemanticCache at cos {DEFAULT_SIMILARITY_THRESHOLD}",
            ["config", "recall", "FHR", "precision"],
            [[k, v["recall"], v["fhr"], v["precision"]] for k, v in proto.items()],
        )

        # 3. shared index
        shared: dict[str, Any] = {}
        for name, kw in (
            ("SemanticCache (verifier on)", {}),
            ("SemanticCache (verifier off)", {"verify_hits": False}),
        ):
            cache = SemanticCache(
                backend=LocalBackend(path=Path(tmp) / f"s{len(shared)}.sqlite3", max_entries=None),
                embeddings=emb,
                **kw,
            )
            shared[name] = run_shared(*ours_shared(cache), pairs)
            cache.close()
        wrong = shared["SemanticCache (verifier on)"]["wrong_examples"]
        sample = random.Random(0).sample(wrong, min(50, len(wrong)))
        (
            results_dir
            / ("cache_shared_wrong_hits_quick.json" if quick else "cache_shared_wrong_hits.json")
        ).write_text(json.dumps(sample, indent=1))
        for v in shared.values():
            v.pop("wrong_examples")

        # 4. paraphrases + follow-ups
        cache = SemanticCache(
            backend=LocalBackend(path=Path(tmp) / "g.sqlite3", max_entries=None), embeddings=emb
        )
        gpt_hits = 0
        for i, (o, s) in enumerate(paraphrases):
            with cache_scope(tenant_id=f"g{i}"):
                cache.update(prompt_of(o), LLM_STRING, [Generation(text="x")])
                gpt_hits += cache.lookup(prompt_of(s), LLM_STRING) is not None
        cache.close()
        report["gptcache_paraphrases"] = {
            "n": len(paraphrases),
            "recall": gpt_hits / len(paraphrases),
        }
        for policy in ("always", "standalone"):
            cache = SemanticCache(
                backend=LocalBackend(path=Path(tmp) / f"f-{policy}.sqlite3", max_entries=None),
                embeddings=emb,
                history_policy=policy,  # type: ignore[arg-type]
            )
            key = "followups" if policy == "always" else "followups_standalone"
            report[key] = run_followups(cache, records)
            cache.close()
        (
            results_dir
            / ("cache_followups_crossed_quick.json" if quick else "cache_followups_crossed.json")
        ).write_text(
            json.dumps(report["followups_standalone"].pop("other_conversation_hits"), indent=1)
        )
        report["followups"].pop("other_conversation_hits")

        # 5. latency, local backend
        lat_emb = OnnxEmbeddings() if args.embedder == "onnx" else LocalEmbeddings()
        lat_emb.encode(["warm"])
        report["latency_local"] = local_latency(lat_emb, pairs, Path(tmp))

        # 6. Redis backend + anchors
        if not args.no_redis:
            from tests.redis_server import RedisServer

            with RedisServer() as server:
                pin_server(server, args.redis_cpu)
                rcache = SemanticCache(
                    backend=RedisBackend(url=server.url, prefix="bench:"), embeddings=lat_emb
                )
                report["latency_redis"] = measure_latency(rcache, pairs)
                rcache.clear()
                rcache_acc = SemanticCache(
                    backend=RedisBackend(url=server.url, prefix="benchacc:"), embeddings=emb
                )
                res = run_shared(*ours_shared(rcache_acc), pairs)
                res.pop("wrong_examples")
                shared["SemanticCache on Redis (verifier on)"] = res
                rcache_acc.clear()
                rcache_acc.close()
                rcache.close()
                if args.burst:
                    report["redis_burst"] = run_burst(server.url, args.burst)
                if not args.no_anchors:
                    report["anchors"] = run_anchors(server.url, emb, lat_emb, pairs, records)
                    for k, v in report["anchors"].items():
                        shared[f"{k} (dist {v['distance_threshold']})"] = {
                            kk: vv
                            for kk, vv in v.items()
                            if kk in ("recall", "fhr", "precision", "hits", "wrong_on_duplicates")
                        }
        report["shared_index"] = shared
    table(
        "shared-index protocol (all question1 in one cache)",
        ["cache", "recall", "FHR", "precision", "hits"],
        [[k, v["recall"], v["fhr"], v["precision"], v["hits"]] for k, v in shared.items()],
    )
    f = report["followups"]
    fs = report["followups_standalone"]
    fu_rows = [
        [
            name,
            v["hits_in_other_conversation"],
            v["followup_hits_standalone"],
            v["hits_in_own_conversation"],
        ]
        for name, v in (
            ("SemanticCache (history_policy='always')", f),
            ("SemanticCache (history_policy='standalone'; crossed hits listed in JSON)", fs),
        )
    ]
    for k, v in report.get("anchors", {}).items():
        fu_rows.append([k, "n/a (keys on last message)", v["followup_hits"], "n/a"])
    table(
        f"contextual follow-ups ({f['n']}): hits outside their conversation must be 0",
        [
            "cache",
            "hits in another conversation",
            "standalone hits (follow-up vs stored)",
            "hits in own conversation",
        ],
        fu_rows,
    )
    console.print(
        "GPTCache paraphrases recall: "
        f"{report['gptcache_paraphrases']['recall']:.3f} (n={len(paraphrases)})"
    )
    latency_table(report)

    if "redis_burst" in report:
        b = report["redis_burst"]
        table(
            "Redis async burst (defaults: max_concurrency 64, socket_timeout 0.5 s)",
            ["calls", "errors", "hits in burst", "served after", "wall s", "p50 ms", "p95 ms"],
            [
                [
                    b["calls"],
                    b["errors"],
                    f"{b['burst_hits']} / {b['lookups_in_burst']}",
                    f"{b['stored_and_served_after']} / {b['lookups_in_burst']}",
                    b["wall_s"],
                    b["p50_ms"],
                    b["p95_ms"],
                ]
            ],
        )
    scale_section(args, report)
    out = results_dir / ("cache_bench_quick.json" if quick else "cache_bench.json")
    out.write_text(json.dumps(report, indent=1, default=str))
    console.print(f"wrote {out}")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
