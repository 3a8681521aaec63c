"""Semantic-cache benches: ``python -m bench cache <subcommand>``.

Subcommands (each module's docstring says what it measures and where it writes):

* ``run``: every section on MeanCache's test split (:mod:`bench.cache.run`);
* ``pairwise``: the test threshold curve, pairwise protocol, GPTCache paraphrases
  (:mod:`bench.cache.pairwise`); ``dev-curve``: the threshold curve on the QQP dev pool;
* ``latency``: lookup latency, local and Redis (:mod:`bench.cache.latency`);
* ``anchors``: ours beside redisvl, langchain-redis and GPTCache (:mod:`bench.cache.anchors`);
* ``scale``: exact vs HNSW crossover and the local backend at 100k / 1M entries
  (:mod:`bench.cache.scale`);
* ``calibration``: online threshold calibration on request streams
  (:mod:`bench.cache.calibration`);
* ``hard-negatives``: one-slot perturbations of real questions (:mod:`bench.cache.hard_negatives`);
* ``cluster``: Redis Cluster facts, latency and spread (:mod:`bench.cache_cluster`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import DATASETS, handler, results_option

__all__ = ["register"]


def _data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", type=Path, default=DATASETS, help="datasets folder (default: ../shared/datasets)"
    )
    results_option(parser)


def _quick(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--quick", action="store_true", help=help)


def _redis_cpu(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis-cpu",
        type=int,
        default=None,
        help="pin the bench's Redis server to this CPU (as on its own host); default: inherit",
    )


def _scale(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scale",
        type=int,
        nargs="*",
        default=None,
        help="scale-run sizes (default 100000, 20000 with --quick; add 1000000)",
    )


def _run_options(p: argparse.ArgumentParser) -> None:
    _data(p)
    _quick(p, "small run (1,000 pairs, 20,000 entries at scale)")
    _scale(p)
    p.add_argument(
        "--burst",
        type=int,
        default=None,
        help="async calls in the Redis burst (default 10000, 1000 with --quick; 0 skips)",
    )
    _redis_cpu(p)
    p.add_argument("--no-redis", action="store_true", help="skip the Redis backend and anchors")
    p.add_argument(
        "--no-anchors", action="store_true", help="skip redisvl, langchain-redis, GPTCache"
    )


def _calibration_options(p: argparse.ArgumentParser) -> None:
    _data(p)
    p.add_argument("--split", choices=["dev", "test"], default="test")
    p.add_argument("--stream", choices=["own", "qqp", "both"], default="both")
    p.add_argument("--tenants", type=int, default=3, help="orders of the own stream")
    p.add_argument("--clusters", type=int, default=200, help="QQP clusters")
    p.add_argument("--judge", choices=["builtin", "exact"], default="builtin")
    p.add_argument("--max-error-rate", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--pool",
        choices=["tenant", "cache"],
        default="tenant",
        help="whose evidence a threshold rests on (OnlineCalibration.pool)",
    )
    p.add_argument("--exploration", type=float, default=None, help="default: the library's")
    p.add_argument(
        "--word-confirmations",
        type=int,
        default=None,
        help="OnlineCalibration.word_confirmations (default: the library's; 0 learns no words)",
    )
    p.add_argument(
        "--max-candidates",
        type=int,
        default=None,
        help="SemanticCache(max_candidates=...): nearest entries checked in turn (default: the "
        "library's; 1 = the nearest only)",
    )
    p.add_argument(
        "--verifier-audit",
        action="store_true",
        help="also audit the verifier pairwise on the own stream's split",
    )
    p.add_argument("--out", default=None, help="result file stem (default by split)")
    p.add_argument(
        "--sweep",
        default="",
        help="comma-separated fixed thresholds also replayed without calibration (hindsight)",
    )


def _hard_negative_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data", type=Path, default=DATASETS, help="datasets folder (default: ../shared/datasets)"
    )
    p.add_argument("--per-kind", type=int, default=300, help="pairs per kind and split")
    p.add_argument("--seed", type=int, default=0)
    results_option(p)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results file (default: cache_hard_negatives.json in --results)",
    )
    p.add_argument("--no-cache", action="store_true", help="verifier only (no embedder)")
    p.add_argument(
        "--dump-dev",
        type=Path,
        default=None,
        help="write the DEV split's failures here (negatives accepted, positives refused by "
        "reason) to study them; never the test split's",
    )


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``cache`` and its subcommands to the dispatcher's subparsers."""
    cache = sub.add_parser("cache", help="semantic cache: hit quality, latency, scale, cluster")
    cmds = cache.add_subparsers(dest="subcommand", required=True, metavar="<subcommand>")

    p = cmds.add_parser("run", help="every section: curves, protocols, anchors, latency, scale")
    _run_options(p)
    p.set_defaults(func=handler("bench.cache.run"))

    p = cmds.add_parser("pairwise", help="test threshold curve, pairwise protocol, paraphrases")
    _data(p)
    _quick(p, "1,000 test pairs")
    p.set_defaults(func=handler("bench.cache.pairwise"))

    p = cmds.add_parser("dev-curve", help="threshold curve on the QQP dev pool")
    _data(p)
    p.add_argument("--dev-pairs", type=int, default=10_000, help="balanced dev pairs")
    p.set_defaults(func=handler("bench.cache.pairwise", "dev_curve"))

    p = cmds.add_parser("latency", help="lookup latency, local and Redis backends")
    _data(p)
    _redis_cpu(p)
    p.add_argument("--no-redis", action="store_true", help="the local backend only")
    p.set_defaults(func=handler("bench.cache.latency"))

    p = cmds.add_parser("anchors", help="ours beside redisvl, langchain-redis and GPTCache")
    _data(p)
    _quick(p, "1,000 test pairs")
    _redis_cpu(p)
    p.set_defaults(func=handler("bench.cache.anchors"))

    p = cmds.add_parser("scale", help="exact vs HNSW crossover, the local backend at scale")
    results_option(p)
    _quick(p, "smaller crossover sizes, 20,000 entries")
    _scale(p)
    p.set_defaults(func=handler("bench.cache.scale"))

    p = cmds.add_parser("calibration", help="online threshold calibration on request streams")
    _calibration_options(p)
    p.set_defaults(func=handler("bench.cache.calibration"))

    p = cmds.add_parser("hard-negatives", help="perturbed near misses: verifier and cache FHR")
    _hard_negative_options(p)
    p.set_defaults(func=handler("bench.cache.hard_negatives"))

    p = cmds.add_parser("cluster", help="Redis Cluster: facts, latency, spread")
    p.add_argument("--quick", action="store_true", help="60 scopes x 10 entries, 500 calls")
    results_option(p)
    p.set_defaults(func=handler("bench.cache_cluster"))
