from __future__ import annotations

import json
from collections import Counter

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_tokenopt.context import (
    ContextOptimizer,
    ExtractiveSummarizer,
    HierarchicalSummary,
    MaskToolOutputs,
    SlidingWindow,
    SummaryCache,
    validate_history,
)
from langchain_tokenopt.context.strategies.mask import MASK_PREFIX
from langchain_tokenopt.context.summarize import ensure_facts, render_transcript, shrink_lines
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter

from .helpers import SYSTEM, call, conversation, tool_result

COUNTER = TokenCounter("gpt-4o")


def test_mask_replaces_old_outputs_keeping_name_and_ids() -> None:
    msgs = conversation(6, size=80)
    total = COUNTER.count_messages(msgs)
    out = ContextOptimizer(
        max_tokens=total - 200, strategies=[MaskToolOutputs(keep_last=2)]
    ).invoke(msgs)
    tools = [m for m in out if isinstance(m, ToolMessage)]
    masked = [t for t in tools if str(t.content).startswith(MASK_PREFIX)]
    assert masked, "nothing was masked"
    first = masked[0]
    assert "get_reservation_details" in str(first.content)
    assert "HAT100" in str(first.content)  # ids of the output survive in the placeholder
    assert "reservation_id," not in str(first.content)  # JSON keys are not kept as values
    first_call = next(m for m in out if isinstance(m, AIMessage) and m.tool_calls)
    assert first_call.tool_calls[0]["args"] == {"reservation_id": "C0"}  # calls untouched
    # The newest two exchanges are untouched.
    assert not any(str(t.content).startswith(MASK_PREFIX) for t in tools[-2:])
    assert len(out) == len(msgs)  # masking alone was enough: nothing dropped


def test_mask_keeps_the_values_of_identifier_fields() -> None:
    users = {
        "users": [
            {"username": "justinkool", "name": "Justin Kool", "city": "Springfield"},
            {"username": "mstein", "name": "Mia Stein", "city": "Portland"},
        ],
        "reminder_id": "ff-7890",
        "note": "a plain word value stays out: " + "filler text " * 40,
    }
    msgs = [
        HumanMessage("Who of my friends are on the platform?"),
        AIMessage("", tool_calls=[call("q1", "QueryUser", query="friends")]),
        ToolMessage(json.dumps(users), tool_call_id="q1", name="QueryUser"),
        AIMessage("Justin and Mia are on the platform."),
        HumanMessage("Send them a message that I signed up."),
    ]
    total = COUNTER.count_messages(msgs)
    out = ContextOptimizer(max_tokens=total - 60, strategies=[MaskToolOutputs(keep_last=0)]).invoke(
        msgs
    )
    masked = next(m for m in out if isinstance(m, ToolMessage))
    text = str(masked.content)
    assert text.startswith(MASK_PREFIX)
    # lowercase user names and dashed ids match no pattern; their JSON keys say what they are
    assert "justinkool" in text and "mstein" in text and "ff-7890" in text
    assert "Springfield" not in text


def test_mask_prefers_ids_mentioned_later() -> None:
    result = tool_result("c0", size=200)  # HAT100..HAT299
    msgs = [
        SYSTEM,
        HumanMessage("find flights"),
        AIMessage("", tool_calls=[call("c0")]),
        result,
        HumanMessage("book HAT277 please"),
        AIMessage("Booked HAT277."),
    ]
    total = COUNTER.count_messages(msgs)
    out = ContextOptimizer(
        max_tokens=total - 500, strategies=[MaskToolOutputs(keep_last=0, max_facts=3)]
    ).invoke(msgs)
    placeholder = str(out[3].content)
    assert placeholder.startswith(MASK_PREFIX) and "HAT277" in placeholder


def test_sliding_window_starts_on_human_turn() -> None:
    msgs = conversation(8)
    budget = COUNTER.count_messages(msgs) // 2
    out = ContextOptimizer(max_tokens=budget, strategies=[SlidingWindow()]).invoke(msgs)
    assert out[0] == SYSTEM and isinstance(out[1], HumanMessage)
    assert out[-4:] == msgs[-4:]
    validate_history(out)


class _RecordingCache(SummaryCache):
    """A real SummaryCache that also records how often each key was written."""

    def __init__(self) -> None:
        super().__init__()
        self.puts: Counter[str] = Counter()

    def put(self, key: str, value: str) -> None:
        self.puts[key] += 1
        super().put(key, value)


