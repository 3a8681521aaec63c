from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_tokenopt.context import find_problems, repair_history, split_units, validate_history
from langchain_tokenopt.errors import ContextError, InvalidHistoryError

from .helpers import call, conversation, tool_result


def test_valid_conversation_passes() -> None:
    msgs = conversation(3)
    assert validate_history(msgs) == msgs
    assert find_problems(msgs) == []


def test_orphan_tool_message_is_reported() -> None:
    msgs = [HumanMessage("hi"), tool_result("x1")]
    with pytest.raises(InvalidHistoryError) as err:
        validate_history(msgs)
    assert any("orphan" in p for p in err.value.problems)
    assert isinstance(err.value, ContextError)


def test_unanswered_call_is_reported() -> None:
    msgs = [HumanMessage("hi"), AIMessage("", tool_calls=[call("a"), call("b")]), tool_result("a")]
    problems = find_problems(msgs)
    assert len(problems) == 1 and "['b']" in problems[0]


def test_unanswered_call_followed_by_human_is_reported() -> None:
    msgs = [HumanMessage("hi"), AIMessage("", tool_calls=[call("a")]), HumanMessage("and?")]
    assert any("not answered" in p for p in find_problems(msgs))


def test_duplicate_and_unknown_answers() -> None:
    ai = AIMessage("", tool_calls=[call("a")])
    dup = [HumanMessage("q"), ai, tool_result("a"), tool_result("a")]
    unknown = [HumanMessage("q"), ai, tool_result("a"), tool_result("zz")]
    assert any("twice" in p for p in find_problems(dup))
    assert any("unknown" in p for p in find_problems(unknown))


def test_role_order_rules() -> None:
    late_system = [HumanMessage("q"), AIMessage("a"), SystemMessage("late")]
    assert find_problems(late_system)
    assert find_problems(late_system, system_first=False) == []
    ai_first = [SystemMessage("s"), AIMessage("hello")]
    assert find_problems(ai_first)
    assert find_problems(ai_first, require_human_first=False) == []


def test_invalid_tool_calls_may_stay_unanswered_but_may_be_answered() -> None:
    bad = AIMessage(
        "",
        invalid_tool_calls=[
            {
                "id": "bad1",
                "name": "x",
                "args": "{oops",
                "error": "json",
                "type": "invalid_tool_call",
            }
        ],
    )
    assert find_problems([HumanMessage("q"), bad]) == []
    answered = [HumanMessage("q"), bad, ToolMessage("error: bad json", tool_call_id="bad1")]
    assert find_problems(answered) == []
    assert [u.kind for u in split_units(answered)] == ["human", "tool_exchange"]


def test_split_units_keeps_parallel_calls_together() -> None:
    msgs = [
        HumanMessage("q"),
        AIMessage("", tool_calls=[call("a"), call("b")]),
        tool_result("a"),
        tool_result("b"),
        AIMessage("done"),
    ]
    units = split_units(msgs)
    assert [u.kind for u in units] == ["human", "tool_exchange", "ai"]
    assert len(units[1].messages) == 3 and units[1].answered == {"a", "b"}


def test_repair_history_removes_orphans_and_unanswered_calls() -> None:
    msgs = [
        HumanMessage("q"),
        tool_result("orphan"),
        AIMessage("checking", tool_calls=[call("a"), call("b")]),
        tool_result("a"),
        AIMessage("", tool_calls=[call("c")]),
        HumanMessage("next"),
    ]
    fixed, notes = repair_history(msgs)
    assert find_problems(fixed) == []
    assert len(notes) == 3
    ai = fixed[1]
    assert isinstance(ai, AIMessage) and [c["id"] for c in ai.tool_calls] == ["a"]
    assert not any(isinstance(m, AIMessage) and not m.text and not m.tool_calls for m in fixed)
