"""Hard negatives for the semantic cache: one-slot perturbations of real questions.

Run from the repository root::

    OMP_NUM_THREADS=1 python -m bench cache hard-negatives            # dev and test
    OMP_NUM_THREADS=1 python -m bench cache hard-negatives --per-kind 100 --out x.json
    python -m bench cache hard-negatives --no-cache --dump-dev dev.json  # dev failures

Questions come from the cache dev pool (``cache/gptcache/similiar_qqp_full.json.gz`` minus
every pair of ``cache/meancache/test.csv``). Each question is perturbed by one of these
kinds, so that the answer changes:

``antonym`` (a polarity word swapped: safe/unsafe, increase/decrease ...), ``negation``
(``not`` inserted after the first auxiliary, or removed), ``number`` (a number changed),
``unit`` (same number, another unit of the same dimension), ``time`` (am/pm or the hour),
``date`` (month, weekday or year), ``entity`` (a country, city, language or company
swapped for another of its group), ``role`` ("from X to Y" / "X to Y" / "A than B" with the
two swapped), ``comparative`` (better/worse, faster/slower, more/less ...).

Where a question has no time or date, the pair is made by appending one to both sides
("... at 7 pm" / "... at 7 am"), so every kind has enough pairs. A question is in **test**
when ``sha1(question) % 5 == 0`` (the repository's split rule), else in **dev**.
Positives are GPTCache's paraphrase pairs (``cache/gptcache/mock_data.json``).

Two measurements per pair: the verifier alone (``verify(perturbed, original)``) and the full
:class:`SemanticCache` at its default threshold with the packaged embedder (the original
stored in a scope of its own, the perturbation looked up). Reports the false-hit rate per
kind, overall, and the paraphrase recall; writes ``bench/results/cache_hard_negatives.json``
(``--out FILE`` or ``--results DIR`` elsewhere).
Caveat: QQP is for non-commercial, internal evaluation only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.outputs import Generation

from bench.cache.data import LLM_STRING, Precomputed, prompt_of, qqp_dev_pool
from bench.common import percentile, write_json
from langchain_tokenopt.cache import (
    DEFAULT_SIMILARITY_THRESHOLD,
    LocalBackend,
    NearMissVerifier,
    SemanticCache,
    cache_scope,
)
from langchain_tokenopt.embeddings import OnnxEmbeddings

__all__ = [
    "KINDS",
    "PERTURB",
    "dev_pool_questions",
    "make_negatives",
    "paraphrases",
    "run",
    "split_of",
    "through_cache",
]

KINDS = (
    "antonym",
    "negation",
    "number",
    "unit",
    "time",
    "date",
    "entity",
    "role",
    "comparative",
)

# ----------------------------------------------------------------------------- vocabulary
# Written by hand (not from WordNet, so the set does not test the lexicon against itself).
_POLAR = [
    ("safe", "unsafe"),
    ("safe", "dangerous"),
    ("increase", "decrease"),
    ("increase", "reduce"),
    ("open", "closed"),
    ("hard", "soft"),
    ("good", "bad"),
    ("cheap", "expensive"),
    ("easy", "difficult"),
    ("positive", "negative"),
    ("legal", "illegal"),
    ("possible", "impossible"),
    ("true", "false"),
    ("high", "low"),
    ("fast", "slow"),
    ("big", "small"),
    ("hot", "cold"),
    ("win", "lose"),
    ("buy", "sell"),
    ("start", "stop"),
    ("love", "hate"),
    ("rich", "poor"),
    ("strong", "weak"),
    ("healthy", "unhealthy"),
    ("vegan", "vegetarian"),
    ("male", "female"),
    ("men", "women"),
    ("before", "after"),
    ("import", "export"),
    ("upload", "download"),
    ("enable", "disable"),
    ("pros", "cons"),
    ("advantages", "disadvantages"),
    ("success", "failure"),
    ("happy", "sad"),
    ("accept", "reject"),
    ("private", "public"),
    ("old", "new"),
    ("wet", "dry"),
    ("light", "dark"),
    ("north", "south"),
    ("east", "west"),
    ("learn", "forget"),
    ("friend", "enemy"),
    ("like", "dislike"),
    ("always", "never"),
    ("introvert", "extrovert"),
    ("gain", "lose"),
    ("increase", "lower"),
]
_COMPARATIVE = [
    ("better", "worse"),
    ("best", "worst"),
    ("faster", "slower"),
    ("bigger", "smaller"),
    ("larger", "smaller"),
    ("more", "less"),
    ("most", "least"),
    ("higher", "lower"),
    ("cheaper", "more expensive"),
    ("easier", "harder"),
    ("older", "younger"),
    ("longer", "shorter"),
    ("stronger", "weaker"),
    ("richer", "poorer"),
    ("smarter", "dumber"),
    ("safer", "more dangerous"),
    ("greater", "smaller"),
    ("hardest", "easiest"),
    ("richest", "poorest"),
    ("biggest", "smallest"),
    ("largest", "smallest"),
]
_UNIT_SWAPS = {
    "km": "miles",
    "kilometers": "miles",
    "miles": "km",
    "mile": "km",
    "kg": "pounds",
    "kgs": "lbs",
    "kilograms": "pounds",
    "pounds": "kilograms",
    "lbs": "kg",
    "dollars": "euros",
    "dollar": "euro",
    "euros": "dollars",
    "rupees": "dollars",
    "rs": "dollars",
    "years": "months",
    "year": "month",
    "months": "weeks",
    "month": "week",
    "days": "weeks",
    "day": "week",
    "weeks": "days",
    "hours": "minutes",
    "hour": "minute",
    "minutes": "seconds",
    "percent": "points",
    "%": " dollars",
    "gb": "mb",
    "GB": "MB",
    "mb": "gb",
    "MB": "GB",
    "inches": "cm",
    "feet": "meters",
    "cm": "inches",
    "grams": "ounces",
    "g": "oz",
    "lakhs": "crores",
    "lakh": "crore",
    "crores": "lakhs",
}
_ENTITY_GROUPS = [
    "India China Pakistan Japan Germany France Italy Spain Canada Australia Russia Brazil "
    "Mexico Israel Iran Egypt Nigeria Kenya Singapore Dubai USA UK America Britain Europe "
    "Africa Asia",
    "Delhi Mumbai Bangalore Chennai Hyderabad Pune Kolkata London Paris Berlin Tokyo York "
    "Toronto Sydney Chicago Boston Seattle",
    "Python Java JavaScript C++ Ruby PHP Swift Kotlin Go Rust Perl Scala MATLAB R",
    "Google Facebook Apple Microsoft Amazon Quora Twitter Netflix Uber Tesla Samsung Intel "
    "Infosys TCS Wipro IBM Oracle Flipkart",
    "Trump Clinton Obama Modi Hillary Kejriwal Gandhi Putin Hitler Einstein",
    "Hindu Muslim Christian Jewish Buddhist Sikh",
    "Android iOS Windows Linux Mac",
    "IIT IIM NIT MIT Harvard Stanford",
]
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_AUX = re.compile(
    r"\b(is|are|was|were|can|could|should|would|will|do|does|did|has|have|must)\b(?= \w)",
    re.I,
)
_NEG = re.compile(r"\b(not|never|no)\b |n't\b", re.I)
_NUMBER = re.compile(r"(?<![\w.,])(\d+(?:\.\d+)?)(?![\w.,]*\d)")
_UNIT_AFTER_NUMBER = re.compile(
    r"(?<=\d)( ?)(" + "|".join(re.escape(u) for u in sorted(_UNIT_SWAPS, key=len)[::-1]) + r")\b"
)
_TIME = re.compile(r"\b(\d{1,2})(:\d\d)? ?(am|pm|a\.m\.|p\.m\.)", re.I)
_YEAR = re.compile(r"\b(19[5-9]\d|20[0-3]\d)\b")
_FUNCTION = set(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "it",
        "is",
        "are",
        "was",
        "were",
        "be",
        "to",
        "of",
        "in",
        "on",
        "for",
        "with",
        "and",
        "or",
        "my",
        "your",
        "i",
        "me",
        "we",
        "you",
        "he",
        "she",
        "they",
        "what",
        "how",
        "why",
        "when",
        "where",
        "which",
        "who",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "from",
        "by",
        "at",
        "as",
    ]
)


def _swap_word(text: str, pairs: Sequence[tuple[str, str]], rng: random.Random) -> str | None:
    options = []
    for a, b in pairs:
        for x, y in ((a, b), (b, a)):
            for m in re.finditer(rf"\b{re.escape(x)}\b", text, re.I):
                options.append((m, y))
    if not options:
        return None
    m, y = rng.choice(options)
    y = y.capitalize() if m[0][0].isupper() else y
    return text[: m.start()] + y + text[m.end() :]


def p_antonym(q: str, rng: random.Random) -> tuple[str, str] | None:
    out = _swap_word(q, _POLAR, rng)
    return (q, out) if out else None


def p_comparative(q: str, rng: random.Random) -> tuple[str, str] | None:
    out = _swap_word(q, _COMPARATIVE, rng)
    return (q, out) if out else None


def p_negation(q: str, rng: random.Random) -> tuple[str, str] | None:
    neg = _NEG.search(q)
    if neg:
        out = q[: neg.start()] + ("" if neg[0].startswith("n'") else "") + q[neg.end() :]
        out = re.sub(r"\bca\b", "can", re.sub(r"\bwo\b", "will", out))
        return (q, " ".join(out.split()))
    aux = _AUX.search(q)
    if not aux:
        return None
    return (q, q[: aux.end()] + " not" + q[aux.end() :])


def p_number(q: str, rng: random.Random) -> tuple[str, str] | None:
    found = [m for m in _NUMBER.finditer(q) if not _YEAR.fullmatch(m[1])]
    if not found:
        return None
    m = rng.choice(found)
    value = float(m[1])
    new = value + rng.choice([1, 2, 5, 10]) if value < 20 else value * rng.choice([2, 3])
    text = str(int(new)) if new == int(new) else f"{new:g}"
    return (q, q[: m.start(1)] + text + q[m.end(1) :])


def p_unit(q: str, rng: random.Random) -> tuple[str, str] | None:
    found = list(_UNIT_AFTER_NUMBER.finditer(q))
    if found:
        m = rng.choice(found)
        return (q, q[: m.start(2)] + _UNIT_SWAPS[m[2]].strip() + q[m.end(2) :])
    return None


def p_time(q: str, rng: random.Random) -> tuple[str, str] | None:
    m = _TIME.search(q)
    if m:
        flip = "pm" if m[3].lower().startswith("a") else "am"
        return (q, q[: m.start(3)] + flip + q[m.end(3) :])
    hour = rng.randint(1, 11)
    base = q.rstrip("?.! ")
    end = q[len(base) :] or "?"
    a, b = rng.choice([("am", "pm"), ("pm", "am")])
    if rng.random() < 0.5:
        return (f"{base} at {hour} {a}{end}", f"{base} at {hour} {b}{end}")
    other = hour % 11 + 1
    return (f"{base} at {hour}:30 {a}{end}", f"{base} at {other}:30 {a}{end}")


def p_date(q: str, rng: random.Random) -> tuple[str, str] | None:
    year = _YEAR.search(q)
    if year:
        new = str(int(year[1]) + rng.choice([-2, -1, 1, 2]))
        return (q, q[: year.start()] + new + q[year.end() :])
    for names in (_MONTHS, _WEEKDAYS):
        for name in names:
            m = re.search(rf"\b{name}\b", q)
            if m and name != "May":
                other = rng.choice([n for n in names if n != name])
                return (q, q[: m.start()] + other + q[m.end() :])
    base = q.rstrip("?.! ")
    end = q[len(base) :] or "?"
    a, b = rng.sample(_MONTHS + _WEEKDAYS[:5], 2) if rng.random() < 0.5 else rng.sample(_MONTHS, 2)
    prep = "on" if a in _WEEKDAYS else "in"
    prep_b = "on" if b in _WEEKDAYS else "in"
    return (f"{base} {prep} {a}{end}", f"{base} {prep_b} {b}{end}")


# Two names of one country: swapping one for the other changes nothing (not a negative).
_ALIASES = (frozenset(("USA", "America")), frozenset(("UK", "Britain")))


def p_entity(q: str, rng: random.Random) -> tuple[str, str] | None:
    options = []
    for group in _ENTITY_GROUPS:
        names = group.split()
        for name in names:
            for m in re.finditer(rf"(?<![\w+]){re.escape(name)}(?![\w+])", q):
                others = [
                    n
                    for n in names
                    if n != name and n not in q and frozenset((n, name)) not in _ALIASES
                ]
                options.append((m, others))
    if not options:
        return None
    m, others = rng.choice(options)
    return (q, q[: m.start()] + rng.choice(others) + q[m.end() :])


_ROLE = [
    re.compile(r"\bfrom (?:the )?([A-Za-z+#]+) to (?:the )?([A-Za-z+#]+)", re.I),
    re.compile(r"\b([A-Z][\w+#]*|[a-z]+s) (?:to|into|over) ([A-Z][\w+#]*|[a-z]+s)\b"),
    re.compile(
        r"\b([A-Z][\w+#]*|[a-z]{3,}s) (?:is |are )?(?:\w+er|more \w+|less \w+|better|worse) "
        r"than (?:the |a )?([A-Z][\w+#]*|[a-z]{3,}s)\b"
    ),
]


def p_role(q: str, rng: random.Random) -> tuple[str, str] | None:
    for pattern in _ROLE:
        for m in pattern.finditer(q):
            x, y = m[1], m[2]
            if x.lower() in _FUNCTION or y.lower() in _FUNCTION or x.lower() == y.lower():
                continue
            swapped = q[m.end(1) : m.start(2)]
            return (q, q[: m.start(1)] + y + swapped + x + q[m.end(2) :])
    return None


PERTURB: dict[str, Callable[[str, random.Random], tuple[str, str] | None]] = {
    "antonym": p_antonym,
    "negation": p_negation,
    "number": p_number,
    "unit": p_unit,
    "time": p_time,
    "date": p_date,
    "entity": p_entity,
    "role": p_role,
    "comparative": p_comparative,
}


# ----------------------------------------------------------------------------- data


def split_of(text: str) -> str:
    return "test" if int(hashlib.sha1(text.encode()).hexdigest(), 16) % 5 == 0 else "dev"


def dev_pool_questions(data: Path) -> list[str]:
    """The dev pool's distinct questions of 4 to 25 words (ASCII), in order of appearance."""
    seen: dict[str, None] = {}
    for p in qqp_dev_pool(data):
        for q in (p["text_a"], p["text_b"]):
            q = " ".join(str(q).split())
            if 4 <= len(q.split()) <= 25 and q.isascii():
                seen[q] = None
    return list(seen)


