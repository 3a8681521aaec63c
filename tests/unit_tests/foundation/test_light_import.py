"""Importing the package (and each capability) must not pull in heavy optional libraries."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["torch", "transformers", "sentence_transformers", "redis", "redisvl", "llmlingua"]
SUBPACKAGES = ["cache", "tools", "compression", "context", "monitoring", "graph"]


def _loaded_after(code: str) -> list[str]:
    probe = (
        code + f"\nimport sys, json\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_top_level_import_is_light() -> None:
    assert _loaded_after("import langchain_tokenopt") == []


def test_capability_imports_are_light() -> None:
    code = "\n".join(f"import langchain_tokenopt.{name}" for name in SUBPACKAGES)
    assert _loaded_after(code) == []


def test_public_classes_resolve_without_heavy_imports() -> None:
    code = "import langchain_tokenopt as t\n[getattr(t, n) for n in t.__all__]"
    assert _loaded_after(code) == []