def test_summary_cache_reused_across_turns() -> None:
    cache = _RecordingCache()
    step = HierarchicalSummary(cache=cache, segment_units=4)
    msgs = conversation(12)
    sys_tokens = COUNTER.count_messages([SYSTEM])

    def run(history: list) -> list:
        budget = sys_tokens + 600
        return ContextOptimizer(max_tokens=budget, strategies=[MaskToolOutputs(), step]).invoke(
            history
        )

    run(msgs)
    misses_first = cache.misses
    assert misses_first > 0
    # Next turn: two more messages; the old full segments are not summarized again.
    msgs2 = [
        *msgs,
        HumanMessage("and RES999?", id="hx"),
        AIMessage("RES999 is not found.", id="rx"),
    ]
    hits_first = cache.hits
    out = run(msgs2)
    assert cache.hits > hits_first  # old segments come from the cache
    assert cache.misses - misses_first <= 2  # at most the new segment(s)
    assert max(cache.puts.values()) == 1  # nothing was summarized twice
    validate_history(out)


def test_hierarchy_merges_summaries_when_segments_do_not_fit() -> None:
    cache = SummaryCache()
    step = HierarchicalSummary(cache=cache, segment_units=2, segment_tokens=80, fan_in=2)
    msgs = conversation(16)
    out = ContextOptimizer(
        max_tokens=COUNTER.count_messages([SYSTEM]) + 600, strategies=[MaskToolOutputs(), step]
    ).optimize(msgs)
    keys = list(cache._data)  # noqa: SLF001 - inspecting the levels in a test
    levels = {k.split("|")[1] for k in keys}
    assert {"0", "1"} <= levels
    summary = [m for m in out.messages if isinstance(m, SystemMessage) and m is not SYSTEM]
    assert summary and "Summary of the earlier conversation" in str(summary[0].content)


def test_extractive_summary_keeps_call_arguments_and_facts() -> None:
    msgs = conversation(4)[1:]
    text = render_transcript(msgs)
    assert 'Called get_reservation_details({"reservation_id":"C0"})' in text
    summary = ExtractiveSummarizer().summarize(text, max_tokens=60, counter=COUNTER)
    assert COUNTER.count(summary) <= 60
    assert "C0" in summary or "RES000" in summary


def test_shrink_and_ensure_facts_respect_limits() -> None:
    text = "\n".join(f"User: booking REF{i:04d} for flight HAT{i}" for i in range(100))
    short = shrink_lines(text, 40, COUNTER)
    assert COUNTER.count(short) <= 40
    with_facts = ensure_facts("short summary", text, 30, COUNTER)
    assert with_facts.startswith("short summary\nFacts: REF0000")
    assert COUNTER.count(with_facts) <= 30


def test_ensure_facts_writes_lines_that_a_later_fit_keeps_whole() -> None:
    text = "\n".join(
        f"Tool get_user_details -> gift_card_{7000000 + i}, certificate_{8000000 + i}"
        for i in range(40)
    )
    out = ensure_facts("", text, 400, COUNTER)
    lines = out.splitlines()
    assert len(lines) > 1 and COUNTER.count(out) <= 400
    assert all(line.startswith("Facts: ") and len(line) <= 320 for line in lines)
    # a fit that must drop some keeps or drops each line whole, never an id cut in two
    for line in shrink_lines(out, 120, COUNTER).splitlines():
        assert line in lines


def test_the_summary_at_the_boundary_gives_its_newest_lines_to_the_recent_part() -> None:
    """The newest turns read on without a gap, even where a segment ends mid-way."""
    msgs = conversation(40, size=12)
    budget = COUNTER.count_messages([SYSTEM]) + 700
    step = HierarchicalSummary(segment_units=3, recent_share=0.5)
    out = ContextOptimizer(max_tokens=budget, strategies=[MaskToolOutputs(), step]).optimize(msgs)
    lines = str(out.messages[1].content).splitlines()
    ask = lines.index("User: Please check reservation RES036 for user mia_li_36")
    assert lines[ask - 1] == "Assistant: Reservation RES035 is confirmed for flight HAT135."
    assert out.tokens_after <= budget


def test_summary_config_is_validated() -> None:
    import pytest

    with pytest.raises(TokenOptConfigError):
        HierarchicalSummary(share=1.5)
    with pytest.raises(TokenOptConfigError):
        HierarchicalSummary(summarizer="smollm")  # type: ignore[arg-type]
    with pytest.raises(TokenOptConfigError):
        SummaryCache(max_entries=0)
    with pytest.raises(TokenOptConfigError, match=r"HierarchicalSummary\.fan_in .* >= 2, got 1"):
        HierarchicalSummary(fan_in=1)
    with pytest.raises(TokenOptConfigError, match=r"HierarchicalSummary\.segment_units"):
        HierarchicalSummary(segment_units=True)  # a bool is not a count


