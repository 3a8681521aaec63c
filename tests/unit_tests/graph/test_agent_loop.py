"""Agent loops: every model call keeps what the agent's next step needs.

A scripted chat model stands in for the provider (it records the tools bound and the
messages of every call, and plays a fixed agent script); everything else is real: the
packaged MiniLM retriever, the tokenizer, the context optimizer, the semantic cache,
``create_agent`` and LangGraph's checkpointer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import ConfigDict

from langchain_tokenopt import build_optimized_agent
from langchain_tokenopt.cache import LocalBackend, SemanticCache
from langchain_tokenopt.context import ContextOptimizer
from langchain_tokenopt.graph.defaults import tool_name
from langchain_tokenopt.tools.working_set import WORKING_SET_KEY, is_follow_up, is_reply

SYSTEM = "You are an airline and travel assistant. Use the tools; confirm before changing."


@tool
def get_reservation_details(reservation_id: str) -> str:
    """Get the details of a flight reservation: flights, passengers, payment, status."""
    return f'{{"reservation_id": "{reservation_id}", "status": "confirmed", "origin": "JFK"}}'


@tool
def cancel_reservation(reservation_id: str) -> str:
    """Cancel a flight reservation and refund it to the original payment method."""
    return f'{{"reservation_id": "{reservation_id}", "status": "cancelled"}}'


@tool
def get_user_details(user_id: str) -> str:
    """Get a user's profile: name, payment methods, membership and reservation ids."""
    return f'{{"user_id": "{user_id}", "reservations": ["ABC123", "XYZ789"]}}'


@tool
def book_table(restaurant: str, people: int, time: str) -> str:
    """Book a table at a restaurant for a number of people at a time."""
    return f"Table for {people} at {restaurant} booked for {time}, confirmation T-{people}42."


@tool
def get_weather(city: str) -> str:
    """Get the current weather forecast (temperature, rain, wind) for a city."""
    return f"Rain and 8C in {city}."


get_weather.metadata = {"cache_ttl": 1.5}  # a read-only tool, declared cacheable


@tool
def play_music(song: str) -> str:
    """Play a song or an album on the living-room speaker."""
    return f"Playing {song}."


@tool
def convert_currency(amount: float, from_currency: str, to_currency: str) -> str:
    """Convert an amount of money from one currency to another."""
    return f"{amount} {from_currency} is about {amount * 10} {to_currency}."


@tool
def translate_text(text: str, language: str) -> str:
    """Translate a text into another language."""
    return f"[{language}] {text}"


@tool
def set_alarm(time: str) -> str:
    """Set an alarm clock for a time of day."""
    return f"Alarm set for {time}."


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email message to a recipient with a subject and body."""
    return "sent"


CATALOG = [
    get_reservation_details,
    cancel_reservation,
    get_user_details,
    book_table,
    get_weather,
    play_music,
    convert_currency,
    translate_text,
    set_alarm,
    send_email,
]

Step = Callable[[list[BaseMessage], list[str]], AIMessage]

#: What the scripted model received on each call (cleared by each test).
CALLS: list[dict[str, Any]] = []


class ScriptedChatModel(BaseChatModel):
    """Stands in for a provider: records each call and answers from a script."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    script: Any = None

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self.bind(tool_names=[tool_name(t) for t in tools])

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        names = list(kw.get("tool_names") or [])
        CALLS.append({"messages": list(messages), "tools": names})
        reply = self.script(messages, names)
        return ChatResult(generations=[ChatGeneration(message=reply)])


def _call(name: str, call_id: str, **args: Any) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": call_id}])


def _since_human(messages: list[BaseMessage]) -> list[BaseMessage]:
    last = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
    return messages[last + 1 :]


def _airline_script(messages: list[BaseMessage], names: list[str]) -> AIMessage:
    """Look the reservation up (loading the tool if needed), confirm; on "yes", cancel."""
    human = [m for m in messages if isinstance(m, HumanMessage)][-1].text
    done = [m for m in _since_human(messages) if isinstance(m, ToolMessage)]
    if is_follow_up(human):
        assert "cancel_reservation" in names
        if not done:
            return _call("cancel_reservation", "c-cancel", reservation_id="ABC123")
        return AIMessage("Reservation ABC123 is cancelled.")
    if not any(m.name == "get_reservation_details" for m in done):
        if "get_reservation_details" in names:
            return _call("get_reservation_details", "c-get", reservation_id="ABC123")
        return _call("find_tools", "c-find", query="look up a reservation's details")
    return AIMessage("ABC123 is a confirmed flight from JFK. Shall I cancel it?")


