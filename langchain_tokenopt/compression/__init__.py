"""Prompt compression: query-aware selection, token importance, LLMLingua, modular prompts.

* :class:`QueryAwareCompressor` (default, no LM): keep the items most relevant to the
  question within a token budget; protected spans are never altered.
* :class:`TokenImportanceScorer`: per-token self-information from the local SmolLM2, used
  by the optional fine stage.
* :class:`LLMLinguaCompressor`: LLMLingua / LongLLMLingua on the local SmolLM2 (opt-in).
* :class:`CompressorDocumentCompressor`: either compressor as a ``BaseDocumentCompressor``.
* :class:`ModularPrompt` + :class:`PromptAssembler`: per-query system prompts from modules.

Importing this package does not import torch, transformers or llmlingua.

Example:
    .. code-block:: python

        from langchain_tokenopt.compression import QueryAwareCompressor

        result = QueryAwareCompressor(target_tokens=300).invoke(
            {"context": long_text, "question": "What is the refund window?"}
        )
        print(result.text, result.ratio)
"""

from __future__ import annotations

from langchain_tokenopt.compression.document_compressor import CompressorDocumentCompressor
from langchain_tokenopt.compression.importance import TokenImportance, TokenImportanceScorer
from langchain_tokenopt.compression.lingua import LLMLinguaCompressor
from langchain_tokenopt.compression.modular_prompt import (
    ModularPrompt,
    PromptAssembler,
    PromptModule,
)
from langchain_tokenopt.compression.query_aware import QueryAwareCompressor
from langchain_tokenopt.compression.ranking import RankingConfig
from langchain_tokenopt.compression.records import (
    AssembledPrompt,
    CompressionResult,
    DroppedItem,
    ModuleChoice,
)
from langchain_tokenopt.compression.static_embeddings import StaticEmbeddings

__all__ = [
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
