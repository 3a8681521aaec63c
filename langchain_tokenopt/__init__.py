"""langchain-tokenopt: fewer tokens, lower cost and latency for LangChain / LangGraph agents.

The public API is re-exported here. Names are resolved lazily, so ``import
langchain_tokenopt`` stays light: torch, transformers, redis and sentence-transformers are
imported only when a component that needs them is used.

Example:
    .. code-block:: python

        from langchain_core.globals import set_llm_cache
        from langchain_tokenopt import SemanticCache

        set_llm_cache(SemanticCache())
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_tokenopt.cache import (
        CacheStats,
        LocalBackend,
        RedisBackend,
        SemanticCache,
        cache_scope,
    )
    from langchain_tokenopt.compression import (
        CompressionResult,
        LLMLinguaCompressor,
        ModularPrompt,
        PromptAssembler,
        QueryAwareCompressor,
        TokenImportanceScorer,
    )
    from langchain_tokenopt.context import ContextOptimizer, MessageClassifier, validate_history
    from langchain_tokenopt.embeddings import LocalEmbeddings
    from langchain_tokenopt.errors import (
        MissingDependencyError,
        TokenOptConfigError,
        TokenOptError,
    )
    from langchain_tokenopt.graph import build_optimized_agent
    from langchain_tokenopt.monitoring import (
        OpenTelemetrySink,
        RequestRecord,
        TokenOptCallbackHandler,
    )
    from langchain_tokenopt.tokens import TokenCounter
    from langchain_tokenopt.tools import (
        MCPToolCatalog,
        QueryClassifier,
        ToolRetriever,
        ToolSelection,
        ToolSelector,
        agenerate_example_queries,
        generate_example_queries,
        load_mcp_catalog,
    )

try:
    __version__ = metadata.version("langchain-tokenopt")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

_EXPORTS: dict[str, str] = {
    # cache/
    "SemanticCache": "langchain_tokenopt.cache",
    "cache_scope": "langchain_tokenopt.cache",
    "LocalBackend": "langchain_tokenopt.cache",
    "RedisBackend": "langchain_tokenopt.cache",
    "CacheStats": "langchain_tokenopt.cache",
    # tools/
    "ToolRetriever": "langchain_tokenopt.tools",
    "ToolSelector": "langchain_tokenopt.tools",
    "ToolSelection": "langchain_tokenopt.tools",
    "QueryClassifier": "langchain_tokenopt.tools",
    "agenerate_example_queries": "langchain_tokenopt.tools",
    "generate_example_queries": "langchain_tokenopt.tools",
    "MCPToolCatalog": "langchain_tokenopt.tools",
    "load_mcp_catalog": "langchain_tokenopt.tools",
    # compression/
    "QueryAwareCompressor": "langchain_tokenopt.compression",
    "LLMLinguaCompressor": "langchain_tokenopt.compression",
    "TokenImportanceScorer": "langchain_tokenopt.compression",
    "CompressionResult": "langchain_tokenopt.compression",
    "ModularPrompt": "langchain_tokenopt.compression",
    "PromptAssembler": "langchain_tokenopt.compression",
    # context/
    "ContextOptimizer": "langchain_tokenopt.context",
    "MessageClassifier": "langchain_tokenopt.context",
    "validate_history": "langchain_tokenopt.context",
    # monitoring/
    "TokenOptCallbackHandler": "langchain_tokenopt.monitoring",
    "RequestRecord": "langchain_tokenopt.monitoring",
    "OpenTelemetrySink": "langchain_tokenopt.monitoring",
    # graph/
    "build_optimized_agent": "langchain_tokenopt.graph",
    # foundation
    "TokenCounter": "langchain_tokenopt.tokens",
    "LocalEmbeddings": "langchain_tokenopt.embeddings",
    "TokenOptError": "langchain_tokenopt.errors",
    "TokenOptConfigError": "langchain_tokenopt.errors",
    "MissingDependencyError": "langchain_tokenopt.errors",
}

__all__ = [
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'langchain_tokenopt' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