def _config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}, "metadata": {"tenant_id": "acme"}}


def test_follow_up_detection() -> None:
    for text in ("Yes, please proceed.", "yes", "ok go ahead", "and the boots?", "No thanks"):
        assert is_follow_up(text), text
    for text in (
        "I want to cancel my reservation ABC123 because my plans changed.",
        "What is the weather in Oslo tomorrow?",
    ):
        assert not is_follow_up(text), text


def test_reply_detection() -> None:
    for text in (
        "Yes, please go ahead with the upgrade. Thank you!",
        "Sure, my user ID is mia_li_3668.",
        "Thanks, you too! Talk soon.",
    ):
        assert is_reply(text), text
    for text in (
        "No, cancel the other one instead.",  # turns the task elsewhere
        "Please book a hotel in Rome.",  # a request, not a reply
        "Sure, and also book a hotel.",
        "What is the weather in Oslo tomorrow?",
    ):
        assert not is_reply(text), text


#: A policy of several topics, over the system budget the test gives the agent.
POLICY = "\n".join(
    [
        "# Travel desk policy",
        "Cancellations: a reservation can be cancelled within 24 hours of booking for a full "
        "refund; after that only insured or business-class reservations are refunded.",
        "Always read the reservation's details before cancelling it, and confirm with the user.",
        "Baggage: economy passengers get one free checked bag; each extra bag costs 50 dollars.",
        "Pets travel in the cabin only on flights under six hours, in an approved carrier.",
        "Restaurants: book tables for at most eight people; larger groups go to the events desk.",
        "Weather: forecasts come from the national service; never promise sunshine.",
        "Music: the living-room speaker plays albums and playlists, never at night.",
        "Currency: quote conversions at the day's rate and round to two decimals.",
        "Email: never send an email without the user's approval of its text.",
    ]
)


def test_prompt_question_skips_replies() -> None:
    from langchain_tokenopt.graph.prompt_step import prompt_question

    request = "I want to cancel my reservation ABC123, my plans changed."
    convo: list[BaseMessage] = [
        HumanMessage(request),
        AIMessage("ABC123 is a confirmed flight from JFK. Shall I cancel it?"),
        HumanMessage("Yes, please proceed."),
    ]
    assert prompt_question(convo) == request
    convo.append(HumanMessage("How many bags can I check on my next flight?"))
    assert prompt_question(convo) == convo[-1].text
    assert prompt_question([HumanMessage("Yes, please.")]) == "Yes, please."
    assert prompt_question([]) == ""


def test_a_reply_keeps_the_system_prompt_fitted_to_its_request() -> None:
    model = ScriptedChatModel(script=_airline_script)
    CALLS.clear()
    agent = build_optimized_agent(
        model, CATALOG, system_prompt=POLICY, cache=False, monitor=False, system_budget=60
    ).compile(checkpointer=InMemorySaver())
    config = _config("t-policy")
    agent.invoke(
        {"messages": [HumanMessage("I want to cancel my reservation ABC123, my plans changed.")]},
        config,
    )
    fitted = CALLS[0]["messages"][0].text
    assert "Cancellations" in fitted and len(fitted) < len(POLICY)
    CALLS.clear()
    agent.invoke({"messages": [HumanMessage("Sure, my email is kim@example.com.")]}, config)
    # the reply is answered under the prompt fitted to the request it answers (the
    # provider's cached prefix stays valid), not one fitted to its own words (email)
    assert CALLS and [c["messages"][0].text for c in CALLS] == [fitted] * len(CALLS)
    assert "Email:" not in fitted


def test_confirmation_keeps_the_working_set_and_survives_a_restart() -> None:
    saver = InMemorySaver()
    model = ScriptedChatModel(script=_airline_script)
    CALLS.clear()
    first = build_optimized_agent(
        model, CATALOG, system_prompt=SYSTEM, cache=False, monitor=False
    ).compile(checkpointer=saver)
    config = _config("t-restart")
    out = first.invoke(
        {"messages": [HumanMessage("I want to cancel my reservation ABC123, my plans changed.")]},
        config,
    )
    assert "cancel_reservation" in CALLS[0]["tools"]
    assert "get_reservation_details" in CALLS[-1]["tools"]
    kept = out[WORKING_SET_KEY]
    assert set(kept["names"]) >= {"get_reservation_details", "cancel_reservation"}

    # A new process: a new agent (new selector, no in-memory memo) on the same checkpoints.
    second = build_optimized_agent(
        model, CATALOG, system_prompt=SYSTEM, cache=False, monitor=False
    ).compile(checkpointer=saver)
    assert second.get_state(config).values[WORKING_SET_KEY] == kept
    CALLS.clear()
    out = second.invoke({"messages": [HumanMessage("Yes, please proceed.")]}, config)
    confirm_call = CALLS[0]
    # the confirmation binds the task's tools (nothing withheld), in the same order, after
    # find_tools (first, so that tools joining later are appended)
    catalog_tools = [n for n in confirm_call["tools"] if n != "find_tools"]
    assert catalog_tools[: len(kept["names"])] == kept["names"]
    assert "cancel_reservation" in confirm_call["tools"]
    called = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert called[-1].name == "cancel_reservation"
    assert "cancelled" in called[-1].text
    assert out["messages"][-1].text == "Reservation ABC123 is cancelled."


