"""The tool-selection step of one model call: which tools to bind, which working set to keep.

A :class:`~langchain_tokenopt.tools.selector.ToolSelector` keeps the thread's working set
and trims by margin itself (its async form awaits ``aselect``); another
:class:`~langchain_tokenopt.protocols.ToolSelectorLike` is asked with ``select`` (in a worker
thread on the async path) and its choice trimmed by
:func:`~langchain_tokenopt.tools.margin.trim_by_margin`. Without a selector every tool is
bound.

Example:
    .. code-block:: python

        step = selection_step(
            selector, messages, None, tools=tools, margin=0.1, counter=counter,
            catalog_tokens=counter.count_tools(tools),
        )
        choice = run_step(recorder, step)  # ToolChoice(tools=[...], names=[...], ...)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage

from langchain_tokenopt.graph.defaults import tool_name
from langchain_tokenopt.graph.step import Step
from langchain_tokenopt.protocols import ToolSelectorLike
from langchain_tokenopt.tokens import TokenCounter
from langchain_tokenopt.tools.margin import trim_by_margin
from langchain_tokenopt.tools.records import ToolSelection
from langchain_tokenopt.tools.selector import ToolSelector

__all__ = ["ToolChoice", "selection_step"]


@dataclass(frozen=True)
class ToolChoice:
    """The tools bound to one model call and the thread's working set after it.

    Example:
        .. code-block:: python

            ToolChoice(tools=[get_weather], names=["get_weather"])
    """

    tools: list[Any]
    """The tool objects to bind (what the user passed, plus ``find_tools``)."""
    names: list[str]
    """Their names, in the same order."""
    working_set: dict[str, Any] | None = None
    """The working set to keep in the agent state (``None`` when no selector keeps one)."""
    bound_tokens: int | None = None
    """The bound tools' schema tokens as the selector counted them (``None``: not counted)."""


def selection_step(
    selector: ToolSelectorLike | None,
    messages: Sequence[BaseMessage],
    working_set: dict[str, Any] | None,
    *,
    tools: Sequence[Any],
    margin: float | None,
    counter: TokenCounter,
    catalog_tokens: int,
) -> Step[ToolChoice]:
    """The measured selection among ``tools`` (every tool bound when it fails).

    ``catalog_tokens`` (the whole catalog's tokens) is the step's *before*; its *after* counts
    the tools bound.
    """
    every = ToolChoice(list(tools), [tool_name(t) for t in tools], working_set)
    if selector is None:
        return Step.skipped("tool_selection", every)
    items = list(messages)
    # A ToolSelector counts what it binds (per tool, kept): with the same encoding, its count
    # is the step's *after* and the bound schemas are not serialized and counted again.
    counted = isinstance(selector, ToolSelector) and (
        selector.counter.encoding_name == counter.encoding_name
    )

    def after(choice: ToolChoice) -> int:
        if counted and choice.bound_tokens is not None:
            return choice.bound_tokens
        return counter.count_tools(choice.tools) if choice.tools else 0

    def work() -> ToolChoice:
        if isinstance(selector, ToolSelector):
            selection = selector.select(items, working_set=working_set, margin=margin)
            return _choice(selection, working_set, margin, own=True)
        return _choice(selector.select(items), working_set, margin, own=False)

    async def awork() -> ToolChoice:
        if isinstance(selector, ToolSelector):
            selection = await selector.aselect(items, working_set=working_set, margin=margin)
            return _choice(selection, working_set, margin, own=True)
        found = await asyncio.to_thread(selector.select, items)
        return _choice(found, working_set, margin, own=False)

    return Step(
        "tool_selection",
        every,
        before=catalog_tokens,
        measure=after,
        work=work,
        awork=awork,
        extra={"tools_bound": lambda v: len(v.tools), "tools_catalog": len(tools)},
    )


def _choice(
    selection: ToolSelection, working_set: dict[str, Any] | None, margin: float | None, *, own: bool
) -> ToolChoice:
    """The tools to bind from a selection (``own``: made by a ``ToolSelector``).

    A ``ToolSelector`` trims by margin itself and returns the working set to keep; another
    selector's choice is trimmed to ``margin`` (when set) and the thread's working set kept.
    """
    if own:
        return ToolChoice(
            list(selection.tools),
            list(selection.names),
            selection.working_set,
            selection.bound_tokens if selection.tools else 0,
        )
    if margin is not None:
        return ToolChoice(*trim_by_margin(selection, margin), working_set)
    return ToolChoice(list(selection.tools), list(selection.names), working_set)
