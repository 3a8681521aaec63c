from __future__ import annotations

import subprocess
import sys

import langchain_tokenopt
from langchain_tokenopt import context

EXPECTED = [
    "ChatModelSummarizer",
    "ClassifierWeights",
    "CompressProse",
    "ContextOptimizer",
    "ContextResult",
    "ContextMemo",
    "ContextStrategy",
    "ExtractiveSummarizer",
    "HierarchicalSummary",
    "MaskToolOutputs",
    "MessageClassifier",
    "MessageScore",
    "Plan",
    "SlidingWindow",
    "Slot",
    "Summarizer",
    "SummaryCache",
    "Unit",
    "context_hook",
    "find_problems",
    "repair_history",
    "split_units",
    "validate_history",
]


def test_all_is_pinned() -> None:
    assert sorted(context.__all__) == sorted(EXPECTED)
    for name in ("ContextOptimizer", "MessageClassifier", "validate_history"):
        assert getattr(langchain_tokenopt, name) is getattr(context, name)


def test_import_stays_light() -> None:
    code = (
        "import sys, langchain_tokenopt.context, langchain_tokenopt.llms;"
        "mods = ('torch', 'transformers', 'sentence_transformers', 'redis');"
        "heavy = [m for m in mods if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
