"""Tool selection: a hybrid tool retriever, a query classifier that can abstain, a selector.

Example:
    .. code-block:: python

        from langchain_tokenopt.tools import ToolSelector

        selector = ToolSelector.from_tools(tools, k=5, max_tools=12)
        selection = selector.select(state["messages"])
        model = selection.bind(chat_model)  # no tools argument when nothing is selected
"""

from langchain_tokenopt.tools.augment import agenerate_example_queries, generate_example_queries
from langchain_tokenopt.tools.classifier import ClassifierWeights, QueryClassifier
from langchain_tokenopt.tools.index import FusionWeights
from langchain_tokenopt.tools.mcp import MCPToolCatalog, load_mcp_catalog
from langchain_tokenopt.tools.records import (
    QueryDecision,
    ToolSelection,
    ToolSpec,
    bind_tools_if_any,
)
from langchain_tokenopt.tools.retriever import ToolRetriever
from langchain_tokenopt.tools.selector import ToolSelector

__all__ = [
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
