"""What the cache benches share: the datasets' loaders, prompts, a batch embedder, tables.

The MeanCache test split (``cache/meancache/test.csv``) is where figures are reported; the
QQP dev pool (GPTCache's ``similiar_qqp_full.json.gz`` minus every MeanCache test pair) is
where thresholds are tuned and hard negatives are drawn from::

    from bench.cache.data import load_pairs

    pairs = load_pairs(DATASETS, limit=1000)  # (question1, question2, is_duplicate)
"""

from __future__ import annotations

import csv
import io
import json
import random
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.load import dumps
from langchain_core.messages import HumanMessage
from rich.console import Console
from rich.table import Table

from bench.common import REPO
from langchain_tokenopt.embeddings import OnnxEmbeddings

__all__ = [
    "CAVEAT",
    "LLM_STRING",
    "Precomputed",
    "base_report",
    "console",
    "load_dev_pairs",
    "load_followups",
    "load_pairs",
    "load_paraphrases",
    "normalized",
    "prompt_of",
    "qqp_dev_pool",
    "shown",
    "table",
]

console = Console(width=160)
#: The model string the cache keys on (a ChatOpenAI, as LangChain writes it).
LLM_STRING = (
    '{"id": ["langchain", "chat_models", "openai", "ChatOpenAI"], "kwargs": {"model_name": '
    '"gpt-4o-mini", "temperature": 0.0}, "lc": 1, "type": "constructor"}---[(\'stop\', None)]'
)
CAVEAT = (
    "Caveat: all-MiniLM-L6-v2 was trained on QQP duplicates (recall on QQP positives is "
    "optimistic); QQP is for non-commercial, internal evaluation only."
)


def base_report() -> dict[str, Any]:
    """The keys every cache-bench report starts with."""
    from langchain_tokenopt.cache import DEFAULT_SIMILARITY_THRESHOLD

    return {"embedder": "onnx", "default_threshold": DEFAULT_SIMILARITY_THRESHOLD, "caveat": CAVEAT}


def load_pairs(data: Path, limit: int | None, seed: int = 0) -> list[tuple[str, str, int]]:
    """MeanCache's test pairs ``(question1, question2, is_duplicate)``, ``limit`` sampled."""
    with open(data / "cache" / "meancache" / "test.csv", newline="", encoding="utf-8") as fh:
        rows = [
            (r["question1"], r["question2"], int(r["is_duplicate"])) for r in csv.DictReader(fh)
        ]
    if limit and limit < len(rows):
        rows = random.Random(seed).sample(rows, limit)
    return rows


def qqp_dev_pool(data: Path) -> list[dict[str, Any]]:
    """GPTCache's QQP pairs (``text_a``, ``text_b``, ``label``) minus MeanCache's test pairs."""
    test = {(a, b) for a, b, _ in load_pairs(data, None)}
    test |= {(b, a) for a, b in test}
    with tarfile.open(data / "cache" / "gptcache" / "similiar_qqp_full.json.gz") as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".json"))
        raw = tar.extractfile(member)
        assert raw is not None
        pairs = json.load(io.TextIOWrapper(raw, encoding="utf-8"))
    return [p for p in pairs if (p["text_a"], p["text_b"]) not in test]


def load_dev_pairs(data: Path, limit: int, seed: int = 0) -> list[tuple[str, str, int]]:
    """A balanced sample of the QQP dev pool: ``limit // 2`` duplicates, as many non-duplicates."""
    dev = [(p["text_a"], p["text_b"], int(p["label"])) for p in qqp_dev_pool(data)]
    rng = random.Random(seed)
    pos = [p for p in dev if p[2] == 1]
    neg = [p for p in dev if p[2] == 0]
    rng.shuffle(pos)
    rng.shuffle(neg)
    return pos[: limit // 2] + neg[: limit // 2]


def load_paraphrases(data: Path, limit: int | None) -> list[tuple[str, str]]:
    """GPTCache's paraphrase pairs ``(origin, similar)``."""
    rows = json.loads((data / "cache" / "gptcache" / "mock_data.json").read_text(encoding="utf-8"))
    pairs = [(r["origin"], r["similar"]) for r in rows]
    return pairs[:limit] if limit else pairs


def load_followups(data: Path) -> list[dict[str, str]]:
    """MeanCache's contextual queries (a main query, its response, a follow-up)."""
    return json.loads(
        (data / "cache" / "meancache" / "contextual_queries.json").read_text(encoding="utf-8")
    )


def prompt_of(question: str, history: Sequence[Any] = ()) -> str:
    """The prompt string LangChain hands a cache for ``history`` + ``question``."""
    return dumps([*history, HumanMessage(question)])


def normalized(text: str) -> str:
    """The text the cache embeds for a question (its own normalization)."""
    from langchain_tokenopt.cache.keys import normalize_text

    return normalize_text(text)


class Precomputed(Embeddings):
    """Vectors computed in batch up front by the real embedder (identical to per-query calls)."""

    def __init__(self, base: OnnxEmbeddings, texts: Sequence[str]) -> None:
        self.base = base
        uniq = sorted(set(texts))
        vecs = base.encode(uniq) if uniq else np.zeros((0, 384), dtype=np.float32)
        self.table = dict(zip(uniq, vecs, strict=True))

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` (those not computed up front are computed now)."""
        missing = [t for t in texts if t not in self.table]
        if missing:
            self.table.update(zip(missing, self.base.encode(missing), strict=True))
        return np.vstack([self.table[t] for t in texts])

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a table (floats with three decimals)."""
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in r])
    console.print(t)


def shown(path: Path) -> str:
    """A written file's path as recorded in the JSON: relative to the repository."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
