"""History-reduction strategies, cheapest first; each is a small object with ``apply(plan)``.

* :class:`MaskToolOutputs` (a): old tool outputs become placeholders keeping ids/values.
* :class:`SlidingWindow` (b): keep the newest whole units, starting on a human turn.
* :class:`HierarchicalSummary` (c): window + cached (hierarchical) summary of what fell out.
* :class:`CompressProse` (d): compress long old prose with the prompt-compression runnables.

Example:
    .. code-block:: python

        ContextOptimizer(max_tokens=2000, strategies=[MaskToolOutputs(), SlidingWindow()])
"""

from langchain_tokenopt.context.strategies.base import ContextStrategy, Plan, Slot
from langchain_tokenopt.context.strategies.mask import MaskToolOutputs
from langchain_tokenopt.context.strategies.prose import CompressProse
from langchain_tokenopt.context.strategies.summary import HierarchicalSummary
from langchain_tokenopt.context.strategies.window import SlidingWindow

__all__ = [
    "CompressProse",
    "ContextStrategy",
    "HierarchicalSummary",
    "MaskToolOutputs",
    "Plan",
    "SlidingWindow",
    "Slot",
]
