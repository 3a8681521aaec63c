from __future__ import annotations

import subprocess
import sys

from langchain_tokenopt import tools

EXPECTED = [
    "ClassifierWeights",
    "FusionWeights",
    "MCPToolCatalog",
    "QueryClassifier",
    "QueryDecision",
    "ToolRetriever",
    "ToolSelection",
    "ToolSelector",
    "ToolSpec",
    "bind_tools_if_any",
    "agenerate_example_queries",
    "generate_example_queries",
    "load_mcp_catalog",
]


def test_all() -> None:
    assert sorted(tools.__all__) == sorted(EXPECTED)
    for name in EXPECTED:
        assert getattr(tools, name) is not None


def test_top_level_names_resolve() -> None:
    import langchain_tokenopt as pkg

    for name in ("ToolRetriever", "ToolSelector", "ToolSelection", "QueryClassifier"):
        assert getattr(pkg, name) is getattr(tools, name)


def test_import_stays_light() -> None:
    code = (
        "import sys, langchain_tokenopt.tools; "
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'bm25s', "
        "'redis', 'usearch') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == ""
