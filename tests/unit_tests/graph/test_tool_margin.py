"""The graph's tool_margin trim: fewer bound tools when retrieval is confident."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import BaseTool, tool

from langchain_tokenopt import build_optimized_agent
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.graph.pipeline import trim_by_margin
from langchain_tokenopt.llms import LocalChatModel
from langchain_tokenopt.tools import ToolSelection, ToolSelector


def _catalog() -> list[BaseTool]:
    @tool
    def get_store_hours(city: str) -> str:
        """Return the opening hours of the outdoor-gear store in a city."""
        return f"{city}: 9-18"

    @tool
    def track_parcel(tracking_number: str) -> str:
        """Track a parcel by its carrier tracking number."""
        return "in transit"

    @tool
    def refund_order(order_id: str, amount: float) -> str:
        """Refund an amount of an order to the original payment method."""
        return "refunded"

    @tool
    def weather_forecast(city: str, days: int) -> str:
        """Weather forecast for a city for the next days."""
        return "sunny"

    @tool
    def rent_kayak(store: str, date: str) -> str:
        """Book a kayak rental at a store on a date."""
        return "booked"

    @tool
    def list_classes(city: str) -> str:
        """List the outdoor skills classes (avalanche safety, climbing) in a city."""
        return "none"

    @tool
    def reset_password(email: str) -> str:
        """Send a password reset link to the account email."""
        return "sent"

    return [
        get_store_hours,
        track_parcel,
        refund_order,
        weather_forecast,
        rent_kayak,
        list_classes,
        reset_password,
    ]


def _selection(scores: dict[str, float], **extra: Any) -> ToolSelection:
    names = [*scores, "find_tools"]
    return ToolSelection(tools=list(names), names=names, scores=scores, **extra)


def test_trim_keeps_tools_close_to_the_best_and_find_tools() -> None:
    sel = _selection({"a": 0.62, "b": 0.55, "c": 0.40, "d": 0.30})
    assert trim_by_margin(sel, 0.1)[1] == ["a", "b", "find_tools"]
    assert trim_by_margin(sel, 0.0)[1] == ["a", "find_tools"]
    assert trim_by_margin(sel, 1.0)[1] == ["a", "b", "c", "d", "find_tools"]


def test_trim_never_drops_named_loaded_or_carried_tools() -> None:
    sel = _selection(
        {"a": 0.9, "b": 0.2, "c": 0.1, "d": 0.05}, forced=["b"], loaded=["c"], carried=["d"]
    )
    assert trim_by_margin(sel, 0.1)[1] == ["a", "b", "c", "d", "find_tools"]


def test_trim_without_scores_keeps_everything() -> None:
    sel = ToolSelection(tools=["x", "y"], names=["x", "y"])
    assert trim_by_margin(sel, 0.0) == (["x", "y"], ["x", "y"])


def test_graph_binds_fewer_tools_with_a_margin(llm: LocalChatModel) -> None:
    catalog = _catalog()
    question = "What are the opening hours of the outdoor-gear store in Denver?"

    def bound(margin: float | None) -> list[str]:
        graph = build_optimized_agent(
            llm,
            catalog,
            tool_selector=ToolSelector.from_tools(catalog, k=5),
            cache=False,
            monitor=False,
            tool_margin=margin,
        ).compile()
        state = graph.invoke({"messages": [HumanMessage(question)]})
        return [n for n in state["turn"]["tools"] if n != "find_tools"]

    everything = bound(None)
    trimmed = bound(0.0)
    assert len(everything) == 5
    assert trimmed == ["get_store_hours"]
    assert set(trimmed) < set(everything)


def test_bad_tool_margin_is_a_clear_error(llm: LocalChatModel) -> None:
    for bad in (-0.1, 3, "0.1", True):
        with pytest.raises(TokenOptConfigError, match="tool_margin"):
            build_optimized_agent(llm, _catalog(), tool_margin=bad)  # type: ignore[arg-type]


def test_middleware_checks_tool_margin_the_same_way() -> None:
    from langchain_tokenopt.graph.middleware import TokenOptMiddleware

    with pytest.raises(TokenOptConfigError, match="tool_margin"):
        TokenOptMiddleware(cache=False, tool_margin=-1.0)
    # None switches the margin off (every selected tool is bound); a given margin is kept
    assert TokenOptMiddleware(cache=False, tool_margin=None).options.tool_margin is None
    assert TokenOptMiddleware(cache=False, tool_margin=0.5).options.tool_margin == 0.5
