"""Property tests: random histories, random budgets; output always valid and in budget."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_tokenopt.context import ContextOptimizer, find_problems, split_units
from langchain_tokenopt.context.truncate import TRUNCATION_MARKER
from langchain_tokenopt.errors import BudgetExceededError
from langchain_tokenopt.tokens import TokenCounter

COUNTER = TokenCounter("gpt-4o")
WORDS = [
    "flight",
    "HAT136",
    "booking",
    "ZFA04Y",
    "refund",
    "$305",
    "2024-05-20",
    "seat",
    "ok",
    "mia_li_3668",
]


@st.composite
def histories(draw: st.DrawFn) -> list[BaseMessage]:
    out: list[BaseMessage] = [
        SystemMessage("Policy: " + " ".join(draw(st.lists(st.sampled_from(WORDS), max_size=30))))
    ]
    n_turns = draw(st.integers(1, 7))
    counter = 0
    for _ in range(n_turns):
        out.append(
            HumanMessage(" ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=20))))
        )
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.sampled_from(["single", "parallel", "invalid", "text"]))
            if kind == "text":
                out.append(
                    AIMessage(
                        " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=15)))
                    )
                )
                continue
            n_calls = 1 if kind != "parallel" else draw(st.integers(2, 4))
            ids = []
            calls = []
            for _ in range(n_calls):
                counter += 1
                ids.append(f"call_{counter}")
                calls.append(
                    {
                        "id": f"call_{counter}",
                        "name": "lookup",
                        "args": {"q": draw(st.sampled_from(WORDS))},
                    }
                )
            invalid = []
            if kind == "invalid":
                counter += 1
                invalid = [
                    {
                        "id": f"bad_{counter}",
                        "name": "lookup",
                        "args": "{oops",
                        "error": "bad json",
                        "type": "invalid_tool_call",
                    }
                ]
            out.append(AIMessage("", tool_calls=calls, invalid_tool_calls=invalid))
            for cid in ids:
                huge = draw(st.booleans()) and draw(st.booleans())
                size = draw(st.integers(2000, 6000)) if huge else draw(st.integers(1, 80))
                body = json.dumps(
                    {"id": cid, "rows": [draw(st.sampled_from(WORDS)) for _ in range(size // 4)]}
                )
                out.append(ToolMessage(body, tool_call_id=cid, name="lookup"))
    return out


def _required_tokens(messages: list[BaseMessage]) -> int:
    """Tokens of system + newest human + newest unit with its tool outputs cut to a marker."""
    system = [m for m in messages if isinstance(m, SystemMessage)]
    units = split_units(messages[len(system) :])
    human = [u for u in units if isinstance(u.head, HumanMessage)]
    keep = [*system, *human[-1].messages]
    newest = units[-1]
    if newest is not human[-1]:
        keep += [
            m.model_copy(update={"content": TRUNCATION_MARKER.format(n=99999).strip()})
            if isinstance(m, ToolMessage) and COUNTER.count_message(m) > 40
            else m
            for m in newest.messages
        ]
    return COUNTER.count_messages(keep)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(history=histories(), frac=st.floats(-0.3, 1.05))
def test_output_is_valid_and_within_budget(history: list[BaseMessage], frac: float) -> None:
    total = COUNTER.count_messages(history)
    required = _required_tokens(history)
    budget = max(1, int(required + (total - required) * frac))
    optimizer = ContextOptimizer(max_tokens=budget, counter=COUNTER)
    try:
        result = optimizer.optimize(history)
    except BudgetExceededError:
        event("budget exceeded")
        # Only allowed when the protected part (truncated inside) cannot fit.
        assert budget < required + 10
        return
    out = result.messages
    assert find_problems(out) == []
    assert COUNTER.count_messages(out) <= budget
    assert out[0] == history[0]
    last_human = [m for m in history if isinstance(m, HumanMessage)][-1]
    assert any(m is last_human or m == last_human for m in out)
    newest = split_units(history[1:])[-1]
    event("unchanged" if out == history else "optimized")
    if any("truncated by langchain-tokenopt" in str(m.content) for m in out):
        event("truncated inside")
        # only the current tool loop's results (after the newest human turn) are cut
        since_human = history[max(i for i, m in enumerate(history) if m is last_human) :]
        assert any(isinstance(m, ToolMessage) for m in since_human)
    # The newest unit is kept (possibly truncated inside): same message ids/types in order.
    tail = out[-len(newest.messages) :]
    assert [type(m) for m in tail] == [type(m) for m in newest.messages]
