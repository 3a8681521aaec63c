"""Ours beside redisvl, langchain-redis and GPTCache: ``python -m bench cache anchors``.

The shared-index protocol on MeanCache's test pairs (``--quick``: 1,000) and the follow-ups
asked without their conversation: our ``SemanticCache`` at its shipped default on the
embedded backend, each anchor at its own default (redisvl ``SemanticCache`` and
langchain-redis ``RedisSemanticCache`` on a Redis started for the run, GPTCache's
``init_similar_cache``). The same precomputed MiniLM vectors for accuracy, the real int8
embedder for lookup latency (the same 300 questions). Writes
``bench/results/cache_anchors.json`` and ``cache_anchors.png`` (``_quick`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import atexit
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.outputs import Generation

from bench.cache.data import (
    LLM_STRING,
    Precomputed,
    base_report,
    console,
    load_followups,
    load_pairs,
    normalized,
    shown,
    table,
)
from bench.cache.latency import pin_server, time_lookups, warm_embedder
from bench.cache.protocols import (
    Lookup,
    Store,
    anchor_followups,
    ours_shared,
    run_followups,
    run_shared,
)
from bench.common import write_json
from langchain_tokenopt.cache import DEFAULT_SIMILARITY_THRESHOLD, LocalBackend, SemanticCache
from langchain_tokenopt.embeddings import OnnxEmbeddings
from tests.redis_server import RedisServer

__all__ = ["GPTCacheAnchor", "Switchable", "plot_anchors", "run", "run_anchors"]


class Switchable(Embeddings):
    """Delegates to ``target`` (precomputed for accuracy runs, the real model for latency)."""

    def __init__(self, target: Embeddings) -> None:
        self.target = target

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.target.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.target.embed_query(text)


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
        from gptcache.embedding.base import BaseEmbedding  # type: ignore[import-untyped]

        class _MiniLM(BaseEmbedding):
            def to_embeddings(self, data: Any, **_: Any) -> np.ndarray:
                return np.asarray(switch.embed_query(str(data)), dtype=np.float32)

            @property
            def dimension(self) -> int:
                return 384

        return _MiniLM()

    def clear(self) -> None:
        """Start an empty cache (GPTCache has no clear: a new data folder each time)."""
        from gptcache import Cache  # type: ignore[import-untyped]
        from gptcache.adapter.api import init_similar_cache  # type: ignore[import-untyped]

        self.generation += 1
        self.cache = Cache()
        data_dir = str(self.folder / f"gptcache-{self.generation}")
        kwargs: dict[str, Any] = {}
        if self.max_size is not None:
            from gptcache.manager import manager_factory  # type: ignore[import-untyped]

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
        """The stored answer for ``question``, or ``None``."""
        from gptcache.adapter.api import get

        got = get(question, cache_obj=self.cache)
        return None if got is None else str(got)

    def store(self, question: str, answer: str) -> None:
        """Store ``answer`` for ``question``."""
        from gptcache.adapter.api import put

        put(question, answer, cache_obj=self.cache)


def _hits(lookup: Lookup) -> Callable[[str], bool]:
    return lambda q: lookup(q) is not None


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
    anchors: dict[str, tuple[Lookup, Store, Callable[[], Any]]] = {
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
        res["followup_hits"] = anchor_followups(_hits(lookup), store, records)
        clear()
        out[name] = res
    rvl.delete()
    return out


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
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return shown(path)


def run(args: argparse.Namespace) -> None:
    """Ours beside the anchors on the shared index alone (see the module docstring)."""
    report = base_report()
    pairs = load_pairs(args.data, 1000 if args.quick else None)
    records = load_followups(args.data)
    texts = [normalized(t) for p in pairs for t in p[:2]]
    texts += [normalized(r[k]) for r in records for k in ("Main Query", "Follow-Up Query")]
    emb = Precomputed(OnnxEmbeddings(), texts)
    real = warm_embedder()
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
    suffix = "_quick" if args.quick else ""
    report["plot"] = plot_anchors(
        rows,
        args.results / f"cache_anchors{suffix}.png",
        f"shared index, {len(pairs)} MeanCache test pairs: each cache at its default",
    )
    table(
        f"shared index, {len(pairs)} MeanCache test pairs: ours beside the anchors at their "
        f"defaults; {len(records)} follow-ups asked without their conversation",
        ["cache", "recall", "FHR", "precision", "hits", "follow-up hits", "lookup p50 / p95 ms"],
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
    out = write_json(args.results / f"cache_anchors{suffix}.json", report, indent=1, default=str)
    console.print(f"wrote {out}")
