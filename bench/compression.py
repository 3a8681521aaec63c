"""Prompt-compression benchmark: answers kept, JSON intact, ratio and speed.

Run from the repo root (numbers in the report come from this bench)::

    taskset -c 1 python -m bench compression            # full run on the test split
    taskset -c 1 python -m bench compression --quick    # small smoke run
    python -m bench compression --split dev ...         # calibration (dev split only)

Modes of QueryAwareCompressor: the default (int8 MiniLM over a bounded pool of 12 % of the
input's tokens, picked by a static model2vec table distilled from MiniLM plus BM25),
"thorough" (every item embedded: RankingConfig.thorough()) and "bm25 only" (--fast). The
baseline "whole-doc MiniLM" keeps the whole documents most similar to the question (int8
MiniLM over each document's first 1,000 characters) within the same budget, on the
same-topic settings; it and "thorough" run on the first --nq-thorough records. Each record
gets a fresh compressor, so no vector is reused between records (cold timing). "cpu ms/1k"
is process CPU time, which a shared machine inflates less than wall time.

Tasks (datasets from ../shared/datasets/compression, see its README):
* NQ-open gold passages as 10/20-document contexts, random and same-topic (BM25 nearest, no
  answer inside) distractors, at 4x and 10x: share of records whose answer survives.
* KV retrieval, 75 and 140 keys, at 2x and 4x: value kept and JSON still parses.
* GSM8K 8-shot CoT prompt at 5x: tokens, kept demonstrations, all whole.
* LLMLingua + local SmolLM2 side by side at the same budget on a small sample (slow).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import DATASETS, RESULTS, bench_options, percentile, write_json
from langchain_tokenopt.compression import QueryAwareCompressor, RankingConfig
from langchain_tokenopt.tokens import get_token_counter


def split_of(key: str) -> str:
    return "test" if int(hashlib.sha1(key.encode()).hexdigest(), 16) % 5 == 0 else "dev"


# --------------------------------------------------------------------------- data
def load_nq(data: Path) -> list[dict[str, Any]]:
    with gzip.open(data / "lost_in_the_middle" / "nq-open-oracle.jsonl.gz", "rt") as fh:
        return [json.loads(line) for line in fh]


def has_answer(text: str, answers: list[str]) -> bool:
    low = text.lower()
    return any(a.lower() in low for a in answers)


def build_nq(
    records: list[dict[str, Any]], split: str, n_docs: int, distractors: str, limit: int, seed: int
) -> list[dict[str, Any]]:
    pool = [(r["ctxs"][0]["title"], r["ctxs"][0]["text"]) for r in records]
    chosen = [i for i, r in enumerate(records) if split_of(r["question"]) == split][:limit]
    rng = random.Random(seed)
    retriever = None
    if distractors == "same_topic":
        import bm25s

        corpus = bm25s.tokenize([f"{t} {x}" for t, x in pool], stopwords="en", show_progress=False)
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
    out = []
    for i in chosen:
        rec = records[i]
        answers = rec["answers"]
        if retriever is not None:
            import bm25s

            q = bm25s.tokenize([rec["question"]], stopwords="en", show_progress=False)
            ids, _ = retriever.retrieve(q, k=min(200, len(pool)), show_progress=False)
            cands = [int(j) for j in ids[0]]
        else:
            cands = rng.sample(range(len(pool)), min(200, len(pool)))
        picked = [
            j for j in cands if j != i and not has_answer(pool[j][0] + " " + pool[j][1], answers)
        ][: n_docs - 1]
        docs = [pool[j] for j in picked]
        docs.insert(rng.randrange(n_docs), pool[i])
        texts = [f"Document [{k + 1}](Title: {t}) {x}" for k, (t, x) in enumerate(docs)]
        out.append({"question": rec["question"], "answers": answers, "docs": texts})
    return out


def format_kv(pairs: list[list[str]]) -> str:
    parts = []
    for index, (key, value) in enumerate(pairs):
        start = "{" if index == 0 else " "
        end = ",\n" if index != len(pairs) - 1 else "}"
        parts.append(f'{start}"{key}": "{value}"{end}')
    return "".join(parts)


def load_kv(data: Path, keys: int, split: str, limit: int) -> list[dict[str, Any]]:
    path = data / "lost_in_the_middle" / f"kv-retrieval-{keys}_keys.jsonl.gz"
    out = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            rec = json.loads(line)
            if split_of(rec["key"]) != split:
                continue
            out.append(rec)
            if len(out) >= limit:
                break
    return out


def gsm8k_demos(prompt: str) -> list[str]:
    return [d.strip() for d in re.split(r"\n\s*\n", prompt.strip()) if d.strip()]


# --------------------------------------------------------------------------- runs
def run_nq(compressor_factory: Any, cases: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    counter = get_token_counter(None)
    kept, ratios, ms_per_k, cpu_per_k, over, tokens = 0, [], [], [], 0, []
    for case in cases:
        before = counter.count("\n\n".join(case["docs"]))
        budget = max(1, int(before / rate))
        compressor = compressor_factory(budget)
        t0, c0 = time.perf_counter(), time.process_time()
        result = compressor.invoke({"context": case["docs"], "question": case["question"]})
        dt = (time.perf_counter() - t0) * 1000
        cpu_per_k.append((time.process_time() - c0) * 1000 / before * 1000)
        kept += has_answer(result.text, case["answers"])
        after = counter.count(result.text)
        over += after > budget
        ratios.append(before / max(after, 1))
        ms_per_k.append(dt / before * 1000)
        tokens.append(before)
    n = len(cases)
    return {
        "n": n,
        "answer_kept": kept / n if n else 0.0,
        "ratio_mean": statistics.fmean(ratios) if ratios else 0.0,
        "ms_per_1k_p50": statistics.median(ms_per_k) if ms_per_k else 0.0,
        "ms_per_1k_p95": percentile(ms_per_k, 95) if ms_per_k else 0.0,
        "cpu_ms_per_1k_p50": statistics.median(cpu_per_k) if cpu_per_k else 0.0,
        "tokens_before_mean": statistics.fmean(tokens) if tokens else 0.0,
        "over_budget": over,
    }


def run_kv(compressor_factory: Any, records: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    counter = get_token_counter(None)
    value_kept, parses, ratios, ms_per_k, cpu_per_k, over = 0, 0, [], [], [], 0
    for rec in records:
        context = format_kv(rec["ordered_kv_records"])
        before = counter.count(context)
        budget = max(1, int(before / rate))
        compressor = compressor_factory(budget)
        t0, c0 = time.perf_counter(), time.process_time()
        result = compressor.invoke({"context": context, "question": f'Key: "{rec["key"]}"'})
        ms_per_k.append((time.perf_counter() - t0) * 1000 / before * 1000)
        cpu_per_k.append((time.process_time() - c0) * 1000 / before * 1000)
        value_kept += rec["value"] in result.text
        try:
            parsed = json.loads(result.text)
            parses += isinstance(parsed, dict)
        except ValueError:
            pass
        after = counter.count(result.text)
        over += after > budget
        ratios.append(before / max(after, 1))
    n = len(records)
    return {
        "n": n,
        "value_kept": value_kept / n if n else 0.0,
        "json_parses": parses / n if n else 0.0,
        "ratio_mean": statistics.fmean(ratios) if ratios else 0.0,
        "ms_per_1k_p50": statistics.median(ms_per_k) if ms_per_k else 0.0,
        "cpu_ms_per_1k_p50": statistics.median(cpu_per_k) if cpu_per_k else 0.0,
        "over_budget": over,
    }


def run_gsm8k(
    compressor_factory: Any, prompt: str, questions: list[str], rate: float
) -> dict[str, Any]:
    counter = get_token_counter(None)
    demos = gsm8k_demos(prompt)
    before = counter.count(prompt)
    budget = max(1, int(before / rate))
    compressor = compressor_factory(budget)
    whole, kept_counts, afters, times, truncated = 0, [], [], [], 0
    for question in questions:
        t0 = time.perf_counter()
        result = compressor.invoke({"context": prompt, "question": question})
        times.append((time.perf_counter() - t0) * 1000)
        blocks = gsm8k_demos(result.text)
        kept = [b for b in blocks if b in demos]
        truncated += len(blocks) - len(kept)
        whole += len(kept) == len(blocks)
        kept_counts.append(len(kept))
        afters.append(counter.count(result.text))
    n = len(questions)
    return {
        "n": n,
        "tokens_before": before,
        "budget": budget,
        "tokens_after_mean": statistics.fmean(afters) if afters else 0,
        "ratio": before / max(statistics.fmean(afters), 1) if afters else 0.0,
        "over_budget": sum(a > budget for a in afters),
        "demos_kept_mean": statistics.fmean(kept_counts) if kept_counts else 0,
        "all_kept_whole": whole / n if n else 0.0,
        "truncated_blocks": truncated,
        "ms_mean": statistics.fmean(times) if times else 0.0,
    }


class WholeDocumentBaseline:
    """Keep the whole documents most similar to the question (MiniLM), within the budget."""

    def __init__(self, budget: int) -> None:
        from langchain_tokenopt.embeddings import (
            LocalEmbeddings,
            OnnxEmbeddings,
            get_default_query_embeddings,
        )

        self.budget = budget
        embeddings = get_default_query_embeddings()
        if not isinstance(embeddings, OnnxEmbeddings | LocalEmbeddings):
            msg = f"the baseline needs the packaged MiniLM, got {type(embeddings).__name__}"
            raise TypeError(msg)
        self.embeddings = embeddings
        self.counter = get_token_counter(None)

    def invoke(self, value: dict[str, Any]) -> Any:
        from types import SimpleNamespace

        docs = list(value["context"])
        vectors = self.embeddings.encode([value["question"], *(d[:1000] for d in docs)])
        sims = vectors[1:] @ vectors[0]
        kept: list[int] = []
        used = 0
        for i in sorted(range(len(docs)), key=lambda i: (-float(sims[i]), i)):
            cost = self.counter.count(docs[i]) + 1
            if used + cost <= self.budget:
                kept.append(i)
                used += cost
        kept.sort()
        while kept and self.counter.count("\n\n".join(docs[i] for i in kept)) > self.budget:
            kept.remove(min(kept, key=lambda i: float(sims[i])))
        return SimpleNamespace(text="\n\n".join(docs[i] for i in kept))


#: What a NQ mode builds for a budget: our compressor or the whole-document baseline.
Compressor = QueryAwareCompressor | WholeDocumentBaseline


def _nq_row(table: Any, n_docs: int, distractors: str, rate: float, row: dict[str, Any]) -> None:
    table.add_row(
        str(n_docs),
        distractors,
        f"{rate:g}x",
        str(row["n"]),
        f"{row['answer_kept']:.3f}",
        f"{row['ratio_mean']:.1f}x",
        f"{row['ms_per_1k_p50']:.1f}",
        f"{row['ms_per_1k_p95']:.1f}",
        f"{row['cpu_ms_per_1k_p50']:.1f}",
        str(row["over_budget"]),
    )


# --------------------------------------------------------------------------- main
def register(sub: argparse._SubParsersAction) -> None:
    """Add ``compression`` to the dispatcher's subparsers."""
    parser = sub.add_parser(
        "compression", help="prompt compression: answers kept, JSON intact, ratio, speed"
    )
    parser.add_argument("--data", type=Path, default=DATASETS / "compression")
    parser.add_argument("--split", choices=["dev", "test"], default="test")
    parser.add_argument("--quick", action="store_true", help="small run")
    parser.add_argument("--nq", type=int, default=10_000, help="NQ records per setting (all)")
    parser.add_argument(
        "--nq-thorough", type=int, default=200, help="NQ records per setting, thorough mode"
    )
    parser.add_argument("--kv", type=int, default=10_000, help="KV records per setting (all)")
    parser.add_argument("--gsm8k", type=int, default=10_000, help="GSM8K questions (all)")
    parser.add_argument("--fast", action="store_true", help="also run the BM25-only mode on NQ")
    parser.add_argument(
        "--no-thorough", action="store_true", help="skip the thorough (embed every item) mode"
    )
    parser.add_argument("--lingua", type=int, default=10, help="NQ records for LLMLingua (0: skip)")
    parser.add_argument("--lingua-kv", type=int, default=2, help="KV records for LLMLingua")
    parser.add_argument(
        "--nq-settings",
        default="10_random,10_same_topic,20_random,20_same_topic",
        help="NQ settings to run (comma list of DOCS_DISTRACTORS)",
    )
    parser.add_argument("--rates", default="4,10", help="NQ compression rates (comma list)")
    parser.add_argument("--skip-kv", action="store_true", help="skip the KV-retrieval rows")
    parser.add_argument("--skip-gsm8k", action="store_true", help="skip the GSM8K row")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the whole-doc MiniLM baseline rows"
    )
    parser.add_argument(
        "--ranking",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a RankingConfig field of the default mode (calibration on dev), "
        "e.g. --ranking probe_share=0",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "compression.json")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """The compression bench (see the module docstring)."""
    overrides = {key: _literal(value) for key, value in (o.split("=", 1) for o in args.ranking)}
    settings = [s.strip() for s in args.nq_settings.split(",") if s.strip()]
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    if args.quick:
        args.nq, args.kv, args.gsm8k, args.lingua, args.lingua_kv = 20, 5, 3, 2, 1
        args.nq_thorough = 20

    import torch

    torch.set_num_threads(1)
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    results: dict[str, Any] = {
        "split": args.split,
        "args": {k: str(v) for k, v in bench_options(args).items()},
    }

    default_ranking = RankingConfig(**overrides)

    def ours(budget: int) -> QueryAwareCompressor:
        return QueryAwareCompressor(target_tokens=budget, ranking=default_ranking)

    def fast(budget: int) -> QueryAwareCompressor:
        return QueryAwareCompressor(target_tokens=budget, use_embeddings=False)

    def thorough(budget: int) -> QueryAwareCompressor:
        return QueryAwareCompressor(target_tokens=budget, ranking=RankingConfig.thorough())

    # warm up the embedder so model load time is not counted
    ours(5).invoke({"context": ["warm up one. two.", "three. four."], "question": "warm"})

    nq = load_nq(args.data)
    table = Table(title=f"NQ-open multi-document ({args.split} split) - QueryAwareCompressor")
    for col in (
        "docs",
        "distractors",
        "rate",
        "n",
        "answer kept",
        "ratio",
        "ms/1k p50",
        "ms/1k p95",
        "cpu ms/1k p50",
        "over budget",
    ):
        table.add_column(col)
    nq_cases: dict[str, list[dict[str, Any]]] = {}
    for n_docs in (10, 20):
        for distractors in ("random", "same_topic"):
            if f"{n_docs}_{distractors}" not in settings:
                continue
            cases = build_nq(nq, args.split, n_docs, distractors, args.nq, seed=13)
            nq_cases[f"{n_docs}_{distractors}"] = cases
            for rate in rates:
                modes: list[tuple[str, Callable[[int], Compressor]]] = [("", ours)]
                if not args.no_thorough:
                    modes.append((" (thorough)", thorough))
                if args.fast:
                    modes.append((" (bm25 only)", fast))
                if distractors == "same_topic" and not args.no_baseline:
                    modes.append((" (whole-doc MiniLM)", WholeDocumentBaseline))
                for label, factory in modes:
                    subset = cases if factory in (ours, fast) else cases[: args.nq_thorough]
                    row = run_nq(factory, subset, rate)
                    results[f"nq_{n_docs}docs_{distractors}_{rate:g}x{label.strip()}"] = row
                    _nq_row(table, n_docs, distractors + label, rate, row)
    console.print(table)

    kv_records = {keys: load_kv(args.data, keys, args.split, args.kv) for keys in (75, 140)}
    if not args.skip_kv:
        _kv_section(args, ours, kv_records, results, console)
    prompt = (args.data / "gsm8k" / "prompt_hardest.txt").read_text()
    with open(args.data / "gsm8k" / "test.jsonl") as fh:
        gsm = [json.loads(line)["question"] for line in fh]
    gsm = [q for q in gsm if split_of(q) == args.split][: args.gsm8k]
    if not args.skip_gsm8k:
        _gsm8k_section(args, ours, prompt, gsm, results, console)

    if args.lingua > 0:
        results["side_by_side"] = side_by_side(
            args,
            nq_cases,
            kv_records,
            prompt,
            gsm,
            [("query-aware", ours), ("query-aware thorough", thorough)],
            console,
        )

    write_json(args.out, results)
    console.print(f"wrote {args.out}")


