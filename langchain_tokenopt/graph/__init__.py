"""The LangGraph agent: every optimizer around the LLM node, each step measured.

* :func:`build_optimized_agent` returns the uncompiled ``StateGraph``
  (``cache_check → select_tools → compress_prompt → optimize_context → call_model →
  (tools loop) → cache_store``).
* :class:`OptimizerOptions` holds its steps and budgets (shared with the middleware);
* :class:`ModuleFitter` fits a ``ModularPrompt`` to a small budget (core modules whole,
  the sentences of the other modules that answer the question; it lives in
  :mod:`langchain_tokenopt.compression.module_fitter`);
* :class:`OptimizedAgentState` is its state; :class:`CachedAnswerModel` replays cache hits
  as a stream.

Example:
    .. code-block:: python

        from langchain_tokenopt import build_optimized_agent

        graph = build_optimized_agent(model, tools, system_prompt=prompt).compile()
"""

from langchain_tokenopt.compression.module_fitter import FittedPrompt, ModuleFitter
from langchain_tokenopt.graph.factory import build_optimized_agent
from langchain_tokenopt.graph.options import OptimizerOptions
from langchain_tokenopt.graph.pipeline import OptimizerPipeline
from langchain_tokenopt.graph.replay import CachedAnswerModel
from langchain_tokenopt.graph.state import OptimizedAgentState, TurnState

__all__ = [
    "CachedAnswerModel",
    "FittedPrompt",
    "ModuleFitter",
    "OptimizedAgentState",
    "OptimizerOptions",
    "OptimizerPipeline",
    "TurnState",
    "build_optimized_agent",
]
