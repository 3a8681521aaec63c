from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.prompt_values import ChatPromptValue
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool

from langchain_tokenopt import ContextOptimizer, validate_history
from langchain_tokenopt.context import MaskToolOutputs, SlidingWindow
from langchain_tokenopt.context.truncate import truncate_text
from langchain_tokenopt.errors import BudgetExceededError, InvalidHistoryError, TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter

from .helpers import SYSTEM, call, conversation, tool_result

COUNTER = TokenCounter("gpt-4o")


def test_history_that_fits_is_returned_unchanged() -> None:
    msgs = conversation(2)
    total = COUNTER.count_messages(msgs)
    assert ContextOptimizer(max_tokens=total).invoke(msgs) == msgs


@pytest.mark.parametrize("frac", [0.1, 0.25, 0.5, 0.8])
def test_cut_history_is_valid_within_budget_and_keeps_system_and_last_human(frac: float) -> None:
    msgs = conversation(8)
    total = COUNTER.count_messages(msgs)
    sys_tokens = COUNTER.count_messages([SYSTEM])
    budget = sys_tokens + int((total - sys_tokens) * frac)
    out = ContextOptimizer(max_tokens=budget, counter=COUNTER).invoke(msgs)
    validate_history(out)
    assert COUNTER.count_messages(out) <= budget
    assert out[0] == SYSTEM
    last_human = [m for m in msgs if isinstance(m, HumanMessage)][-1]
    assert last_human in out
    assert out[-1] == msgs[-1]