def make_negatives(questions: Sequence[str], per_kind: int, seed: int) -> list[dict[str, str]]:
    """Up to ``per_kind`` pairs per kind and split, from shuffled dev-pool questions."""
    rng = random.Random(seed)
    order = list(questions)
    rng.shuffle(order)
    rows: list[dict[str, str]] = []
    for kind, fn in PERTURB.items():
        taken = {"dev": 0, "test": 0}
        for q in order:
            split = split_of(q)
            if taken[split] >= per_kind:
                if min(taken.values()) >= per_kind:
                    break
                continue
            pair = fn(q, rng)
            if pair is None or pair[0] == pair[1]:
                continue
            rows.append(
                {
                    "kind": kind,
                    "split": split,
                    "source": q,
                    "original": pair[0],
                    "perturbed": pair[1],
                }
            )
            taken[split] += 1
    return rows


def paraphrases(data: Path) -> list[dict[str, str]]:
    rows = json.loads((data / "cache" / "gptcache" / "mock_data.json").read_text(encoding="utf-8"))
    return [
        {"original": r["origin"], "paraphrase": r["similar"], "split": split_of(r["origin"])}
        for r in rows
    ]


# ----------------------------------------------------------------------------- measuring


def _normalized(text: str) -> str:
    return " ".join(text.split())


