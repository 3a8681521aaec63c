"""The compiled graph with the real local model, the real cache and the real monitor."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.caches import BaseCache
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import StateGraph

from langchain_tokenopt import build_optimized_agent
from langchain_tokenopt.cache import SemanticCache
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.llms import LocalChatModel
from langchain_tokenopt.monitoring import TokenOptCallbackHandler

SYSTEM = "You are the assistant of an outdoor-gear shop. Answer in one short sentence."


@tool
def get_store_hours(city: str) -> str:
    """Return the opening hours of the store in a city."""
    return f"The {city} store opens 9:00-18:00."


@tool
def track_parcel(tracking_number: str) -> str:
    """Track a parcel by its carrier tracking number."""
    return f"Parcel {tracking_number} is in transit."


def _ask(graph: Any, question: str, *, thread: str, tenant: str) -> dict[str, Any]:
    config = {"configurable": {"thread_id": thread}, "metadata": {"tenant_id": tenant}}
    return graph.invoke({"messages": [HumanMessage(question)]}, config)


def test_factory_returns_an_uncompiled_state_graph(
    llm: LocalChatModel, cache: SemanticCache
) -> None:
    graph = build_optimized_agent(
        llm, [get_store_hours], system_prompt=SYSTEM, cache=cache, monitor=False
    )
    assert isinstance(graph, StateGraph)
    nodes = set(graph.nodes)
    assert {
        "cache_check",
        "select_tools",
        "compress_prompt",
        "optimize_context",
        "call_model",
        "tools",
        "cache_store",
    } <= nodes


def test_turns_miss_repeat_tenant_and_followup(
    llm: LocalChatModel, cache: SemanticCache, monitor: TokenOptCallbackHandler
) -> None:
    graph = build_optimized_agent(
        llm, [get_store_hours, track_parcel], system_prompt=SYSTEM, cache=cache, monitor=monitor
    ).compile(checkpointer=InMemorySaver())

    first = _ask(graph, "What is the capital of France?", thread="a", tenant="acme")
    assert first["turn"]["cache_hit"] is False
    answer = first["messages"][-1]
    assert isinstance(answer, AIMessage) and answer.content

    repeat = _ask(graph, "What is the capital of France?", thread="b", tenant="acme")
    assert repeat["turn"]["cache_hit"] is True
    assert repeat["messages"][-1].content == answer.content

    paraphrase = _ask(graph, "What's the capital of France?", thread="p", tenant="acme")
    assert paraphrase["turn"]["cache_hit"] is True
    assert paraphrase["messages"][-1].content == answer.content

    other_tenant = _ask(graph, "What is the capital of France?", thread="c", tenant="globex")
    assert other_tenant["turn"]["cache_hit"] is False

    # A follow-up depends on its conversation: asked in a thread with different history it
    # must miss even though its text is identical.
    _ask(graph, "Tell me about the Denver store.", thread="d", tenant="acme")
    follow = _ask(graph, "And what about on Sundays?", thread="d", tenant="acme")
    assert follow["turn"]["cache_hit"] is False
    _ask(graph, "Tell me about the Boston store.", thread="e", tenant="acme")
    elsewhere = _ask(graph, "And what about on Sundays?", thread="e", tenant="acme")
    assert elsewhere["turn"]["cache_hit"] is False

    summary = monitor.summary(window=None)
    records = monitor.store.records()
    assert summary.requests == len(records) == 8
    hits = sorted((r for r in records if r.cache_hit), key=lambda r: r.timestamp)
    # "What's" and "What is" read the same after canonicalization: both hits are exact
    assert [h.cache_layer for h in hits] == ["exact", "exact"]
    assert not any(h.llm_called for h in hits)
    misses = [r for r in records if not r.cache_hit]
    for record in misses:
        steps = {s.step for s in record.steps}
        assert {"cache", "tool_selection", "context"} <= steps
        assert record.tenant_id in ("acme", "globex")
        assert record.llm_called is True


def test_streaming_replays_a_hit_as_chunks_and_stores_a_streamed_answer(
    llm: LocalChatModel, cache: SemanticCache
) -> None:
    graph = build_optimized_agent(
        llm, [], system_prompt=SYSTEM, cache=cache, monitor=False
    ).compile()
    config = {"metadata": {"tenant_id": "acme"}}
    question = {"messages": [HumanMessage("Name a primary color.")]}
    streamed = [m for m, _ in graph.stream(question, config, stream_mode="messages")]
    live_text = "".join(str(m.content) for m in streamed if isinstance(m, AIMessageChunk))
    assert live_text  # the model's own tokens were streamed
    # The streamed answer was stored: the same question now hits and is replayed in chunks.
    replay = [
        m
        for m, meta in graph.stream(question, config, stream_mode="messages")
        if meta.get("langgraph_node") == "cache_check"
    ]
    chunks = [m for m in replay if isinstance(m, AIMessageChunk) and m.content]
    assert len(chunks) >= 2 or len(live_text.split()) == 1
    assert "".join(str(c.content) for c in chunks).strip() == live_text.strip()


def test_async_graph_answers_and_hits(llm: LocalChatModel, cache: SemanticCache) -> None:
    graph = build_optimized_agent(
        llm, [get_store_hours], system_prompt=SYSTEM, cache=cache, monitor=False
    ).compile()
    config = {"metadata": {"tenant_id": "acme"}}

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        one = await graph.ainvoke({"messages": [HumanMessage("What is two plus two?")]}, config)
        two = await graph.ainvoke({"messages": [HumanMessage("What is two plus two?")]}, config)
        return one, two

    one, two = asyncio.run(run())
    assert one["turn"]["cache_hit"] is False and two["turn"]["cache_hit"] is True
    assert one["messages"][-1].content == two["messages"][-1].content


class _BrokenCache(BaseCache):
    def lookup(self, prompt: str, llm_string: str) -> Any:
        raise RuntimeError("cache backend exploded")

    def update(self, prompt: str, llm_string: str, return_val: Any) -> None:
        raise RuntimeError("cache backend exploded")

    def clear(self, **kwargs: Any) -> None:
        return None


class _BrokenSelector:
    def select(self, messages: Any) -> Any:
        raise KeyError("selector exploded")


def _broken_compressor(prompt: Any, question: str) -> str:
    raise ValueError("compressor exploded")


def _broken_history(messages: Any) -> Any:
    raise ZeroDivisionError("context exploded")


def test_every_step_fails_open_and_is_recorded(
    llm: LocalChatModel, monitor: TokenOptCallbackHandler
) -> None:
    graph = build_optimized_agent(
        llm,
        [get_store_hours, track_parcel],
        system_prompt=SYSTEM,
        cache=_BrokenCache(),
        tool_selector=_BrokenSelector(),
        compressor=_broken_compressor,
        context_optimizer=RunnableLambda(_broken_history),
        monitor=monitor,
    ).compile()
    state = graph.invoke({"messages": [HumanMessage("What is the capital of Italy?")]})
    answer = state["messages"][-1]
    assert isinstance(answer, AIMessage) and answer.content
    # Unoptimized pass-through: every tool bound, full system prompt.
    assert state["turn"]["tools"] == ["get_store_hours", "track_parcel"]
    assert state["turn"]["system_prompt"] == SYSTEM
    monitor.store.flush()
    records = monitor.store.records()
    assert len(records) == 1
    errors = {s.step: s.error for s in records[0].steps}
    assert errors == {
        "cache": "RuntimeError",
        "tool_selection": "KeyError",
        "compression": "ValueError",
        "context": "ZeroDivisionError",
    }


def test_switching_steps_off(llm: LocalChatModel) -> None:
    graph = build_optimized_agent(
        llm,
        [get_store_hours],
        system_prompt=SYSTEM,
        cache=False,
        tool_selector=False,
        compressor=False,
        context_optimizer=False,
        monitor=False,
    ).compile()
    state = graph.invoke({"messages": [HumanMessage("Hello!")]})
    assert state["turn"]["tools"] == ["get_store_hours"]
    assert isinstance(state["messages"][-1], AIMessage)


def test_bad_arguments_are_clear_errors(llm: LocalChatModel) -> None:
    with pytest.raises(TokenOptConfigError):
        build_optimized_agent("gpt-4o", [])  # type: ignore[arg-type]
    with pytest.raises(TokenOptConfigError):
        build_optimized_agent(llm, [], context_budget=0)
    with pytest.raises(TokenOptConfigError):
        build_optimized_agent(llm, [42])  # type: ignore[list-item]
    with pytest.raises(TokenOptConfigError):
        build_optimized_agent(llm, [], cache="yes")  # type: ignore[arg-type]


def test_deployable_module_imports_and_compiles(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LANGCHAIN_TOKENOPT_HOME", str(tmp_path))
    root = Path(__file__).resolve().parents[3]
    spec = importlib.util.spec_from_file_location(
        "optimized_agent", root / "graphs" / "optimized_agent.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["optimized_agent"] = module
    spec.loader.exec_module(module)
    assert "cache_check" in module.graph.get_graph().nodes
    import json

    config = json.loads((root / "langgraph.json").read_text())
    assert config["graphs"]["optimized_agent"] == "./graphs/optimized_agent.py:graph"


def test_cache_scope_by_tenant_shares_answers_between_users(
    llm: LocalChatModel, cache: SemanticCache
) -> None:
    def build(scope_by: tuple[str, ...]) -> Any:
        return build_optimized_agent(
            llm, [], system_prompt=SYSTEM, cache=cache, monitor=False, cache_scope_by=scope_by
        ).compile()

    question = {"messages": [HumanMessage("What colour is the sky on a clear day?")]}
    per_user = build(("tenant_id", "user_id"))
    per_user.invoke(question, {"metadata": {"tenant_id": "acme", "user_id": "u1"}})
    other = per_user.invoke(question, {"metadata": {"tenant_id": "acme", "user_id": "u2"}})
    assert other["turn"]["cache_hit"] is False
    per_tenant = build(("tenant_id",))
    per_tenant.invoke(question, {"metadata": {"tenant_id": "acme", "user_id": "u1"}})
    shared = per_tenant.invoke(question, {"metadata": {"tenant_id": "acme", "user_id": "u3"}})
    assert shared["turn"]["cache_hit"] is True
    elsewhere = per_tenant.invoke(question, {"metadata": {"tenant_id": "globex", "user_id": "u3"}})
    assert elsewhere["turn"]["cache_hit"] is False
    with pytest.raises(TokenOptConfigError):
        build(("org_id",))
