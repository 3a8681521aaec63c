"""The demo's tool loop and its accounting: real graph, real selector, a scripted writer."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from examples.tokenopt_demo import Workload, load_workload
from examples.tokenopt_demo.agent_run import run_workload
from examples.tokenopt_demo.sufficiency import (
    SufficiencySummary,
    argument_values,
    question_sufficiency,
)
from examples.tokenopt_demo.tool_loop import (
    FIND_TOOLS,
    CallLog,
    ModelCall,
    WorkloadToolModel,
    request_text,
    scripted_calls,
    stub_tools,
)


@pytest.fixture(scope="module")
def workload() -> Workload:
    return load_workload()


def _writer() -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=itertools.repeat(AIMessage("Here you go.")))


def test_scripted_calls_follow_what_is_bound(workload: Workload) -> None:
    q = workload.question("q13")  # get_payment_methods, then reorder
    asked = [HumanMessage("earlier"), AIMessage("sure"), HumanMessage(q.text)]
    both = scripted_calls(q, asked, ["reorder", "get_payment_methods", FIND_TOOLS])
    assert [c["name"] for c in both] == ["get_payment_methods", "reorder"]
    assert both[1]["args"] == {"order_id": "NW-4799810"}
    # a needed tool that is not bound is searched for once, before the bound one is called,
    # for what the missing tool does (its description's first sentence)
    find = scripted_calls(q, asked, [FIND_TOOLS])
    assert [c["name"] for c in find] == [FIND_TOOLS] and find[0]["args"]["query"] == q.text
    described = {
        str(t["function"]["name"]): str(t["function"]["description"]) for t in workload.tools
    }
    half = scripted_calls(q, asked, ["reorder", FIND_TOOLS], descriptions=described)
    query = half[0]["args"]["query"]
    assert [c["name"] for c in half] == [FIND_TOOLS]
    assert described["get_payment_methods"].startswith(query) and query.endswith(".")
    # two missing tools: one search each, in the same message
    both_missing = scripted_calls(q, asked, [FIND_TOOLS], descriptions=described)
    assert [c["name"] for c in both_missing] == [FIND_TOOLS, FIND_TOOLS]
    assert len({c["id"] for c in both_missing}) == 2
    assert described["reorder"].startswith(both_missing[1]["args"]["query"])
    after_find = [
        *asked,
        AIMessage("", tool_calls=[{"name": FIND_TOOLS, "args": {"query": "x"}, "id": "f"}]),
        ToolMessage("loaded", tool_call_id="f"),
    ]
    assert scripted_calls(q, after_find, [FIND_TOOLS]) == []  # gives up: the writer answers
    done = [
        *asked,
        AIMessage(
            "",
            tool_calls=[
                {"name": "get_payment_methods", "args": {}, "id": "a"},
                {"name": "reorder", "args": {}, "id": "b"},
            ],
        ),
        ToolMessage("{}", tool_call_id="a"),
        ToolMessage("{}", tool_call_id="b"),
    ]
    assert scripted_calls(q, done, ["reorder", "get_payment_methods"]) == []
    # calls of an earlier turn do not count for this one
    assert [c["name"] for c in scripted_calls(q, [*done, HumanMessage(q.text)], ["reorder"])] == [
        "reorder"
    ]
    assert scripted_calls(workload.question("q03"), asked, ["get_order"]) == []  # no tool needed
    assert scripted_calls(None, asked, ["get_order"]) == []


def test_usage_counts_the_whole_request_as_the_demo_does(workload: Workload) -> None:
    """What `tokenopt stats` reads is the demo's own count: messages plus bound schemas."""
    from langchain_tokenopt.tokens import get_token_counter

    counter = get_token_counter()
    tools = stub_tools(workload)[:6]
    log = CallLog()
    model = WorkloadToolModel(inner=_writer(), log=log)
    asked = [HumanMessage("What is your return window for boots?")]
    plain = model.invoke(asked).usage_metadata
    bound = model.bind_tools(tools)
    assert isinstance(bound, WorkloadToolModel)
    usage = bound.invoke(asked).usage_metadata
    assert plain is not None and usage is not None
    assert plain["input_tokens"] == counter.count_messages(asked)
    assert usage["input_tokens"] > plain["input_tokens"] + 100
    assert usage["output_tokens"] > 0 and usage["total_tokens"] == (
        usage["input_tokens"] + usage["output_tokens"]
    )


def test_stub_tools_are_the_catalog_and_echo_their_arguments(workload: Workload) -> None:
    tools = stub_tools(workload)
    assert [t.name for t in tools] == workload.tool_names()
    out = tools[workload.tool_names().index("get_order")].invoke({"order_id": "NW-1"})
    assert '"tool": "get_order"' in out and "NW-1" in out


