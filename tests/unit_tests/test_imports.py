"""Pin the public API: every name users import from ``langchain_tokenopt``."""

from __future__ import annotations

import langchain_tokenopt

EXPECTED_ALL = [
    "CacheStats",
    "CompressionResult",
    "ContextOptimizer",
    "LLMLinguaCompressor",
    "LocalBackend",
    "LocalEmbeddings",
    "MCPToolCatalog",
    "MessageClassifier",
    "MissingDependencyError",
    "ModularPrompt",
    "OpenTelemetrySink",
    "PromptAssembler",
    "QueryAwareCompressor",
    "QueryClassifier",
    "RedisBackend",
    "RequestRecord",
    "SemanticCache",
    "TokenCounter",
    "TokenImportanceScorer",
    "TokenOptCallbackHandler",
    "TokenOptConfigError",
    "TokenOptError",
    "ToolRetriever",
    "ToolSelection",
    "ToolSelector",
    "__version__",
    "build_optimized_agent",
    "cache_scope",
    "agenerate_example_queries",
    "generate_example_queries",
    "load_mcp_catalog",
    "validate_history",
]


def test_all_is_pinned() -> None:
    assert sorted(langchain_tokenopt.__all__) == sorted(EXPECTED_ALL)


def test_every_public_name_resolves() -> None:
    for name in langchain_tokenopt.__all__:
        assert getattr(langchain_tokenopt, name) is not None, name


def test_no_private_names_exported() -> None:
    assert not [n for n in langchain_tokenopt.__all__ if n.startswith("_") and n != "__version__"]


def test_version_comes_from_package_metadata() -> None:
    from importlib import metadata

    assert langchain_tokenopt.__version__ == metadata.version("langchain-tokenopt")
