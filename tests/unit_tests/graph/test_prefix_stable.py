"""Prefix-stable mode: the request prefix a provider caches stays the same within a thread.

The chat models are the real ``langchain-anthropic`` / ``langchain-openai`` clients; only
their network call is replaced: ``_generate`` builds the exact request payload the client
would send (``_get_request_payload``), records it and answers from a script.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver

from langchain_tokenopt import build_optimized_agent
from langchain_tokenopt.context import ContextOptimizer
from langchain_tokenopt.context.compaction import CompactedView, stepwise_view
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.graph.prefix import prefix_caching_default, provider_of
from langchain_tokenopt.tokens import TokenCounter
from tests.unit_tests.graph.test_agent_loop import CATALOG, SYSTEM

#: Request payloads the clients built, in call order (cleared by each test).
PAYLOADS: list[dict[str, Any]] = []


def _reply(messages: list[BaseMessage]) -> AIMessage:
    """Look a reservation up once per user turn, then answer."""
    last = messages[-1]
    if isinstance(last, HumanMessage):
        n = sum(isinstance(m, HumanMessage) for m in messages)
        rid = f"R{n:03d}Q"
        return AIMessage(
            "",
            tool_calls=[
                {"name": "get_reservation_details", "args": {"reservation_id": rid}, "id": rid}
            ],
        )
    return AIMessage(f"Here are the details: {str(last.content)[:60]}")


class CapturingAnthropic(ChatAnthropic):
    """The real Anthropic client; the payload it would send is recorded instead."""

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        PAYLOADS.append(self._get_request_payload(messages, stop=stop, **kw))
        return ChatResult(generations=[ChatGeneration(message=_reply(messages))])


class CapturingOpenAI(ChatOpenAI):
    """The real OpenAI client; the payload it would send is recorded instead."""

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        PAYLOADS.append(self._get_request_payload(messages, stop=stop, **kw))
        return ChatResult(generations=[ChatGeneration(message=_reply(messages))])


def _anthropic() -> CapturingAnthropic:
    return CapturingAnthropic(model="claude-sonnet-4-5", api_key="test-key", max_retries=0)


def _openai() -> CapturingOpenAI:
    return CapturingOpenAI(model="gpt-4o", api_key="test-key", max_retries=0)


def _turns(graph: Any, thread: str, n: int) -> None:
    config = {"configurable": {"thread_id": thread}}
    for i in range(n):
        question = f"Please look up my reservation number {i} and tell me its status in detail."
        graph.invoke({"messages": [HumanMessage(question)]}, config)


def _prefix_kept(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether ``after`` repeats ``before``'s tools, system and messages as its prefix."""
    if before.get("tools") != after.get("tools") or before.get("system") != after.get("system"):
        return False
    old, new = before["messages"], after["messages"]
    if len(new) < len(old):
        return False
    strip = [_without_marks(m) for m in old[:-1]]
    return strip == [_without_marks(m) for m in new[: len(old) - 1]]


def _without_marks(message: dict[str, Any]) -> str:
    """The message as JSON without cache breakpoints (they move to the newest message)."""
    text = json.dumps(message, sort_keys=True)
    return text.replace(', "cache_control": {"type": "ephemeral"}', "")


def test_provider_detection() -> None:
    assert provider_of(_anthropic()) == "anthropic"
    assert provider_of(_openai()) == "openai"
    assert prefix_caching_default(_anthropic())
    from langchain_tokenopt.llms import LocalChatModel

    assert not prefix_caching_default(LocalChatModel.model_construct())


def test_prefix_stays_identical_between_compactions_with_anthropic_breakpoints() -> None:
    PAYLOADS.clear()
    graph = build_optimized_agent(
        _anthropic(), CATALOG, system_prompt=SYSTEM, cache=False, monitor=False, context_budget=400
    ).compile(checkpointer=InMemorySaver())
    _turns(graph, "t-anthropic", 10)
    assert len(PAYLOADS) == 20
    kept = [_prefix_kept(a, b) for a, b in zip(PAYLOADS, PAYLOADS[1:], strict=False)]
    # a compaction rewrites the prefix now and then; between compactions it is identical
    assert 0 < kept.count(False) <= 5, kept
    assert sum(kept) >= 14
    for payload in PAYLOADS:
        assert payload["tools"][-1]["cache_control"] == {"type": "ephemeral"}
        # the system prompt is marked (a compaction's summary may follow it in "system")
        assert payload["system"][0]["cache_control"] == {"type": "ephemeral"}
        marks = json.dumps(payload["messages"]).count('"cache_control"')
        assert 1 <= marks <= 2  # the newest message, and the compacted history's end
        last = payload["messages"][-1]["content"]
        assert isinstance(last, list) and "cache_control" in last[-1]