def _kv_section(
    args: argparse.Namespace,
    ours: Any,
    kv_records: dict[int, list[dict[str, Any]]],
    results: dict[str, Any],
    console: Any,
) -> None:
    from rich.table import Table

    table = Table(title=f"KV retrieval ({args.split} split) - QueryAwareCompressor")
    for col in (
        "keys",
        "rate",
        "n",
        "value kept",
        "JSON parses",
        "ratio",
        "ms/1k p50",
        "cpu ms/1k p50",
        "over budget",
    ):
        table.add_column(col)
    for keys in (75, 140):
        for rate in (2.0, 4.0):
            row = run_kv(ours, kv_records[keys], rate)
            results[f"kv_{keys}keys_{rate:g}x"] = row
            table.add_row(
                str(keys),
                f"{rate:g}x",
                str(row["n"]),
                f"{row['value_kept']:.3f}",
                f"{row['json_parses']:.3f}",
                f"{row['ratio_mean']:.1f}x",
                f"{row['ms_per_1k_p50']:.1f}",
                f"{row['cpu_ms_per_1k_p50']:.1f}",
                str(row["over_budget"]),
            )
    console.print(table)


def _gsm8k_section(
    args: argparse.Namespace,
    ours: Any,
    prompt: str,
    gsm: list[str],
    results: dict[str, Any],
    console: Any,
) -> None:
    from rich.table import Table

    row = run_gsm8k(ours, prompt, gsm, 5.0)
    results["gsm8k_5x"] = row
    table = Table(title=f"GSM8K 8-shot CoT prompt at 5x ({args.split} split questions)")
    for col in (
        "n",
        "tokens before",
        "budget",
        "tokens after",
        "ratio",
        "demos kept",
        "all whole",
        "truncated",
        "over budget",
        "ms",
    ):
        table.add_column(col)
    table.add_row(
        str(row["n"]),
        str(row["tokens_before"]),
        str(row["budget"]),
        f"{row['tokens_after_mean']:.0f}",
        f"{row['ratio']:.2f}x",
        f"{row['demos_kept_mean']:.1f}",
        f"{row['all_kept_whole']:.2f}",
        str(row["truncated_blocks"]),
        str(row["over_budget"]),
        f"{row['ms_mean']:.0f}",
    )
    console.print(table)


