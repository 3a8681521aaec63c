"""Context (message-history) optimization: fit any history into a token budget.

Cheapest method first, never breaking a tool call from its result:

* :class:`ContextOptimizer` (a ``Runnable``) runs the strategies and the final fit, and
  validates its output;
* :func:`validate_history` checks pairing in both directions and role order;
* :class:`MessageClassifier` scores each message's importance with reasons;
* strategies: :class:`MaskToolOutputs`, :class:`SlidingWindow`, :class:`HierarchicalSummary`
  (with :class:`ExtractiveSummarizer` or :class:`ChatModelSummarizer`), :class:`CompressProse`;
* :func:`context_hook` plugs the optimizer into a LangGraph agent.

Example:
    .. code-block:: python

        from langchain_tokenopt.context import ContextOptimizer, validate_history

        short = ContextOptimizer(max_tokens=2000).invoke(messages)
        validate_history(short)  # never raises on the optimizer's output
"""

from langchain_tokenopt.context._memo import ContextMemo
from langchain_tokenopt.context.classifier import (
    ClassifierWeights,
    MessageClassifier,
    MessageScore,
)
from langchain_tokenopt.context.langgraph import context_hook
from langchain_tokenopt.context.optimizer import ContextOptimizer, ContextResult
from langchain_tokenopt.context.strategies import (
    CompressProse,
    ContextStrategy,
    HierarchicalSummary,
    MaskToolOutputs,
    Plan,
    SlidingWindow,
    Slot,
)
from langchain_tokenopt.context.summarize import (
    ChatModelSummarizer,
    ExtractiveSummarizer,
    Summarizer,
    SummaryCache,
)
from langchain_tokenopt.context.units import Unit, repair_history, split_units
from langchain_tokenopt.context.validate import find_problems, validate_history

__all__ = [
    "ChatModelSummarizer",
    "ClassifierWeights",
    "CompressProse",
    "ContextMemo",
    "ContextOptimizer",
    "ContextResult",
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
