"""The tool-selection datasets (BFCL, MetaTool), their split, and the shared retriever setup.

Data: ``../shared/datasets/tools`` (``--data DIR``). Calibration uses the **dev** split only;
every headline number is on the **test** split (``sha1(key) % 5 == 0``; key = BFCL ``id`` /
MetaTool ``Query``). Dev is cut in two folds by :func:`dev_fold`.

Catalogs:

* BFCL: the ``function`` lists of all 8 answered files pooled; **dedupe rule: one definition
  per name, the first one met in file order** (:data:`BFCL_FILES`), then line order. Indexed
  fields: name, description, parameter names and descriptions.
* MetaTool: the 199 tools of ``plugin_des.json`` (name + description; no parameters exist).

Example::

    catalog, questions, negatives = load_bfcl(DATASETS / "tools")
    retriever = make_retriever(catalog, None, Path("/tmp/tb"), embeddings=embedder)
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from bench.common import DATASETS, read_jsonl
from langchain_tokenopt.embeddings import OnnxEmbeddings
from langchain_tokenopt.tools import ToolRetriever
from langchain_tokenopt.tools.index import RankResult
from langchain_tokenopt.tools.store import EmbeddingStore

#: Default dataset folder of the tool benches.
TOOLS_DATA = DATASETS / "tools"


class CachedEmbeddings(OnnxEmbeddings):
    """The packaged MiniLM (int8 ONNX, the library default) with every vector persisted.

    ``bypass = True`` turns the cache off (used while timing queries).
    """

    def __init__(self, store_dir: Path) -> None:
        super().__init__(num_threads=1)
        self.store = EmbeddingStore(store_dir, embedder_id="bench-minilm-onnx-int8-v1")
        self.bypass = False

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.bypass or not texts:
            return super().encode(texts)
        return self.store.embed(texts, super().encode)


BFCL_FILES = [
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
]
IRRELEVANCE_FILES = ["irrelevance", "live_irrelevance"]
KS = (1, 3, 5, 10)


def is_test(key: str) -> bool:
    """Test split: ``sha1(key) % 5 == 0``."""
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % 5 == 0


def dev_fold(key: str) -> int:
    """Dev fold (0 = a, 1 = b) of a non-test key."""
    return (int(hashlib.sha1(key.encode()).hexdigest(), 16) // 5) % 2


@dataclass
class Query:
    key: str
    text: str
    gold: tuple[str, ...]
    test: bool
    group: str
    extra: dict = field(default_factory=dict)


def question_text(entry: dict) -> str:
    turns = entry["question"]
    msgs = [m for turn in turns for m in turn if m.get("role") == "user"]
    return "\n".join(str(m.get("content", "")) for m in msgs).strip()


def load_bfcl(data: Path) -> tuple[list[dict], list[Query], list[Query]]:
    catalog: dict[str, dict] = {}
    questions: list[Query] = []
    for name in BFCL_FILES:
        entries = read_jsonl(data / "bfcl" / f"BFCL_v4_{name}.json")
        answers = {
            a["id"]: a
            for a in read_jsonl(data / "bfcl" / "possible_answer" / f"BFCL_v4_{name}.json")
        }
        for e in entries:
            for fn in e["function"]:
                catalog.setdefault(fn["name"], fn)
            gold = tuple(dict.fromkeys(next(iter(g)) for g in answers[e["id"]]["ground_truth"]))
            group = "live" if name.startswith("live") else "non_live"
            questions.append(Query(e["id"], question_text(e), gold, is_test(e["id"]), group))
    negatives = []
    for name in IRRELEVANCE_FILES:
        for e in read_jsonl(data / "bfcl" / f"BFCL_v4_{name}.json"):
            text = question_text(e)
            if text:
                negatives.append(Query(e["id"], text, (), is_test(e["id"]), name))
    return list(catalog.values()), questions, negatives


def load_metatool(data: Path) -> tuple[list[dict], list[Query], list[Query]]:
    des = json.loads((data / "metatool" / "plugin_des.json").read_text("utf-8"))
    catalog = [
        {"name": k, "description": v, "parameters": {"type": "object", "properties": {}}}
        for k, v in des.items()
    ]
    single = []
    with open(data / "metatool" / "all_clean_data.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            single.append(
                Query(row["Query"], row["Query"], (row["Tool"],), is_test(row["Query"]), "single")
            )
    multi = []
    for item in json.loads((data / "metatool" / "multi_tool_query_golden.json").read_text("utf-8")):
        multi.append(
            Query(
                item["query"], item["query"], tuple(item["tool"]), is_test(item["query"]), "multi"
            )
        )
    return catalog, single, multi


# ---------------------------------------------------------------------------------------
# Signals are computed once per query by the library (ToolIndex.signals); every method and
# weight setting below is the library's own pure ToolIndex.fuse over them.


def make_retriever(
    catalog: list[dict], examples: dict | None, cache: Path, *, embeddings: Embeddings, **kw: Any
) -> ToolRetriever:
    """A :class:`ToolRetriever` over ``catalog`` with the bench's embedder (tool vectors stored)."""
    return ToolRetriever(
        tools=catalog, examples=examples, cache_dir=cache, embeddings=embeddings, **kw
    )


def rank_all(retriever: ToolRetriever, texts: Sequence[str]) -> list[RankResult]:
    """``retriever.rank_batch(texts)`` of questions that are never empty (each has a result)."""
    results = retriever.rank_batch(texts)
    if any(r is None for r in results):
        msg = "an empty question has no ranking; every bench question has text"
        raise ValueError(msg)
    return [r for r in results if r is not None]


def merge_examples(*parts: dict[str, list[str]]) -> dict[str, list[str]]:
    """Union of example-query maps, per tool in first-seen order."""
    out: dict[str, list[str]] = {}
    for part in parts:
        for name, queries in part.items():
            if queries:
                out[name] = list(dict.fromkeys([*out.get(name, []), *queries]))
    return out


def gen_dir(folder: Path | None) -> Path:
    """The folder of the generated example-query caches (default: ``<user cache>/bench``)."""
    from langchain_tokenopt._assets import user_cache_dir

    return folder or user_cache_dir() / "bench"


def generated_examples(catalog: list[dict], path: Path) -> tuple[dict[str, list[str]], dict]:
    """Two SmolLM2-written questions per tool (``generate_example_queries``), cached at ``path``.

    The first run generates the whole catalog (about 0.55 s per tool on one core: ~12 min for
    BFCL's 1,287 tools, ~2 min for MetaTool's 199); later runs read the file.
    """
    import torch

    from langchain_tokenopt.tools.augment import generate_example_queries

    torch.set_num_threads(1)
    cold = not path.exists()
    t = time.perf_counter()
    out = generate_example_queries(catalog, per_tool=2, cache_path=path, batch_size=16)
    info = {
        "cache": str(path),
        "generated_now": cold,
        "seconds": round(time.perf_counter() - t, 1),
        "tools": len(out),
        "tools_without_a_usable_question": sum(not v for v in out.values()),
        "questions_per_tool_mean": round(float(np.mean([len(v) for v in out.values()])), 2),
    }
    return out, info


def examples_from(queries: list[Query], keep: Callable[[Query], bool]) -> dict[str, list[str]]:
    ex: dict[str, list[str]] = defaultdict(list)
    for q in queries:
        if not q.test and keep(q) and len(q.gold) == 1:
            ex[q.gold[0]].append(q.text)
    return dict(ex)