def test_find_tools_through_the_middleware_in_a_create_agent_loop() -> None:
    from langchain.agents import create_agent

    from langchain_tokenopt.graph.middleware import TokenOptMiddleware

    def script(messages: list[BaseMessage], names: list[str]) -> AIMessage:
        results = [m for m in _since_human(messages) if isinstance(m, ToolMessage)]
        if not results:
            return _call("find_tools", "f1", query="play a song on the speaker")
        if len(results) == 1:
            return _call("play_music", "p1", song="Blue in Green")
        return AIMessage(f"Done: {results[-1].text}")

    model = ScriptedChatModel(script=script)
    CALLS.clear()
    middleware = TokenOptMiddleware(cache=False, monitor=False)
    agent = create_agent(model, CATALOG, system_prompt=SYSTEM, middleware=[middleware])
    out = agent.invoke(
        {"messages": [HumanMessage("What is the weather like in Oslo today?")]},
        _config("t-find"),
    )
    first, second, third = CALLS
    assert "find_tools" in first["tools"]
    assert "play_music" not in first["tools"]
    assert "play_music" in second["tools"]  # loaded by find_tools, bound on the next call
    # the working set only grows: what was bound stays bound, in the same order
    assert second["tools"][: len(first["tools"]) - 1] == first["tools"][:-1]
    tool_messages = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert [m.name for m in tool_messages] == ["find_tools", "play_music"]
    assert "play_music" in tool_messages[0].text
    assert tool_messages[1].text == "Playing Blue in Green."
    assert out["messages"][-1].text == "Done: Playing Blue in Green."
    assert "play_music" in out[WORKING_SET_KEY]["names"]
    assert len(third["tools"]) >= len(second["tools"])


def _long_thread() -> list[BaseMessage]:
    messages: list[BaseMessage] = []
    for i in range(12):
        rid = f"R{i:03d}X{i}"
        messages += [
            HumanMessage(f"Please look up reservation {rid} for me."),
            _call("get_reservation_details", f"old-{i}", reservation_id=rid),
            ToolMessage(
                json.dumps(
                    {
                        "reservation_id": rid,
                        "flights": [f"HAT{i}{k:02d}" for k in range(40)],
                        "email": f"user{i}@example.com",
                    }
                ),
                tool_call_id=f"old-{i}",
                name="get_reservation_details",
            ),
            AIMessage(f"Reservation {rid} is confirmed."),
        ]
    newest = (
        '{"user_id": "mia_li_3668", "reservations": ["NO6JO3", "AIXC49", "HKEG34"], '
        '"payment_methods": {"credit_card_4421486": {"brand": "visa", "last_four": "7447"}}, '
        + '"notes": "%s"}'
        % ("frequent flyer since 2015; " * 40)
    )
    messages += [
        HumanMessage("I'm mia_li_3668 and I want to cancel one of my trips."),
        _call("get_user_details", "new-1", user_id="mia_li_3668"),
        ToolMessage(newest, tool_call_id="new-1", name="get_user_details"),
    ]
    return messages


def test_newest_tool_result_arrives_verbatim_and_old_ids_survive() -> None:
    history = _long_thread()
    model = ScriptedChatModel(script=lambda m, n: AIMessage("Which reservation?"))
    CALLS.clear()
    graph = build_optimized_agent(
        model, CATALOG, system_prompt=SYSTEM, cache=False, monitor=False, context_budget=1200
    ).compile()
    graph.invoke({"messages": history}, _config("t-verbatim"))
    sent = CALLS[0]["messages"]
    full = sum(len(str(m.content)) for m in history)
    assert sum(len(str(m.content)) for m in sent) < full / 2  # the history was cut
    # everything since the newest human message arrives verbatim
    assert sent[-3:] == history[-3:]
    # older results are masked or summarized, keeping the ids a later call may need
    text = "\n".join(str(m.content) for m in sent)
    kept_ids = sum(f"R{i:03d}X{i}" in text for i in range(12))
    assert kept_ids >= 10, text


