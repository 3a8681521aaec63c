"""Trim a tool selection to the tools that score close to the best one.

The selection rule the optimized agent applies to a selector's choice (``tool_margin``);
:class:`~langchain_tokenopt.ToolSelector` applies the same gap inside its own flow.

Example:
    .. code-block:: python

        from langchain_tokenopt.tools.margin import trim_by_margin

        tools, names = trim_by_margin(selector.select(messages), 0.1)
"""

from __future__ import annotations

from typing import Any

from langchain_tokenopt.tools.records import ToolSelection

__all__ = ["trim_by_margin"]


def trim_by_margin(selection: ToolSelection, margin: float) -> tuple[list[Any], list[str]]:
    """Keep the retrieved tools that score within ``margin`` of the best one.

    When retrieval is confident (one tool far ahead) the runners-up are dropped; when scores
    are close they all stay. Tools named in the query, loaded by ``find_tools``, carried
    from a recent call, always included (no score) and the ``find_tools`` meta-tool itself
    are never dropped, so the model can still load what was trimmed.

    Args:
        selection: A :class:`~langchain_tokenopt.ToolSelection` (``tools``, ``names``,
            ``scores``, ``forced``, ``loaded``, ``carried``).
        margin: Largest gap, in retrieval score (the retriever's probability that a tool is
            needed, or the fused score with ``rerank=False``), to the best tool.

    Returns:
        ``(tools, names)`` in the selection's order.

    Example:
        .. code-block:: python

            tools, names = trim_by_margin(selector.select(messages), 0.1)
    """
    tools, names = list(selection.tools), list(selection.names)
    scores: dict[str, float] = dict(selection.scores)
    if not scores:
        return tools, names
    keep_always = {*selection.forced, *selection.loaded, *selection.carried}
    floor = max(scores.values()) - margin
    pairs = [
        (tool, name)
        for tool, name in zip(tools, names, strict=True)
        if name not in scores or name in keep_always or scores[name] >= floor
    ]
    return [t for t, _ in pairs], [n for _, n in pairs]