def test_openai_calls_carry_a_stable_prompt_cache_key() -> None:
    PAYLOADS.clear()
    graph = build_optimized_agent(
        _openai(), CATALOG, system_prompt=SYSTEM, cache=False, monitor=False
    ).compile(checkpointer=InMemorySaver())
    _turns(graph, "t-openai", 2)
    keys = {p.get("prompt_cache_key") for p in PAYLOADS}
    assert keys == {"tokenopt-t-openai"}
    _turns(graph, "t-other", 1)
    assert PAYLOADS[-1]["prompt_cache_key"] == "tokenopt-t-other"


def test_middleware_places_breakpoints_and_keeps_the_prefix() -> None:
    from langchain.agents import create_agent

    from langchain_tokenopt.graph.middleware import TokenOptMiddleware

    PAYLOADS.clear()
    agent = create_agent(
        _anthropic(),
        CATALOG,
        system_prompt=SYSTEM,
        middleware=[TokenOptMiddleware(cache=False, context_budget=700)],
        checkpointer=InMemorySaver(),
    )
    _turns(agent, "t-mw", 6)
    assert len(PAYLOADS) == 12
    kept = [_prefix_kept(a, b) for a, b in zip(PAYLOADS, PAYLOADS[1:], strict=False)]
    assert sum(kept) >= 8, kept
    assert all(p["tools"][-1].get("cache_control") for p in PAYLOADS)
    assert all(p["system"][0].get("cache_control") for p in PAYLOADS)


def test_stepwise_view_compacts_only_over_budget() -> None:
    optimizer = ContextOptimizer(max_tokens=400, counter=TokenCounter("gpt-4o"))
    history: list[BaseMessage] = []
    kept: CompactedView | None = None
    compactions = 0
    previous: list[BaseMessage] = []
    for i in range(20):
        history += [
            HumanMessage(f"question {i} about order ORD{i:04d}", id=f"h{i}"),
            AIMessage("", tool_calls=[{"name": "lookup", "args": {"i": i}, "id": f"c{i}"}]),
            ToolMessage("row " * 30, tool_call_id=f"c{i}", id=f"t{i}"),
        ]
        view, kept, compacted = stepwise_view(optimizer, history, kept, compact_to=0.5)
        compactions += compacted
        # between compactions the view grows to budget / compact_to, never past it
        assert TokenCounter("gpt-4o").count_messages(view) <= 400 / 0.5
        if not compacted and previous:
            assert view[: len(previous)] == previous  # only appended to
        previous = view
    assert 1 <= compactions <= 8
    # a history that no longer continues the kept view is compacted afresh
    assert not kept.continues([HumanMessage("other", id="x")])
    with pytest.raises(TokenOptConfigError):
        stepwise_view(optimizer, history, kept, compact_to=1.5)


def _tool_names(payload: dict[str, Any]) -> list[str]:
    return [t["name"] for t in payload["tools"]]


def test_tools_joining_a_thread_are_appended_after_the_cached_ones() -> None:
    PAYLOADS.clear()
    graph = build_optimized_agent(
        _anthropic(), CATALOG, system_prompt=SYSTEM, cache=False, monitor=False
    ).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t-join"}}
    for question in (
        "Please look up my reservation ABC123 and tell me its status.",
        "Please look up my reservation XYZ789 as well.",
        "What will the weather be like in Oslo when I land?",
        "Please look up my reservation QRS456 too.",
    ):
        graph.invoke({"messages": [HumanMessage(question)]}, config)
    names = [_tool_names(p) for p in PAYLOADS]
    assert names[0][0] == "find_tools"
    assert any("get_weather" in n for n in names) and "get_weather" not in names[0]
    joins = 0
    for before, after, old, new in zip(PAYLOADS, PAYLOADS[1:], names, names[1:], strict=False):
        # the working set only grows, at the end: the tools bound before stay the prefix
        assert new[: len(old)] == old, (old, new)
        if new == old:
            assert _prefix_kept(before, after) or len(after["messages"]) < len(before["messages"])
        else:
            joins += 1
    assert 1 <= joins <= 2
