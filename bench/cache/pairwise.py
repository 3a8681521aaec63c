"""Threshold curves and the pairwise protocol: ``python -m bench cache pairwise`` / ``dev-curve``.

``pairwise`` (MeanCache test split, all 9,042 pairs; ``--quick``: 1,000): the threshold curve
(cosine alone and with the near-miss verifier), recall at fixed false-hit rates (an oracle
threshold, for comparison only), the verifier's verdicts at the default threshold, the
pairwise protocol through the real cache (verifier on and off) and GPTCache's paraphrase
recall. Writes ``bench/results/cache_bench_pairwise.json``.

``dev-curve`` (the QQP dev pool, ``--dev-pairs`` balanced pairs): the threshold curve where
thresholds are chosen, and the verifier's verdicts at the default threshold. Writes
``bench/results/cache_calibration_onnx.json``.

Caveat printed beside the numbers: all-MiniLM-L6-v2 was trained on QQP duplicate pairs, so
recall on QQP positives is optimistic; QQP is non-commercial (internal evaluation only).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.outputs import Generation

from bench.cache.data import (
    CAVEAT,
    LLM_STRING,
    Precomputed,
    base_report,
    console,
    load_dev_pairs,
    load_pairs,
    load_paraphrases,
    normalized,
    prompt_of,
    table,
)
from bench.cache.protocols import curve, pair_decisions, recall_at_fhr, rule_breakdown, run_pairwise
from bench.common import write_json
from langchain_tokenopt.cache import (
    DEFAULT_SIMILARITY_THRESHOLD,
    LocalBackend,
    NearMissVerifier,
    SemanticCache,
    cache_scope,
)
from langchain_tokenopt.embeddings import OnnxEmbeddings

__all__ = [
    "TEST_THRESHOLDS",
    "dev_curve",
    "paraphrase_recall",
    "pairwise_protocol",
    "recall_at_fixed_fhr",
    "run",
]

#: The thresholds of the test curve (cosine 0.70 to 1.00 by 0.01).
TEST_THRESHOLDS = [round(x, 3) for x in np.arange(0.70, 1.0001, 0.01)]
#: The false-hit rates the test curve is read at.
FIXED_FHR = (0.01, 0.02, 0.05)


def recall_at_fixed_fhr(rows: list[dict[str, float]]) -> dict[str, Any]:
    """Recall at each of :data:`FIXED_FHR`, cosine alone and verified."""
    return {
        f"{t}": {"cosine": recall_at_fhr(rows, t, False), "verified": recall_at_fhr(rows, t, True)}
        for t in FIXED_FHR
    }


def pairwise_protocol(
    pairs: list[tuple[str, str, int]], emb: Precomputed, folder: Path
) -> dict[str, Any]:
    """The pairwise protocol through the real cache: shipped default, and the verifier off."""
    proto: dict[str, Any] = {}
    for name, verify in (
        ("shipped default (verifier on)", True),
        ("same threshold, verifier off", False),
    ):
        cache = SemanticCache(
            backend=LocalBackend(path=folder / f"p{len(proto)}.sqlite3", max_entries=None),
            embeddings=emb,
            verify_hits=verify,
        )
        proto[name] = run_pairwise(cache, pairs)
        cache.close()
    table(
        f"pairwise protocol (meancache test), SemanticCache at cos {DEFAULT_SIMILARITY_THRESHOLD}",
        ["config", "recall", "FHR", "precision"],
        [[k, v["recall"], v["fhr"], v["precision"]] for k, v in proto.items()],
    )
    return proto


def paraphrase_recall(
    paraphrases: list[tuple[str, str]], emb: Precomputed, folder: Path
) -> dict[str, Any]:
    """GPTCache's paraphrase pairs, each in a scope of its own: the share that hits."""
    cache = SemanticCache(
        backend=LocalBackend(path=folder / "g.sqlite3", max_entries=None), embeddings=emb
    )
    hits = 0
    for i, (o, s) in enumerate(paraphrases):
        with cache_scope(tenant_id=f"g{i}"):
            cache.update(prompt_of(o), LLM_STRING, [Generation(text="x")])
            hits += cache.lookup(prompt_of(s), LLM_STRING) is not None
    cache.close()
    return {"n": len(paraphrases), "recall": hits / len(paraphrases)}


def run(args: argparse.Namespace) -> None:
    """Test curve, pairwise protocol (verifier on and off) and GPTCache paraphrase recall."""
    report = base_report()
    verifier = NearMissVerifier()
    pairs = load_pairs(args.data, 1000 if args.quick else None)
    paraphrases = load_paraphrases(args.data, None)
    texts = [normalized(t) for p in pairs for t in p[:2]]
    texts += [normalized(t) for p in paraphrases for t in p]
    emb = Precomputed(OnnxEmbeddings(), texts)
    console.print(CAVEAT)
    sims, ok, y = pair_decisions(pairs, emb, verifier)
    rows = curve(sims, ok, y, TEST_THRESHOLDS)
    report["test_curve"] = rows
    report["recall_at_fhr"] = recall_at_fixed_fhr(rows)
    report["test_rules_at_default"] = rule_breakdown(pairs, sims, verifier)
    with tempfile.TemporaryDirectory() as tmp:
        report["pairwise"] = pairwise_protocol(pairs, emb, Path(tmp))
        report["gptcache_paraphrases"] = paraphrase_recall(paraphrases, emb, Path(tmp))
    console.print(f"GPTCache paraphrases: {report['gptcache_paraphrases']}")
    out = write_json(args.results / "cache_bench_pairwise.json", report, indent=1, default=str)
    console.print(f"wrote {out}")


def dev_curve(args: argparse.Namespace) -> None:
    """The threshold curve on the DEV split (where thresholds are chosen)."""
    report = base_report()
    verifier = NearMissVerifier()
    dev = load_dev_pairs(args.data, args.dev_pairs)
    console.print(f"[bold]Calibration on the DEV split[/] ({len(dev)} pairs, balanced)")
    emb = Precomputed(OnnxEmbeddings(), [normalized(t) for p in dev for t in p[:2]])
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
    out = write_json(args.results / "cache_calibration_onnx.json", report, indent=1)
    console.print(f"wrote {out}")