def test_a_huge_result_in_the_loop_is_cut_keeping_its_identifiers() -> None:
    ids = [f"Q{i:02d}X{i % 7}K{i % 5}" for i in range(20)]
    body = "\n".join(f"order {oid}: " + "lorem ipsum dolor sit amet " * 30 for oid in ids)
    history: list[BaseMessage] = [
        HumanMessage("List my orders."),
        _call("list_orders", "l1"),
        ToolMessage(body, tool_call_id="l1", name="list_orders"),
    ]
    out = ContextOptimizer(max_tokens=900).invoke(history)
    assert out[:2] == history[:2]
    cut = str(out[-1].content)
    assert "truncated by langchain-tokenopt" in cut
    assert all(oid in cut for oid in ids)


def test_tool_turns_are_stored_only_when_their_tools_are_cacheable(tmp_path: Path) -> None:
    def script(messages: list[BaseMessage], names: list[str]) -> AIMessage:
        human = [m for m in messages if isinstance(m, HumanMessage)][-1].text
        results = [m for m in _since_human(messages) if isinstance(m, ToolMessage)]
        if results:
            return AIMessage(f"Done: {results[-1].text}")
        if "table" in human:
            return _call("book_table", "b1", restaurant="Luigi's", people=2, time="19:00")
        return _call("get_weather", "w1", city="Oslo")

    cache = SemanticCache(backend=LocalBackend(path=tmp_path / "cache.sqlite"))
    model = ScriptedChatModel(script=script)
    graph = build_optimized_agent(
        model, CATALOG, system_prompt=SYSTEM, cache=cache, monitor=False
    ).compile(checkpointer=InMemorySaver())

    booking = "Book a table for two at Luigi's tonight at 7 pm."
    CALLS.clear()
    graph.invoke({"messages": [HumanMessage(booking)]}, _config("t-book-1"))
    assert len(CALLS) == 2
    assert cache.stats().updates == 0  # a turn that booked is never stored
    out = graph.invoke({"messages": [HumanMessage(booking)]}, _config("t-book-2"))
    assert len(CALLS) == 4  # asked again: the table is really booked
    assert [m.name for m in out["messages"] if isinstance(m, ToolMessage)] == ["book_table"]

    weather = "What is the weather in Oslo right now?"
    graph.invoke({"messages": [HumanMessage(weather)]}, _config("t-w-1"))
    assert cache.stats().updates == 1  # only a cacheable read tool: stored with its TTL
    calls = len(CALLS)
    out = graph.invoke({"messages": [HumanMessage(weather)]}, _config("t-w-2"))
    assert len(CALLS) == calls  # served from the cache
    assert out["messages"][-1].text == "Done: Rain and 8C in Oslo."
    time.sleep(1.7)  # get_weather's cache_ttl is 1.5 s
    graph.invoke({"messages": [HumanMessage(weather)]}, _config("t-w-3"))
    assert len(CALLS) == calls + 2  # expired: the tool runs again


def test_cacheable_tools_argument_and_bad_values() -> None:
    from langchain_tokenopt.cache.tool_policy import cacheable_ttls, turn_store_decision
    from langchain_tokenopt.errors import TokenOptConfigError

    ttls = cacheable_ttls(CATALOG, {"convert_currency": 60})
    assert ttls == {"get_weather": 1.5, "convert_currency": 60.0}
    turn = [
        HumanMessage("weather and 10 EUR in NOK?"),
        _call("get_weather", "a", city="Oslo"),
        ToolMessage("rain", tool_call_id="a"),
        _call("convert_currency", "b", amount=10, from_currency="EUR", to_currency="NOK"),
        ToolMessage("100", tool_call_id="b"),
    ]
    decision = turn_store_decision(turn, ttls)
    assert decision.store and decision.ttl == 1.5
    turn += [
        _call("send_email", "c", to="x", subject="y", body="z"),
        ToolMessage("ok", tool_call_id="c"),
    ]
    assert not turn_store_decision(turn, ttls).store
    for bad in (0, -1, float("nan"), True, "60"):
        with pytest.raises(TokenOptConfigError):
            cacheable_ttls(CATALOG, {"get_weather": bad})  # type: ignore[dict-item]