def test_compress_prose_shrinks_old_prose_but_never_json_or_ids() -> None:
    from langchain_tokenopt.context import CompressProse

    filler = " ".join(
        f"Sentence {i} talks about the weather, the clouds and the long history of aviation."
        for i in range(40)
    )
    prose = HumanMessage(f"My booking is ZFA04Y. {filler}", id="prose")
    data = AIMessage(
        '{"reservation_id": "ZFA04Y", "rows": [' + ", ".join(["1"] * 400) + "]}", id="json"
    )
    msgs = [
        SYSTEM,
        prose,
        data,
        HumanMessage("What about ZFA04Y?", id="q1"),
        AIMessage("It is confirmed.", id="a1"),
        HumanMessage("And the seat for ZFA04Y?", id="q2"),
        AIMessage("Seat 12A.", id="a2"),
    ]
    total = COUNTER.count_messages(msgs)
    result = ContextOptimizer(
        max_tokens=total - 300, strategies=[CompressProse(ratio=0.3, keep_last=2)]
    ).optimize(msgs)
    out = result.messages
    validate_history(out)
    assert any("compressed the prose" in s for s in result.steps)
    short = next(m for m in out if m.id == "prose")
    assert COUNTER.count(str(short.content)) < COUNTER.count(str(prose.content))
    assert "ZFA04Y" in str(short.content)
    assert next(m for m in out if m.id == "json").content == data.content  # JSON untouched


def test_the_assistants_last_reply_comes_back_when_the_results_before_it_are_too_large() -> None:
    """The user answers the assistant's options ("Option 2"): those options must be sent.

    A tool exchange too large for the room left by the summary is skipped whole, and the
    words around it (the turn that asked, the reply that listed the options) still come back.
    """
    msgs = conversation(10)
    big = json.dumps({"flights": [f"HAT{300 + i} departs 0{i % 10}:00" for i in range(400)]})
    msgs += [
        HumanMessage("Find me flights on May 24 after 8 am.", id="h-ask"),
        AIMessage("", tool_calls=[call("cbig", name="search_onestop_flight")], id="a-big"),
        ToolMessage(big, tool_call_id="cbig", name="search_onestop_flight", id="t-big"),
        AIMessage("Option 1: HAT301 then HAT302. Option 2: HAT227 then HAT139.", id="r-opts"),
        HumanMessage("I'll go with Option 2, please.", id="h-pick"),
    ]
    budget = COUNTER.count_messages([SYSTEM]) + 900
    assert COUNTER.count_messages([msgs[-3]]) > budget  # the results alone are over budget
    out = ContextOptimizer(max_tokens=budget).optimize(msgs)
    ids = [m.id for m in out.messages]
    assert ids[-3:] == ["h-ask", "r-opts", "h-pick"]
    assert "t-big" not in ids and "a-big" not in ids  # skipped whole, never split
    assert "HAT227" in str(out.messages[-2].content)
    assert out.tokens_after <= budget
    validate_history(out.messages)


def test_the_newest_summarized_turns_keep_their_words_when_the_summary_is_cut() -> None:
    """The turns just before the window (the open task's lookups) are not cut to bare ids."""
    msgs = conversation(40, size=12)
    budget = COUNTER.count_messages([SYSTEM]) + 700

    def summary(recent_share: float) -> str:
        step = HierarchicalSummary(segment_units=2, recent_share=recent_share)
        out = ContextOptimizer(max_tokens=budget, strategies=[MaskToolOutputs(), step]).optimize(
            msgs
        )
        assert out.tokens_after <= budget
        return str(out.messages[1].content)

    flat, recent = summary(0.0), summary(0.5)
    assert flat.startswith("Summary of the earlier conversation")
    for detail in ("HAT137", 'Called get_reservation_details({"reservation_id":"C37"})'):
        assert detail in recent and detail not in flat
    # the older segments are still fitted as their facts
    assert any(line.startswith("Facts: RES0") for line in recent.splitlines())
    with pytest.raises(TokenOptConfigError):
        HierarchicalSummary(recent_share=1.0)


def test_all_capital_codes_rank_as_identifiers() -> None:
    from langchain_tokenopt.context.facts import fact_rank, ranked_facts

    assert fact_rank("AQLBTL") == fact_rank("ZFA04Y") == 3
    assert fact_rank("USA") < 3 and fact_rank("NOTE") < 3 and fact_rank("Houston") < 3
    ranked = ranked_facts(["80211", "USA", "AQLBTL", "2024-05-20"])
    assert ranked[0] == "AQLBTL"