def test_sufficiency_checks_tools_and_the_values_the_request_held(workload: Workload) -> None:
    q = workload.question("q08")  # check_inventory for the Basecamp 4P, in Columbus
    full = request_text([HumanMessage(workload.question("q07").text), HumanMessage(q.text)])
    kept = ModelCall(("check_inventory", FIND_TOOLS), full, ("check_inventory",))
    row = question_sufficiency(q, [kept], full)
    assert row is not None and row.sufficient and row.args_checked == 2
    lost = ModelCall(("check_inventory",), request_text([HumanMessage(q.text)]), ())
    row = question_sufficiency(q, [lost], full)
    assert row is not None and row.tools_bound and row.args_lost == ("basecamp 4p",)
    assert not row.sufficient and not row.sufficient_with_find
    # not bound at first, bound after one find_tools call
    first = ModelCall((FIND_TOOLS,), full, (FIND_TOOLS,))
    row = question_sufficiency(q, [first, kept], full)
    assert row is not None and not row.sufficient and row.recovered and row.sufficient_with_find
    assert row.missing_tools == ("check_inventory",)
    # a value the unoptimized request never held is not checked
    row = question_sufficiency(q, [lost], request_text([HumanMessage(q.text)]))
    assert row is not None and row.args_checked == 1 and row.sufficient
    assert question_sufficiency(workload.question("q03"), [kept], full) is None
    short = question_sufficiency(q, [lost], full)
    assert short is not None
    summary = SufficiencySummary.of([row, short])
    assert (summary.questions, summary.sufficient, summary.insufficient) == (2, 0.5, ("q08",))
    assert argument_values({"a": ["Kayak", 7, 12, True], "b": " x "}) == [["kayak"], ["12", "12.0"]]


def test_tool_turns_are_stored_only_when_every_tool_is_cacheable(
    workload: Workload, tmp_path: Path
) -> None:
    """Through the real graph: a booking is never stored and its repeat never hits."""
    by_id = {q.id: q for q in workload.questions}
    rebook = dataclasses.replace(by_id["q37"], id="q37b", kind="exact_repeat", repeats="q37")
    stream = (by_id["q09"], by_id["q25"], by_id["q37"], rebook)
    assert not workload.question("q37").expect_cache_hit  # book_rental is not cacheable
    assert by_id["q25"].expect_cache_hit  # the forecast is, for 30 minutes
    report = run_workload(
        dataclasses.replace(workload, questions=stream), workdir=tmp_path, model=_writer()
    )
    forecast, repeat, booking, rebooked = report.results
    assert forecast.tools_called == ("get_weather_forecast",) and forecast.model_calls == 2
    assert forecast.stored == 1 and forecast.entries_added == 1
    assert repeat.cache_hit and repeat.answer == "Here you go."
    assert "book_rental" in booking.tools_called
    assert booking.stored == 0 and booking.entries_added == 0
    assert not rebooked.cache_hit and rebooked.stored == 0
    assert report.stored_after_uncacheable_tool == []
    assert report.not_stored_after_tools == ["q37", "q37b"]
    assert report.stored_after_cacheable_tools == ["q09"]
    assert report.cache_entries == 1
    # sufficiency is read from the calls the graph made, beside the tokens they sent
    assert forecast.sufficiency is not None and forecast.sufficiency.tools_bound
    assert forecast.first_call[0] > 20_000 > forecast.first_call[1] > 0
    assert forecast.tokens_unoptimized > forecast.first_call[0]  # two calls in the turn
    assert report.sufficiency.questions == 3


def test_a_stored_turn_that_called_a_booking_tool_is_reported(
    workload: Workload, tmp_path: Path
) -> None:
    """The accounting can fail: declare book_rental cacheable and the store is counted."""
    q37 = workload.question("q37")
    lax = dataclasses.replace(
        workload,
        questions=(q37,),
        cacheable_tools={**workload.cacheable_tools, "book_rental": 60.0},
    )
    report = run_workload(lax, workdir=tmp_path, model=_writer())
    assert report.results[0].stored == 1
    assert report.stored_after_uncacheable_tool == []  # declared, so allowed
    strict = dataclasses.replace(report, cacheable_tools=workload.cacheable_tools)
    assert strict.stored_after_uncacheable_tool == ["q37"]
    assert strict.stored_without_needed_tool == []
    # a booking answered in words (the tool never reached) is stored: reported apart
    starved = dataclasses.replace(report.results[0], tools_called=(FIND_TOOLS,))
    strict = dataclasses.replace(strict, results=[starved])
    assert strict.stored_after_uncacheable_tool == []
    assert strict.stored_without_needed_tool == ["q37"]