def test_a_repeat_after_cacheable_tool_turns_hits_and_after_other_tools_does_not(
    tmp_path: Path,
) -> None:
    """Earlier turns that called only cacheable tools do not keep the history in the scope."""
    question = "Do you price match other stores?"

    def script(messages: list[BaseMessage], names: list[str]) -> AIMessage:
        human = [m for m in messages if isinstance(m, HumanMessage)][-1].text
        results = [m for m in _since_human(messages) if isinstance(m, ToolMessage)]
        if results:
            return AIMessage(f"Done: {results[-1].text}")
        if "table" in human:
            return _call("book_table", "b1", restaurant="Luigi's", people=2, time="19:00")
        if "weather" in human:
            return _call("get_weather", "w1", city="Oslo")
        if "EUR" in human:
            return _call(
                "convert_currency", "c1", amount=10, from_currency="EUR", to_currency="NOK"
            )
        return AIMessage("Yes, we match any local store's advertised price.")

    cache = SemanticCache(
        backend=LocalBackend(path=tmp_path / "cache.sqlite"), history_policy="standalone"
    )
    model = ScriptedChatModel(script=script)
    graph = build_optimized_agent(
        model,
        CATALOG,
        system_prompt=SYSTEM,
        cache=cache,
        monitor=False,
        cacheable_tools={"convert_currency": 600},
    ).compile(checkpointer=InMemorySaver())

    def ask(thread: str, text: str) -> dict[str, Any]:
        return graph.invoke({"messages": [HumanMessage(text)]}, _config(thread))

    ask("t-weather", "What is the weather in Oslo right now?")  # get_weather: cacheable
    ask("t-weather", question)  # stored, its lifetime bounded by get_weather's 1.5 s
    ask("t-money", "How much is 10 EUR in NOK today?")  # convert_currency: cacheable
    calls = len(CALLS)
    out = ask("t-money", question)
    assert len(CALLS) == calls  # the repeat hits across threads
    assert out["turn"]["cache_hit"] is True
    assert out["messages"][-1].text == "Yes, we match any local store's advertised price."

    ask("t-booked", "Book a table for two at Luigi's tonight at 7 pm.")  # not cacheable
    calls = len(CALLS)
    out = ask("t-booked", question)
    assert len(CALLS) == calls + 1  # the booking keeps the conversation in the scope
    assert out["turn"]["cache_hit"] is False

    time.sleep(1.7)  # the answer written after get_weather expires with its result
    ask("t-money-2", "How much is 10 EUR in NOK today?")
    calls = len(CALLS)
    ask("t-money-2", question)
    assert len(CALLS) == calls + 1


def test_store_lifetime_is_bounded_by_earlier_cacheable_tools() -> None:
    from langchain_tokenopt.cache.tool_policy import (
        cacheable_ttls,
        context_free_tools,
        turn_store_decision,
    )

    ttls = cacheable_ttls(CATALOG, {"convert_currency": 60})
    assert context_free_tools(ttls) == {"get_weather", "convert_currency", "find_tools"}
    earlier: list[BaseMessage] = [
        HumanMessage("weather in Oslo?"),
        _call("get_weather", "a", city="Oslo"),
        ToolMessage("rain", tool_call_id="a"),
        AIMessage("Rain."),
    ]
    decision = turn_store_decision([*earlier, HumanMessage("Do you price match?")], ttls)
    assert decision.store and decision.ttl == 1.5
    plain = turn_store_decision([HumanMessage("Do you price match?")], ttls)
    assert plain.store and plain.ttl is None
    booked: list[BaseMessage] = [
        HumanMessage("book it"),
        _call("book_table", "b", restaurant="x", people=2, time="7"),
        ToolMessage("booked", tool_call_id="b"),
        AIMessage("Booked."),
        HumanMessage("Do you price match?"),
    ]
    assert turn_store_decision(booked, ttls).ttl is None  # the scope keeps that history


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_the_selection_step_reports_the_bound_tools_tokens(encoding: str) -> None:
    from langchain_tokenopt.graph.step import run_step
    from langchain_tokenopt.graph.tool_step import selection_step
    from langchain_tokenopt.monitoring.reporting import StepRecorder
    from langchain_tokenopt.tokens import TokenCounter
    from langchain_tokenopt.tools import ToolSelector

    selector = ToolSelector.from_tools(CATALOG)
    counter = TokenCounter("gpt-4o", encoding=encoding)
    recorder = StepRecorder(request_id="r1")
    step = selection_step(
        selector,
        [HumanMessage("I want to cancel my reservation ABC123.")],
        None,
        tools=CATALOG,
        margin=None,
        counter=counter,
        catalog_tokens=counter.count_tools(CATALOG),
    )
    choice = run_step(recorder, step)
    # the selector's own count (same encoding) or a fresh count (another one): the same figure
    assert recorder.events[0].tokens_after == counter.count_tools(choice.tools) > 0