def _literal(value: str) -> Any:
    """Parse a ``--ranking`` value: a Python literal (number, tuple, None) or a string."""
    import ast

    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def side_by_side(
    args: argparse.Namespace,
    nq_cases: dict[str, list[dict[str, Any]]],
    kv_records: dict[int, list[dict[str, Any]]],
    prompt: str,
    gsm: list[str],
    mine: list[tuple[str, Any]],
    console: Any,
) -> dict[str, Any]:
    from rich.table import Table

    from langchain_tokenopt.compression import LLMLinguaCompressor

    lingua = LLMLinguaCompressor(target_tokens=100)

    def theirs(budget: int) -> LLMLinguaCompressor:
        return lingua.with_budget(budget)

    out: dict[str, Any] = {}
    table = Table(title="Side by side at the same token budget (small sample)")
    for col in ("task", "method", "n", "kept", "JSON parses", "ratio", "ms/1k p50", "over budget"):
        table.add_column(col)
    for key, rate in (("10_random", 4.0), ("20_same_topic", 10.0)):
        cases = nq_cases[key][: args.lingua]
        for name, factory in [*mine, ("llmlingua+smollm2", theirs)]:
            row = run_nq(factory, cases, rate)
            out[f"nq_{key}_{rate:g}x_{name}"] = row
            table.add_row(
                f"NQ {key} {rate:g}x",
                name,
                str(row["n"]),
                f"{row['answer_kept']:.2f}",
                "-",
                f"{row['ratio_mean']:.1f}x",
                f"{row['ms_per_1k_p50']:.0f}",
                str(row["over_budget"]),
            )
    records = kv_records[75][: args.lingua_kv]
    for name, factory in [*mine, ("llmlingua+smollm2", theirs)]:
        row = run_kv(factory, records, 2.0)
        out[f"kv_75keys_2x_{name}"] = row
        table.add_row(
            "KV 75 keys 2x",
            name,
            str(row["n"]),
            f"{row['value_kept']:.2f}",
            f"{row['json_parses']:.2f}",
            f"{row['ratio_mean']:.1f}x",
            f"{row['ms_per_1k_p50']:.0f}",
            str(row["over_budget"]),
        )
    for name, factory in [*mine, ("llmlingua+smollm2", theirs)]:
        row = run_gsm8k(factory, prompt, gsm[:1], 5.0)
        out[f"gsm8k_5x_{name}"] = row
        table.add_row(
            "GSM8K 5x",
            name,
            "1",
            f"{row['demos_kept_mean']:.0f} demos whole={row['all_kept_whole']:.0f}",
            "-",
            f"{row['tokens_before'] / max(row['tokens_after_mean'], 1):.1f}x",
            f"{row['ms_mean'] / row['tokens_before'] * 1000:.0f}",
            str(row["over_budget"]),
        )
    console.print(table)
    return out