def test_ids_survive_in_summary_or_window() -> None:
    msgs = conversation(8)
    sys_tokens = COUNTER.count_messages([SYSTEM])
    total = COUNTER.count_messages(msgs)
    out = ContextOptimizer(max_tokens=sys_tokens + (total - sys_tokens) // 4).invoke(msgs)
    text = "\n".join(str(m.content) for m in out) + str([getattr(m, "tool_calls", "") for m in out])
    # Every reservation id of the conversation is still there (window, placeholders or summary).
    kept = [f"RES{i:03d}" for i in range(8) if f"RES{i:03d}" in text]
    assert len(kept) == 8, kept
    assert any(isinstance(m, SystemMessage) and "Summary" in str(m.content) for m in out)


def test_newest_unit_too_large_is_truncated_inside_with_marker() -> None:
    huge = tool_result("big", size=3000)
    msgs = [SYSTEM, HumanMessage("find flights"), AIMessage("", tool_calls=[call("big")]), huge]
    budget = COUNTER.count_messages(msgs[:3]) + 300
    result = ContextOptimizer(max_tokens=budget).optimize(msgs)
    out = result.messages
    validate_history(out)
    assert result.tokens_after <= budget
    assert len(out) == 4 and isinstance(out[-1], ToolMessage)
    assert "truncated by langchain-tokenopt" in str(out[-1].content)
    assert out[-1].tool_call_id == "big"
    assert any("truncated" in s for s in result.steps)


def test_system_alone_over_budget_raises_typed_error() -> None:
    msgs = conversation(2)
    with pytest.raises(BudgetExceededError):
        ContextOptimizer(max_tokens=COUNTER.count_messages([SYSTEM]) - 1).invoke(msgs)


def test_invalid_input_is_repaired_or_rejected() -> None:
    msgs = [SYSTEM, HumanMessage("q"), tool_result("orphan"), AIMessage("answer")]
    out = ContextOptimizer(max_tokens=10_000).invoke(msgs)
    assert not any(isinstance(m, ToolMessage) for m in out)
    with pytest.raises(InvalidHistoryError):
        ContextOptimizer(max_tokens=10_000, repair_input=False).invoke(msgs)


def test_tools_and_reserve_are_taken_from_the_budget() -> None:
    @tool
    def lookup(reservation_id: str) -> str:
        """Look up a reservation by id."""
        return reservation_id

    msgs = conversation(6)
    plain = ContextOptimizer(max_tokens=2000).optimize(msgs)
    with_tools = ContextOptimizer(max_tokens=2000, tools=[lookup], reserve_tokens=100).optimize(
        msgs
    )
    assert with_tools.budget == 2000 - 100 - COUNTER.count_tools([lookup])
    assert with_tools.tokens_after <= with_tools.budget < plain.budget


def test_config_is_validated() -> None:
    with pytest.raises(TokenOptConfigError):
        ContextOptimizer(max_tokens=0)
    with pytest.raises(TokenOptConfigError):
        ContextOptimizer(max_tokens=100, strategies=["mask"])  # type: ignore[list-item]
    with pytest.raises(TokenOptConfigError):
        ContextOptimizer(max_tokens=10, reserve_tokens=10)
    with pytest.raises(TokenOptConfigError):
        MaskToolOutputs(keep_last=-1)


def test_composes_as_runnable_and_accepts_prompt_values() -> None:
    msgs = conversation(6)
    chain = ContextOptimizer(max_tokens=900) | RunnableLambda(lambda ms: COUNTER.count_messages(ms))
    assert chain.invoke(msgs) <= 900
    assert ContextOptimizer(max_tokens=900).invoke(
        ChatPromptValue(messages=msgs)
    ) == ContextOptimizer(max_tokens=900).invoke(msgs)


async def test_ainvoke_matches_invoke() -> None:
    msgs = conversation(6)
    opt = ContextOptimizer(max_tokens=900, strategies=[MaskToolOutputs(), SlidingWindow()])
    assert await opt.ainvoke(msgs) == opt.invoke(msgs)


def test_last_turn_with_many_tool_units_drops_middle_units() -> None:
    msgs = [SYSTEM, HumanMessage("do many things")]
    for i in range(10):
        msgs += [AIMessage("", tool_calls=[call(f"m{i}")]), tool_result(f"m{i}", 60)]
    budget = COUNTER.count_messages(msgs[:2]) + COUNTER.count_messages(msgs[-2:]) + 120
    out = ContextOptimizer(max_tokens=budget, strategies=[SlidingWindow()]).invoke(msgs)
    validate_history(out)
    body = [m for m in out if not str(m.content).startswith("Earlier steps of the current turn")]
    assert body[:2] == msgs[:2] and out[-2:] == msgs[-2:]
    assert len(body) < len(msgs)
    assert COUNTER.count_messages(out) <= budget


def test_truncate_text_respects_limit() -> None:
    text = "word " * 2000
    short = truncate_text(text, 50, COUNTER)
    assert COUNTER.count(short) <= 50 and "truncated" in short
    assert truncate_text("tiny", 50, COUNTER) == "tiny"


def test_a_short_cut_still_names_the_most_id_like_values() -> None:
    import json

    record = {
        "reservation_id": "JG7FMM",
        "user_id": "omar_davis_3817",
        "flights": [
            {"flight_number": f"HAT{n:03d}", "date": "2024-05-21", "price": 100 + n}
            for n in (28, 277, 31, 45, 112, 190)
        ],
        "payment_history": [{"payment_id": "credit_card_2929732", "amount": 1234}],
        "passengers": [{"first_name": "Omar", "last_name": "Davis", "dob": "1982-10-19"}],
        "created_at": "2024-05-11T01:11:41",
        "total_baggages": 3,
        "insurance": "yes",
    }
    text = json.dumps(record)
    # too small for every id of the cut and some head and tail: the most id-like half fits
    cut = truncate_text(text, 70, COUNTER, keep_facts=True)
    assert COUNTER.count(cut) <= 70
    assert "ids/values in the cut" in cut
    assert "credit_card_2929732" in cut and "HAT277" in cut


def test_a_long_tool_loop_keeps_its_dropped_steps_ids_in_a_note() -> None:
    from langchain_tokenopt.context.optimizer import LOOP_NOTE_HEADER

    # one user turn, then 40 lookups: even cut to a few ids each they are over the budget
    msgs = [SYSTEM, HumanMessage("Downgrade all my reservations to economy, please.", id="h")]
    for i in range(40):
        cid = f"r{i}"
        msgs.append(AIMessage("", tool_calls=[call(cid, reservation_id=f"RS{i:04d}")], id=f"a{i}"))
        body = {
            "reservation_id": f"RS{i:04d}",
            "payment_id": f"gift_card_{7000000 + i}",
            "flights": [{"flight_number": f"HAT{300 + 7 * i + k}", "price": 100} for k in range(6)],
            "notes": "seat map and fare rules " * 20,
        }
        msgs.append(ToolMessage(json.dumps(body), tool_call_id=cid, name="get_reservation_details"))
    out = ContextOptimizer(max_tokens=1500).invoke(msgs)
    assert COUNTER.count_messages(out) <= 1500
    validate_history(out)
    # the loop's oldest steps were dropped whole (cut to a few tokens each they would keep
    # no id), but the calls and ids of the newest dropped ones stay in a note
    kept = [i for i in range(40) if any(f"RS{i:04d}" in str(m.content) for m in out[2:])]
    first_kept = min(i for i in kept if i > 0)
    assert first_kept > 1
    note = next(m for m in out if str(m.content).startswith(LOOP_NOTE_HEADER))
    assert isinstance(note, SystemMessage)
    text = str(note.content)
    newest_dropped = next(i for i in range(first_kept - 1, -1, -1) if f"RS{i:04d}" in text)
    assert newest_dropped >= first_kept - 3
    assert f"gift_card_{7000000 + newest_dropped}" in text
    assert f"HAT{300 + 7 * newest_dropped}" in text
    assert isinstance(out[-1], ToolMessage) and "RS0039" in str(out[-1].content)