def through_cache(cache: SemanticCache, pairs: Sequence[tuple[str, str]], tag: str) -> list[bool]:
    hits = []
    for i, (stored, asked) in enumerate(pairs):
        with cache_scope(tenant_id=f"{tag}-{i}"):
            cache.update(prompt_of(stored), LLM_STRING, [Generation(text="x")])
            hits.append(cache.lookup(prompt_of(asked), LLM_STRING) is not None)
    return hits


def run(args: argparse.Namespace) -> None:
    """Make the pairs, measure the verifier and the cache on them, write the report."""
    t0 = time.perf_counter()
    negatives = make_negatives(dev_pool_questions(args.data), args.per_kind, args.seed)
    positives = paraphrases(args.data)
    verifier = NearMissVerifier()
    verifier.verify("warm the lexicon up", "warm the lexicon", 1.0)
    verify_ms: list[float] = []
    for rows, asked in ((negatives, "perturbed"), (positives, "paraphrase")):
        for row in rows:
            started = time.perf_counter()
            verdict = verifier.verify(_normalized(row[asked]), _normalized(row["original"]), 1.0)
            verify_ms.append((time.perf_counter() - started) * 1000)
            row["verifier_accepts"] = verdict.accepted  # type: ignore[assignment]
            row["reason"] = verdict.reason
    if not args.no_cache:
        texts = [_normalized(r[k]) for r in negatives for k in ("original", "perturbed")]
        texts += [_normalized(r[k]) for r in positives for k in ("original", "paraphrase")]
        emb = Precomputed(OnnxEmbeddings(), texts)
        with tempfile.TemporaryDirectory() as tmp:
            cache = SemanticCache(
                backend=LocalBackend(path=Path(tmp) / "hn.sqlite3", max_entries=None),
                embeddings=emb,
            )
            neg_hits = through_cache(
                cache, [(r["original"], r["perturbed"]) for r in negatives], "neg"
            )
            pos_hits = through_cache(
                cache, [(r["original"], r["paraphrase"]) for r in positives], "pos"
            )
            stats = cache.stats().__dict__
            cache.close()
        for row, hit in zip(negatives, neg_hits, strict=True):
            row["cache_hit"] = hit  # type: ignore[assignment]
        for row, hit in zip(positives, pos_hits, strict=True):
            row["cache_hit"] = hit  # type: ignore[assignment]
    else:
        stats = {}

    report: dict[str, Any] = {
        "threshold": DEFAULT_SIMILARITY_THRESHOLD,
        "per_kind_cap": args.per_kind,
        "caveat": "QQP is for non-commercial, internal evaluation only.",
        "cache_stats": stats,
        "verifier_ms_per_call": {
            "p50": percentile(verify_ms, 50),
            "p95": percentile(verify_ms, 95),
            "n": len(verify_ms),
            "note": "one verify() per pair, lexicon loaded; an upper bound on a shared machine",
        },
    }
    for split in ("dev", "test", "all"):
        rows = [r for r in negatives if split in ("all", r["split"])]
        per_kind = {}
        for kind in KINDS:
            kr = [r for r in rows if r["kind"] == kind]
            per_kind[kind] = {
                "n": len(kr),
                "verifier_fhr": float(np.mean([r["verifier_accepts"] for r in kr])) if kr else None,
                "cache_fhr": (
                    float(np.mean([r["cache_hit"] for r in kr]))
                    if kr and not args.no_cache
                    else None
                ),
            }
        pos = [r for r in positives if split in ("all", r["split"])]
        report[split] = {
            "n": len(rows),
            "verifier_fhr": float(np.mean([r["verifier_accepts"] for r in rows])),
            "cache_fhr": None if args.no_cache else float(np.mean([r["cache_hit"] for r in rows])),
            "per_kind": per_kind,
            "paraphrases": {
                "n": len(pos),
                "verifier_accepts": float(np.mean([r["verifier_accepts"] for r in pos])),
                "cache_recall": (
                    None if args.no_cache else float(np.mean([r["cache_hit"] for r in pos]))
                ),
            },
        }
    reasons: dict[str, int] = {}
    for r in negatives:
        if not r["verifier_accepts"]:
            code = str(r["reason"]).split(":")[0]
            reasons[code] = reasons.get(code, 0) + 1
    report["verifier_reasons"] = dict(sorted(reasons.items()))
    rng = random.Random(1)
    report["sample"] = {
        kind: rng.sample(
            [r for r in negatives if r["kind"] == kind],
            min(5, sum(r["kind"] == kind for r in negatives)),
        )
        for kind in KINDS
    }
    report["false_hits"] = [r for r in negatives if r.get("cache_hit")][:100]
    if args.dump_dev is not None:
        refused: dict[str, list[dict[str, str]]] = {}
        for r in positives:
            if r["split"] == "dev" and not r["verifier_accepts"]:
                refused.setdefault(str(r["reason"]).split(":")[0], []).append(
                    {k: str(r[k]) for k in ("reason", "original", "paraphrase")}
                )
        dump = {
            "negatives_accepted_by_kind": {
                kind: [
                    {"original": r["original"], "perturbed": r["perturbed"]}
                    for r in negatives
                    if r["split"] == "dev" and r["kind"] == kind and r["verifier_accepts"]
                ]
                for kind in KINDS
            },
            "positives_refused_by_reason": dict(sorted(refused.items())),
        }
        write_json(args.dump_dev, dump, indent=1)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    out = write_json(args.out or args.results / "cache_hard_negatives.json", report, indent=1)
    for split in ("dev", "test"):
        part = report[split]
        print(  # noqa: T201
            f"{split}: n={part['n']} verifier FHR={part['verifier_fhr']:.4f} "
            f"cache FHR={part['cache_fhr']} paraphrase recall={part['paraphrases']['cache_recall']}"
        )
        for kind, v in part["per_kind"].items():
            print(f"  {kind:12s} n={v['n']:4d} verifier={v['verifier_fhr']} cache={v['cache_fhr']}")  # noqa: T201
    timing = report["verifier_ms_per_call"]
    print(f"verifier per call: p50 {timing['p50']:.3f} ms, p95 {timing['p95']:.3f} ms")  # noqa: T201
    print(f"wrote {out}")  # noqa: T201
