"""The local SmolLM2 chat model and the LM summary path (real model, offline)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.tools import tool

from langchain_tokenopt.context import (
    ChatModelSummarizer,
    ContextOptimizer,
    HierarchicalSummary,
    MaskToolOutputs,
    SummaryCache,
    context_hook,
    validate_history,
)
from langchain_tokenopt.llms import LocalChatModel
from langchain_tokenopt.tokens import TokenCounter
from tests.unit_tests.context.helpers import SYSTEM, conversation

pytestmark = [pytest.mark.requires_lm, pytest.mark.timeout(600)]
COUNTER = TokenCounter("gpt-4o")


@pytest.fixture(scope="module")
def llm() -> LocalChatModel:
    return LocalChatModel(max_new_tokens=12, num_threads=2)


def test_invoke_stream_usage_and_tools(llm: LocalChatModel) -> None:
    reply = llm.invoke([HumanMessage("What is the capital of France?")])
    assert "Paris" in reply.text
    usage = reply.usage_metadata
    assert usage is not None and usage["input_tokens"] > 5 and 0 < usage["output_tokens"] <= 12
    chunks = list(llm.stream("Say hello to Mia.", max_tokens=6))
    assert len([c for c in chunks if c.content]) > 1
    assert chunks[-1].usage_metadata is not None
    assert "".join(str(c.content) for c in chunks).strip()

    @tool
    def lookup(reservation_id: str) -> str:
        """Look up a reservation."""
        return reservation_id

    bound = llm.bind_tools([lookup])
    answer = bound.invoke("Look up reservation ZFA04Y", max_tokens=6)
    assert isinstance(answer, AIMessage) and answer.text and not answer.tool_calls
    # usage counts the whole request, as a provider bills it: the bound schemas too, and a
    # prompt longer than the model reads (it keeps only its last ``max_input_tokens``)
    plain = llm.invoke("Look up reservation ZFA04Y", max_tokens=6).usage_metadata
    assert answer.usage_metadata is not None and plain is not None
    assert answer.usage_metadata["input_tokens"] > plain["input_tokens"] + 10
    short = LocalChatModel(max_new_tokens=2, max_input_tokens=32, num_threads=2)
    long_prompt = "Please check reservation ZFA04Y for Mia Li. " * 20
    usage = short.invoke(long_prompt).usage_metadata
    assert usage is not None and usage["input_tokens"] > 150


def test_lm_summaries_keep_ids_and_are_reused_across_turns_and_restarts(
    llm: LocalChatModel, tmp_path: Path
) -> None:
    summarizer = ChatModelSummarizer(LocalChatModel(num_threads=2), max_input_tokens=256)
    cache = SummaryCache(path=tmp_path / "summaries.sqlite")
    step = HierarchicalSummary(
        summarizer=summarizer, cache=cache, segment_units=8, segment_tokens=24
    )
    msgs = conversation(6)
    budget = COUNTER.count_messages([SYSTEM]) + 420

    def optimize(history: list) -> list:
        return ContextOptimizer(max_tokens=budget, strategies=[MaskToolOutputs(), step]).invoke(
            history
        )

    out = optimize(msgs)
    validate_history(out)
    assert COUNTER.count_messages(out) <= budget
    summary = [m for m in out if isinstance(m, SystemMessage) and m is not SYSTEM]
    assert summary, "no summary was written"
    assert summarizer.calls >= 1
    text = str(summary[0].content)
    # The fact check keeps the ids of the summarized turns.
    assert "RES000" in text and "mia_li_0" in text
    calls_first = summarizer.calls
    # Next turn: the old segment summaries come from the cache.
    turn2 = [
        *msgs,
        HumanMessage("Thanks! And RES005 again?", id="h-next"),
        AIMessage("RES005 is confirmed.", id="r-next"),
    ]
    out2 = optimize(turn2)
    validate_history(out2)
    assert cache.hits >= 1
    assert summarizer.calls - calls_first <= 1
    # Same history again: nothing recomputed at all.
    calls_second = summarizer.calls
    assert optimize(turn2) == out2
    assert summarizer.calls == calls_second
    # A restart: a new optimizer (nothing memoized), summarizer and cache on the same file.
    restarted = ChatModelSummarizer(LocalChatModel(num_threads=2), max_input_tokens=256)
    step_after = HierarchicalSummary(
        summarizer=restarted,
        cache=SummaryCache(path=tmp_path / "summaries.sqlite"),
        segment_units=8,
        segment_tokens=24,
    )
    again = ContextOptimizer(max_tokens=budget, strategies=[MaskToolOutputs(), step_after])
    assert again.invoke(turn2) == out2
    assert restarted.calls == 0  # every model summary came from the file


@pytest.mark.filterwarnings("ignore:create_react_agent has been moved")
def test_pre_model_hook_in_a_react_agent(llm: LocalChatModel) -> None:
    from langgraph.prebuilt import create_react_agent

    @tool
    def lookup(reservation_id: str) -> str:
        """Look up a reservation."""
        return f"{reservation_id}: confirmed"

    msgs = conversation(6)
    budget = COUNTER.count_messages(msgs) // 3
    agent = create_react_agent(
        llm, [lookup], pre_model_hook=context_hook(ContextOptimizer(max_tokens=budget))
    )
    state = agent.invoke({"messages": [*msgs, HumanMessage("Is RES005 still confirmed?")]})
    assert len(state["messages"]) == len(msgs) + 2  # full history kept, one AI answer added
    assert isinstance(state["messages"][-1], AIMessage)
