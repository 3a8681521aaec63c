"""The former home of :class:`ModuleFitter` (re-exported here and from the graph package).

A compressor, it now lives in :mod:`langchain_tokenopt.compression.module_fitter`.

Example:
    .. code-block:: python

        from langchain_tokenopt.compression.module_fitter import ModuleFitter

        fitter = ModuleFitter(prompt, budget_tokens=300)
"""

from __future__ import annotations

from langchain_tokenopt.compression.module_fitter import FittedPrompt, ModuleFitter

__all__ = ["FittedPrompt", "ModuleFitter"]
