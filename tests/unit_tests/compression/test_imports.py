from __future__ import annotations

import subprocess
import sys

import langchain_tokenopt
from langchain_tokenopt import compression

EXPECTED = [
    "AssembledPrompt",
    "CompressionResult",
    "CompressorDocumentCompressor",
    "DroppedItem",
    "LLMLinguaCompressor",
    "ModularPrompt",
    "ModuleChoice",
    "PromptAssembler",
    "PromptModule",
    "QueryAwareCompressor",
    "RankingConfig",
    "StaticEmbeddings",
    "TokenImportance",
    "TokenImportanceScorer",
]


def test_all_exports() -> None:
    assert sorted(compression.__all__) == EXPECTED
    for name in (
        "QueryAwareCompressor",
        "LLMLinguaCompressor",
        "TokenImportanceScorer",
        "CompressionResult",
        "ModularPrompt",
        "PromptAssembler",
    ):
        assert getattr(langchain_tokenopt, name) is getattr(compression, name)


def test_import_is_light() -> None:
    code = (
        "import sys, langchain_tokenopt.compression as c; c.QueryAwareCompressor(target_tokens=5);"
        "heavy=[m for m in ('torch','transformers','llmlingua','sentence_transformers',"
        "'bm25s','model2vec') if m in sys.modules]; print(heavy); assert not heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
