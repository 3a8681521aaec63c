from __future__ import annotations

from typing import Annotated, TypedDict

import pytest
from langchain_core.messages import AnyMessage, BaseMessage, HumanMessage, RemoveMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import REMOVE_ALL_MESSAGES, add_messages

from langchain_tokenopt.context import ContextOptimizer, context_hook, validate_history
from langchain_tokenopt.errors import BudgetExceededError, TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter

from .helpers import SYSTEM, conversation

COUNTER = TokenCounter("gpt-4o")


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    llm_input_messages: list[AnyMessage]


def _graph(hook: object) -> object:
    builder = StateGraph(State)
    builder.add_node("optimize", hook)
    builder.add_edge(START, "optimize")
    builder.add_edge("optimize", END)
    return builder.compile()


def test_hook_writes_separate_key_and_keeps_full_history() -> None:
    msgs = conversation(8)
    budget = COUNTER.count_messages(msgs) // 3
    graph = _graph(context_hook(ContextOptimizer(max_tokens=budget)))
    out = graph.invoke({"messages": msgs})
    assert len(out["messages"]) == len(msgs)  # full history kept in state
    view = out["llm_input_messages"]
    validate_history(view)
    assert COUNTER.count_messages(view) <= budget < COUNTER.count_messages(out["messages"])


def test_hook_rewrites_state_with_remove_all() -> None:
    msgs = conversation(8)
    budget = COUNTER.count_messages(msgs) // 3
    hook = context_hook(ContextOptimizer(max_tokens=budget), rewrite=True)
    update = hook.invoke({"messages": msgs})
    first = update["messages"][0]
    assert isinstance(first, RemoveMessage) and first.id == REMOVE_ALL_MESSAGES
    out = _graph(hook).invoke({"messages": msgs})
    validate_history(out["messages"])
    assert COUNTER.count_messages(out["messages"]) <= budget
    assert out["messages"][0].content == SYSTEM.content


async def test_hook_async_and_budget_errors() -> None:
    msgs: list[BaseMessage] = [SYSTEM, HumanMessage("hi")]
    tight = ContextOptimizer(max_tokens=5)
    with pytest.raises(BudgetExceededError):
        await context_hook(tight).ainvoke({"messages": msgs})
    passed = await context_hook(tight, on_budget_exceeded="pass_through").ainvoke(
        {"messages": msgs}
    )
    assert passed["llm_input_messages"] == msgs
    with pytest.raises(TokenOptConfigError):
        context_hook(tight, on_budget_exceeded="ignore")  # type: ignore[arg-type]


def test_rewrite_mode_folds_earlier_summaries_across_turns() -> None:
    from langchain_core.messages import AIMessage, SystemMessage

    budget = COUNTER.count_messages([SYSTEM]) + 700
    hook = context_hook(ContextOptimizer(max_tokens=budget), rewrite=True)
    graph = _graph(hook)
    state = {"messages": conversation(6)}
    for turn in range(4):
        extra = conversation(3)[1:]
        for m in extra:
            m.id = f"{m.id}-turn{turn}"
        state = graph.invoke({"messages": [*state["messages"], *extra]})
        msgs = state["messages"]
        validate_history(msgs)
        assert COUNTER.count_messages(msgs) <= budget
        summaries = [
            m for m in msgs if isinstance(m, SystemMessage) and m.content != SYSTEM.content
        ]
        assert len(summaries) <= 1
        assert msgs[0].content == SYSTEM.content
        assert isinstance(msgs[-1], AIMessage)
