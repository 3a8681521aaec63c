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
from langchain_tokenopt.context.compaction import (
    DEFAULT_COMPACT_TO,
    CompactedView,
    stepwise_view,
)
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.graph.options import OptimizerOptions
from langchain_tokenopt.graph.pipeline import OptimizerPipeline
from langchain_tokenopt.graph.prefix import (
    compaction_share,
    prefix_caching_default,
    provider_of,
)
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


def test_compaction_share_follows_the_providers_cache_prices() -> None:
    # cheap reads and dear writes (Anthropic) let the view grow furthest between compactions
    shares = {p: compaction_share(p) for p in ("anthropic", "google", "openai")}
    assert shares == {"anthropic": 0.36, "google": 0.5, "openai": 0.59}
    assert compaction_share(None) == DEFAULT_COMPACT_TO
    options = OptimizerOptions()
    assert options.compact_to is None
    pipeline = OptimizerPipeline.from_options(
        options,
        model=_anthropic(),
        tools=CATALOG,
        system_prompt=SYSTEM,
        counter=TokenCounter("gpt-4o"),
        cache=None,
        monitor=None,
    )
    assert pipeline.compact_to == 0.36
    with pytest.raises(TokenOptConfigError):
        OptimizerOptions(compact_to=0.0)


def test_provider_detection() -> None:
    assert provider_of(_anthropic()) == "anthropic"
    assert provider_of(_openai()) == "openai"
    assert prefix_caching_default(_anthropic())
    from langchain_tokenopt.llms import LocalChatModel

    assert not prefix_caching_default(LocalChatModel.model_construct())


def test_prefix_stays_identical_between_compactions_with_anthropic_breakpoints() -> None:
    PAYLOADS.clear()
    graph = build_optimized_agent(
        _anthropic(),
        CATALOG,
        system_prompt=SYSTEM,
        cache=False,
        monitor=False,
        context_budget=400,
        compact_to=0.6,  # compactions within ten turns (Anthropic's own share is 0.36)
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


def _lookup_turn(i: int, result: str = "row " * 30) -> list[BaseMessage]:
    """One user turn: a question, the assistant's lookup call and its result."""
    return [
        HumanMessage(f"question {i} about order ORD{i:04d}", id=f"h{i}"),
        AIMessage("", tool_calls=[{"name": "lookup", "args": {"i": i}, "id": f"c{i}"}]),
        ToolMessage(result, tool_call_id=f"c{i}", id=f"t{i}"),
    ]


def test_stepwise_view_compacts_only_over_budget() -> None:
    optimizer = ContextOptimizer(max_tokens=400, counter=TokenCounter("gpt-4o"))
    history: list[BaseMessage] = []
    kept: CompactedView | None = None
    compactions = 0
    previous: list[BaseMessage] = []
    for i in range(20):
        history += _lookup_turn(i)
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


def test_a_changed_head_compacts_a_view_over_budget_at_once() -> None:
    """A call whose tools or system prompt changed compacts a view over the budget then.

    The provider re-reads the whole history on such a call anyway; compacting then saves the
    break a compaction would cause on a later call.
    """
    counter = TokenCounter("gpt-4o")
    optimizer = ContextOptimizer(max_tokens=400, counter=counter)
    history: list[BaseMessage] = []
    kept: CompactedView | None = None
    over_budget = False
    for i in range(12):
        history += _lookup_turn(i)
        view, grown, compacted = stepwise_view(optimizer, history, kept, compact_to=0.5)
        if not compacted and counter.count_messages(view) > 400:
            over_budget = True
            # the same call with a changed head compacts now, to the budget
            now, _, broken = stepwise_view(
                optimizer, history, kept, compact_to=0.5, prefix_broken=True
            )
            assert broken and counter.count_messages(now) <= 400
            assert now != view
        if not compacted and counter.count_messages(view) <= 400:
            # under the budget a changed head keeps the view: nothing to gain
            same, _, broken = stepwise_view(
                optimizer, history, kept, compact_to=0.5, prefix_broken=True
            )
            assert not broken and same == view
        kept = grown
    assert over_budget


def test_a_cramped_compaction_is_redone_once_a_new_turn_releases_its_loop() -> None:
    counter = TokenCounter("gpt-4o")
    optimizer = ContextOptimizer(max_tokens=600, counter=counter)
    history: list[BaseMessage] = []
    for i in range(6):
        history += _lookup_turn(i, f"order ORD{i:04d} row " * 5)
    # a tool loop whose result takes most of the budget: the compaction keeps it verbatim
    history += [
        HumanMessage("search the flights to Oslo", id="h-search"),
        AIMessage("", tool_calls=[{"name": "search", "args": {}, "id": "c-search"}]),
        ToolMessage("flight HAT041 EWR LAX " * 60, tool_call_id="c-search", id="t-search"),
    ]
    view, kept, compacted = stepwise_view(optimizer, history, None, compact_to=0.3)
    assert compacted and kept.cramped
    assert CompactedView.from_state(kept.to_state()) == kept  # survives a checkpoint
    history += [
        AIMessage("Here are the flights.", id="a-answer"),
        HumanMessage("Book the second one, please.", id="h-book"),
    ]
    grown = [*view, *history[kept.upto :]]
    assert counter.count_messages(grown) <= 600 / 0.3  # a plain view would just grow
    again, _, recompacted = stepwise_view(optimizer, history, kept, compact_to=0.3)
    assert recompacted
    assert again == optimizer.optimize(history).messages  # what the default mode sends


def _head_agent(kind: str) -> Any:
    """A prefix-stable agent whose view may grow to 1,200 tokens between compactions."""
    settings: dict[str, Any] = {"cache": False, "context_budget": 300, "compact_to": 0.25}
    if kind == "graph":
        return build_optimized_agent(
            _anthropic(), CATALOG, system_prompt=SYSTEM, monitor=False, **settings
        ).compile(checkpointer=InMemorySaver())
    from langchain.agents import create_agent

    from langchain_tokenopt.graph.middleware import TokenOptMiddleware

    return create_agent(
        _anthropic(),
        CATALOG,
        system_prompt=SYSTEM,
        middleware=[TokenOptMiddleware(**settings)],
        checkpointer=InMemorySaver(),
    )


@pytest.mark.parametrize("kind", ["graph", "middleware"])
def test_compaction_comes_on_the_call_whose_tools_changed(kind: str) -> None:
    PAYLOADS.clear()
    graph = _head_agent(kind)
    config = {"configurable": {"thread_id": "t-head"}}
    questions = [f"Please look up my reservation AB{i:04d}, what is its status?" for i in range(5)]
    questions.append("What will the weather be like in Oslo when I land?")
    for question in questions:
        graph.invoke({"messages": [HumanMessage(question)]}, config)
    names = [_tool_names(p) for p in PAYLOADS]
    changed = [i for i in range(1, len(names)) if names[i] != names[i - 1]]
    assert len(changed) == 1, names
    sizes = [len(p["messages"]) for p in PAYLOADS]
    # before the change the view only grew (appended, under 1,200 tokens); the call that
    # re-sends its history anyway (new tool) compacts it, although it is under 1,200
    assert sizes[: changed[0]] == sorted(sizes[: changed[0]])
    assert sizes[changed[0]] < sizes[changed[0] - 1], sizes


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
