from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import StructuredTool

from langchain_tokenopt.errors import TokenOptConfigError, ToolSelectionError
from langchain_tokenopt.tokens import TokenCounter
from langchain_tokenopt.tools import QueryClassifier, ToolRetriever, ToolSelection, ToolSelector
from langchain_tokenopt.tools.selector import FIND_TOOLS_NAME
from langchain_tokenopt.tools.working_set import task_context

from .conftest import make_catalog


class RecordingChatModel(BaseChatModel):
    """Stands in for a remote provider: records what bind_tools receives."""

    bound: list[list[Any]] = []

    @property
    def _llm_type(self) -> str:
        return "recording"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, **kw: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage("ok"))])

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        tools = list(tools)
        if not tools:
            raise ValueError("provider rejects an empty tools array")
        self.bound.append(tools)
        return self.bind(tools=tools)


def call(name: str, args: dict[str, Any], call_id: str) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": call_id}])


def tool_msg(call_id: str, text: str = "done") -> ToolMessage:
    return ToolMessage(text, tool_call_id=call_id)


@pytest.fixture
def selector(retriever: ToolRetriever) -> ToolSelector:
    return ToolSelector(retriever=retriever, k=3, max_tools=4, find_tools_k=2)


def test_selection_is_stable_inside_the_tool_loop(selector: ToolSelector) -> None:
    convo: list[BaseMessage] = [HumanMessage("what's the weather in Oslo and email it to Kari")]
    first = selector.select(convo)
    assert not first.abstained
    assert "get_weather" in first.names
    steps = [
        call("get_weather", {"city": "Oslo"}, "c1"),
        tool_msg("c1", "rain, 8C"),
        call("send_email", {"to": "kari", "subject": "w", "body": "rain"}, "c2"),
        tool_msg("c2"),
    ]
    for step in steps:
        convo.append(step)
        again = selector.select(convo)
        assert again.names == first.names
        assert again.tools == first.tools
        assert again.turn_id == first.turn_id
    fresh = ToolSelector(retriever=selector.retriever, k=3, max_tools=4)
    assert fresh.select(convo).names == first.names  # pure function of the messages


def test_new_turn_reselects_and_carries_used_tools(selector: ToolSelector) -> None:
    convo: list[BaseMessage] = [
        HumanMessage("what's the weather in Oslo?"),
        call("get_weather", {"city": "Oslo"}, "c1"),
        tool_msg("c1", "rain"),
        AIMessage("It rains."),
        HumanMessage("now convert 100 USD to NOK"),
    ]
    sel = selector.select(convo)
    assert "convert_currency" in sel.names
    assert "get_weather" in sel.names
    assert sel.carried == ["get_weather"] or "get_weather" in sel.scores


def test_find_tools_adds_and_cap_evicts(selector: ToolSelector) -> None:
    convo: list[BaseMessage] = [HumanMessage("what's the weather in Oslo?")]
    base = selector.select(convo)
    assert base.names[0] == FIND_TOOLS_NAME  # first: tools joining later are appended
    assert len(base.names) - 1 == 3
    assert base.names[1] == "get_weather"
    convo += [call("get_weather", {"city": "Oslo"}, "w1"), tool_msg("w1", "rain")]
    # the model asks for more tools: the meta-tool runs and the selection grows
    text = selector.find_tools_tool.invoke({"query": "play a song on the speaker"})
    assert "play_music" in text
    convo += [call(FIND_TOOLS_NAME, {"query": "play a song on the speaker"}, "f1"), tool_msg("f1")]
    grown = selector.select(convo)
    assert "play_music" in grown.loaded
    assert "play_music" in grown.names
    assert len(grown.names) - 1 <= selector.max_tools
    # a second load overflows the cap: the base picks the model never used are evicted;
    # what the task uses (called, loaded by find_tools) stays, even above the cap
    convo += [call(FIND_TOOLS_NAME, {"query": "translate text to French"}, "f2"), tool_msg("f2")]
    capped = selector.select(convo)
    assert "translate_text" in capped.names
    assert "play_music" in capped.names
    assert "get_weather" in capped.names  # called in this turn: in use, never evicted
    assert capped.evicted
    assert not set(capped.evicted) & set(capped.names)
    assert set(capped.evicted) <= set(base.names) - {"get_weather"}
    # order is stable: earlier tools keep their relative order, new ones are appended
    kept = [n for n in grown.names if n in capped.names and n != FIND_TOOLS_NAME]
    assert [n for n in capped.names if n in kept] == kept


def test_no_empty_tools_array_is_ever_sent(retriever: ToolRetriever) -> None:
    model = RecordingChatModel()
    RecordingChatModel.bound = []
    no_meta = ToolSelector(retriever=retriever, find_tools=False)
    with_meta = ToolSelector(retriever=retriever)
    queries = ["hi!", "tell me a joke", "what's the weather in Rome?", "", "thanks"]
    for sel_obj in (no_meta, with_meta):
        for q in queries:
            selection = sel_obj.select([HumanMessage(q)])
            bound = selection.bind(model)
            if selection.is_empty:
                assert bound is model
                assert selection.abstained
                assert selection.bound_tokens == 0
            else:
                assert bound is not model
    assert all(len(tools) > 0 for tools in RecordingChatModel.bound)
    chit = with_meta.select([HumanMessage("hi!")])
    assert chit.abstained and chit.names == [FIND_TOOLS_NAME]
    assert no_meta.select([HumanMessage("hi!")]).tools == []


def test_a_fresh_start_binds_a_likely_tool_despite_the_classifier(
    retriever: ToolRetriever,
) -> None:
    # At a fresh start the selector abstains only when the classifier says "no tool" and no
    # tool scores bind_score: withholding a needed tool costs the agent a model call.
    queries = ["hi!", "thanks", "tell me a joke", "money stuff", "weather Oslo", "wake me up"]
    default = ToolSelector(retriever=retriever)
    trusting = ToolSelector(retriever=retriever, bind_score=1.1)  # the classifier alone
    overruled = 0
    read: dict[str, tuple[bool, float]] = {}  # query -> (the classifier's say, best score)
    for q in queries:
        result = retriever.rank(q)
        needs = default.classifier.decide(q, result).needs_tool
        best = max(score for _, score, _ in retriever.hits(result, default.k))
        read[q] = (needs, best)
        selection = default.select([HumanMessage(q)])
        assert selection.abstained == (not needs and best < default.bind_score), q
        assert trusting.select([HumanMessage(q)]).abstained == (not needs), q
        if not needs and not selection.abstained:
            overruled += 1
            assert retriever.hits(result, 1)[0][0].name in selection.names
    assert overruled  # "weather Oslo": the classifier abstains, get_weather scores high
    for chit in ("hi!", "thanks", "tell me a joke"):  # chit-chat scores far below bind_score
        assert default.select([HumanMessage(chit)]).abstained
    # "what's on today": the classifier abstains, the calendar tool scores between 0.3 and 0.5:
    # bound at the default odds (a needed tool withheld costs a call); 0.5, the old default,
    # withheld it
    today = [HumanMessage("what's on today")]
    assert not default.classifier.classify("what's on today").needs_tool
    assert "create_calendar_event" in default.select(today).names
    assert ToolSelector(retriever=retriever, bind_score=0.5).select(today).abstained
    # a query whose best tool scores between the two thresholds flips with bind_score
    needs, best = read["money stuff"]
    money = [HumanMessage("money stuff")]
    assert not needs
    assert not ToolSelector(retriever=retriever, bind_score=best - 0.01).select(money).abstained
    assert ToolSelector(retriever=retriever, bind_score=best + 0.01).select(money).abstained


def test_always_include_is_honoured_even_when_abstaining(retriever: ToolRetriever) -> None:
    clf = QueryClassifier(retriever=retriever, always_include=["set_alarm"])
    sel = ToolSelector(retriever=retriever, classifier=clf, find_tools=False)
    chat = sel.select([HumanMessage("tell me a joke")])
    assert chat.abstained
    assert chat.names == ["set_alarm"]
    work = sel.select([HumanMessage("send an email to my boss")])
    assert work.names[0] == "set_alarm"
    assert "send_email" in work.names


def test_named_tool_is_always_bound(selector: ToolSelector) -> None:
    sel = selector.select([HumanMessage("please run zx_qlm_handler on this text")])
    assert "zx_qlm_handler" in sel.names
    assert sel.forced == ["zx_qlm_handler"]


def test_token_accounting_matches_the_counter(selector: ToolSelector) -> None:
    sel = selector.select([HumanMessage("find flights from Oslo to Rome")])
    counter = selector.counter
    assert sel.bound_tokens == counter.count_tools(sel.tools)
    all_tools = [s.source for s in selector.retriever.specs]
    assert sel.catalog_tokens == counter.count_tools(all_tools)
    assert sel.saved_tokens == sel.catalog_tokens - sel.bound_tokens > 0
    event = sel.event()
    assert event["tokens_before"] == sel.catalog_tokens
    assert event["tokens_after"] == sel.bound_tokens
    # an independent counter (no shared state with the selector's) agrees on the bound schemas
    assert (
        0
        < TokenCounter(encoding=selector.counter.encoding_name).count_tools(sel.tools)
        == sel.bound_tokens
    )


async def test_async_select_matches_sync(selector: ToolSelector) -> None:
    convo = [HumanMessage("convert 20 euros to dollars")]
    sync = selector.select(convo)
    fresh = ToolSelector(retriever=selector.retriever, k=3, max_tools=4, find_tools_k=2)
    asyn = await fresh.aselect(convo)
    assert asyn.names == sync.names
    text = await fresh.find_tools_tool.ainvoke({"query": "calendar event"})
    assert "create_calendar_event" in text


def test_selection_event_reaches_callbacks(selector: ToolSelector) -> None:
    seen: list[tuple[str, Any]] = []

    class Handler(BaseCallbackHandler):
        def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
            seen.append((name, data))

    def node(messages: list[BaseMessage], config: RunnableConfig) -> ToolSelection:
        return selector.select(messages, config=config)

    sel = RunnableLambda(node).invoke(
        [HumanMessage("set an alarm for 6am")], config={"callbacks": [Handler()]}
    )
    assert seen and seen[0][0] == "tokenopt_tool_selection"
    assert seen[0][1]["names"] == sel.names
    assert seen[0][1]["tokens_saved"] == sel.saved_tokens


def test_state_dict_and_string_inputs(selector: ToolSelector) -> None:
    a = selector.select({"messages": [HumanMessage("weather in Lima")]})
    b = selector.select("weather in Lima")
    assert a.names == b.names
    with pytest.raises(ToolSelectionError, match="list of BaseMessage"):
        selector.select(42)
    none = selector.select([AIMessage("hello")])  # no user turn yet
    assert none.abstained


def test_config_errors(retriever: ToolRetriever) -> None:
    with pytest.raises(TokenOptConfigError, match="max_tools"):
        ToolSelector(retriever=retriever, max_tools=0)
    with pytest.raises(TokenOptConfigError, match="cannot exceed"):
        ToolSelector(retriever=retriever, k=6, max_tools=5)
    other = ToolRetriever(tools=[{"name": "x_y", "description": "d"}], dense=False)
    with pytest.raises(TokenOptConfigError, match="same retriever"):
        ToolSelector(retriever=retriever, classifier=QueryClassifier(retriever=other))
    meta = ToolRetriever(tools=[{"name": FIND_TOOLS_NAME, "description": "d"}], dense=False)
    with pytest.raises(TokenOptConfigError, match="find_tools=False"):
        ToolSelector(retriever=meta, k=1)


def test_from_tools(catalog: list[Any], tmp_path: Any) -> None:
    sel = ToolSelector.from_tools(
        catalog,
        always_include=["set_alarm"],
        retriever_kwargs={"cache_dir": tmp_path},
        k=2,
        max_tools=5,
    )
    out = sel.select([HumanMessage("play some jazz music on the speaker")])
    assert out.names[:2] == [FIND_TOOLS_NAME, "set_alarm"]
    assert "play_music" in out.names


def test_open_task_turns_join_the_query_at_a_fresh_start(selector: ToolSelector) -> None:
    # The user answers the assistant's question: alone, "7:15 please" names no tool; the
    # open task (no tool called since "I need an alarm ...") does.
    alone = selector.select([HumanMessage("7:15 please")])
    assert "set_alarm" not in alone.names
    convo: list[BaseMessage] = [
        HumanMessage("I need an alarm to wake me up tomorrow morning."),
        AIMessage("Sure, for what time?"),
        HumanMessage("7:15 please"),
    ]
    answered = selector.select(convo)
    assert "set_alarm" in answered.names
    assert not answered.abstained  # the user's answer continues the task: no abstention


def test_task_context_reads_the_open_task() -> None:
    convo: list[BaseMessage] = [
        HumanMessage("Hey can you log me in?"),
        AIMessage("Sure, what's your username?"),
        HumanMessage("justinkool"),
        AIMessage("What's your password?"),
        HumanMessage("justforkicks123"),
    ]
    ctx = task_context(convo)
    assert ctx.task_turns == 2
    assert ctx.query == "Hey can you log me in?\njustinkool\njustforkicks123"
    # a long clarification keeps the turn that states the request and the newest answers
    long = [HumanMessage("Please reset my password, the code is 982003.")]
    for text in ("Can you suggest one?", "Another one?", "Perfect!", "My username?"):
        long += [AIMessage("How about this?"), HumanMessage(text)]
    ctx = task_context(long)
    assert ctx.task_turns == 4
    assert ctx.query.splitlines() == [
        "Please reset my password, the code is 982003.",
        "Another one?",
        "Perfect!",
        "My username?",
    ]
    # once the agent acted (a tool result), the next request opens a new task
    convo += [
        call("UserLogin", {"username": "justinkool"}, "l1"),
        tool_msg("l1", '{"session_token": "e149"}'),
        AIMessage("You're logged in!"),
        HumanMessage("What's on my calendar today?"),
    ]
    ctx = task_context(convo)
    assert ctx.task_turns == 0
    assert ctx.query == "What's on my calendar today?"


def test_tool_calls_and_results_are_ranked_by_their_words() -> None:
    convo: list[BaseMessage] = [
        HumanMessage("Change my reservation please."),
        call("get_reservation_details", {"reservation_id": "UM3OG5"}, "r1"),
        tool_msg(
            "r1",
            '{"reservation_id": "UM3OG5", "user_id": "omar_rossi_1241", "cabin": "basic_economy",'
            ' "flights": [{"flight_number": "HAT079", "date": "2024-05-15", "price": 59}]}',
        ),
    ]
    ctx = task_context(convo)
    result, called = ctx.context_texts[:2]
    # keys and word values stay; ids, codes, dates and amounts (word pieces, no meaning) go
    assert result == (
        "reservation id user id omar rossi cabin basic economy flights flight number date price"
    )
    assert called == "get reservation details reservation id"
    assert not any(c.isdigit() for text in ctx.context_texts for c in text)


#: A thread whose working set holds the weather tool it called.
WEATHER_SET = {"format": 1, "names": ["get_weather"], "last_used": {"get_weather": 1}}


def after_the_weather(newest: str) -> list[BaseMessage]:
    """A weather lookup in Oslo, its answer, then ``newest`` from the user."""
    return [
        HumanMessage("what's the weather in Oslo?"),
        call("get_weather", {"city": "Oslo"}, "w1"),
        tool_msg("w1", "rain, 8C"),
        AIMessage("It rains in Oslo."),
        HumanMessage(newest),
    ]


def test_a_new_pick_joins_only_above_the_working_sets_own_tools(
    retriever: ToolRetriever,
) -> None:
    convo = after_the_weather("And will it be raining in Bergen tomorrow as well?")
    strict = ToolSelector(retriever=retriever, k=3, max_tools=8, context_k=0)
    loose = ToolSelector(retriever=retriever, k=3, max_tools=8, context_k=0, add_above_set=False)
    # the set's own tool ranks first for the new turn: nothing below it joins, the bound
    # tools (and the provider's cached prefix) stay as they were
    kept = strict.select(convo, working_set=WEATHER_SET)
    assert [n for n in kept.names if n != FIND_TOOLS_NAME] == ["get_weather"]
    grown = loose.select(convo, working_set=WEATHER_SET)
    assert len([n for n in grown.names if n != FIND_TOOLS_NAME]) > 1
    # a tool the turn names always joins
    convo[-1] = HumanMessage("Use play_music to play something cheerful for the rain.")
    assert "play_music" in strict.select(convo, working_set=WEATHER_SET).names
    with pytest.raises(TokenOptConfigError):
        ToolSelector(retriever=retriever, add_above_set="yes")  # type: ignore[arg-type]


def test_a_reply_is_read_with_its_task(retriever: ToolRetriever) -> None:
    read = ToolSelector(retriever=retriever, k=3, max_tools=8, context_k=0)
    alone = ToolSelector(retriever=retriever, k=3, max_tools=8, context_k=0, reply_picks=True)
    # an answer to the agent's question: alone, its words pick tools of other tasks (money,
    # hotels), which would stay bound for the rest of the task
    convo = after_the_weather("Sure, my budget is 200 euros.")
    assert len(alone.select(convo, working_set=WEATHER_SET).names) > 2
    kept = read.select(convo, working_set=WEATHER_SET).names
    assert [n for n in kept if n != FIND_TOOLS_NAME] == ["get_weather"]
    # a reply that asks for something new is still heard, through its task's query
    convo[-1] = HumanMessage("Sure, I would like a hotel too.")
    assert "hotels.book_room" in read.select(convo, working_set=WEATHER_SET).names
    # a new request after "sure, and ..." is not a reply: its own picks join
    convo[-1] = HumanMessage("Sure, and also convert 200 dollars to euros.")
    assert "convert_currency" in read.select(convo, working_set=WEATHER_SET).names
    with pytest.raises(TokenOptConfigError):
        ToolSelector(retriever=retriever, reply_picks="no")  # type: ignore[arg-type]


def test_a_tool_loop_ranks_each_context_text_once(store_dir: Path) -> None:
    ranked: list[str] = []

    class Counting(ToolRetriever):
        def rank(self, query: str, **kwargs: Any) -> Any:
            ranked.append(query)
            return super().rank(query, **kwargs)

    selector = ToolSelector(
        retriever=Counting(tools=make_catalog(), k=3, cache_dir=store_dir), k=3, max_tools=8
    )
    convo = after_the_weather("Is it colder in Bergen?")
    convo += [call("get_weather", {"city": "Bergen"}, "w2"), tool_msg("w2", "snow, -2C")]
    first = selector.select(convo, working_set=WEATHER_SET)
    assert ranked
    ranked.clear()
    # the next call of the same loop: the turn's ranking and the context texts' are kept
    again = selector.select(convo, working_set=first.working_set)
    assert ranked == []
    assert again.names == first.names


def test_the_newest_turn_keeps_its_own_picks_beside_the_open_task(
    selector: ToolSelector,
) -> None:
    convo: list[BaseMessage] = [
        HumanMessage(
            "Please book a hotel room in Paris for next weekend: a double room near the "
            "Louvre, check-in on Friday, check-out on Sunday, breakfast included, for two "
            "adults, a quiet hotel room with a view if you can find one."
        ),
        AIMessage("Which dates exactly?"),
        HumanMessage("Also some jazz on the speaker."),
    ]
    ctx = task_context(convo)
    assert ctx.task_turns == 1 and ctx.newest == convo[-1].text
    # a tight margin keeps only the best of each ranking: the newest turn's own pick is
    # bound even where the open task's words rank other tools first
    names = selector.select(convo, margin=0.01).names
    assert "play_music" in names


def test_each_request_of_a_multi_intent_turn_brings_its_own_tool(
    retriever: ToolRetriever,
) -> None:
    convo = after_the_weather(
        "Thanks. Please set an alarm for 6 am tomorrow and send an email to Anna "
        "saying the picnic is off."
    )
    state = WEATHER_SET
    clauses = ToolSelector(retriever=retriever, k=3, max_tools=8, context_k=0)
    whole = ToolSelector(retriever=retriever, k=3, max_tools=8, context_k=0, clause_picks=0)
    # a tight margin keeps only the whole message's best tool; each request still brings
    # the tool it asks for on its own
    assert "send_email" not in whole.select(convo, working_set=state, margin=0.3).names
    names = clauses.select(convo, working_set=state, margin=0.3).names
    assert {"set_alarm", "send_email"} <= set(names)
    # a clause the working set already answers, or one that matches nothing well
    # ("Thanks, I understand"), adds nothing: the bound tools stay a cached prefix
    convo[-1] = HumanMessage("Thanks, I understand. Will it rain in Bergen tomorrow as well?")
    kept = clauses.select(convo, working_set=state, margin=0.3).names
    assert [n for n in kept if n != FIND_TOOLS_NAME] == ["get_weather"]
    with pytest.raises(TokenOptConfigError):
        ToolSelector(retriever=retriever, clause_picks=-1)


def test_a_weak_pick_brings_its_small_toolkit(retriever: ToolRetriever) -> None:
    convo: list[BaseMessage] = [HumanMessage("I need a hotel room in Rome for Friday night.")]
    grouped = ToolSelector(retriever=retriever, k=1, max_tools=8)
    single = ToolSelector(retriever=retriever, k=1, max_tools=8, group_cap=0)
    assert "hotels.book_room" in single.select(convo).names
    assert "hotels.cancel_booking" not in single.select(convo).names
    # the pick's namespace (a shared dotted prefix) comes with it: the agent that books
    # can also cancel without a find_tools round trip
    assert {"hotels.book_room", "hotels.cancel_booking"} <= set(grouped.select(convo).names)


def _errand(name: str, description: str) -> StructuredTool:
    def run(request: str) -> str:
        return request

    return StructuredTool.from_function(run, name=name, description=description)


#: Ten more tools: with 22, the leading five of a ranking are a signal (not half the catalog).
ERRANDS = [
    _errand(name, description)
    for name, description in (
        ("compute_mortgage", "Compute a monthly mortgage payment."),
        ("count_calories", "Count the calories of a recipe."),
        ("find_recipe", "Find a recipe by ingredient."),
        ("lookup_word", "Look up a word in the dictionary."),
        ("solve_equation", "Solve an algebra equation."),
        ("get_news", "Get today's news headlines."),
        ("plan_workout", "Plan a gym workout."),
        ("track_package", "Track a parcel by its tracking number."),
        ("order_pizza", "Order a pizza for delivery."),
        ("book_taxi", "Book a taxi ride."),
    )
]


def test_a_brought_group_outranks_the_picks_ranked_below_it(
    store_dir: Path, catalog: list[Any]
) -> None:
    retriever = ToolRetriever(tools=[*catalog, *ERRANDS], k=5, cache_dir=store_dir)
    strict = ToolSelector(retriever=retriever, k=5, max_tools=12, context_k=0)
    loose = ToolSelector(retriever=retriever, k=5, max_tools=12, context_k=0, add_above_set=False)

    def bound(selector: ToolSelector, text: str) -> set[str]:
        return set(selector.select([HumanMessage(text)]).names) - {FIND_TOOLS_NAME}

    hotels = {"hotels.book_room", "hotels.cancel_booking"}
    # the hotel pick brings its namespace: the tools ranked below it (pizza, flights ...)
    # would only stay bound for the whole task
    request = "I need a hotel room in Rome for Friday night."
    assert bound(strict, request) == hotels
    assert bound(loose, request) > hotels
    # a tool ranked above the brought group is what the request is about: it stays
    assert bound(strict, "Book a taxi to my hotel in Rome") == {"book_taxi", *hotels}
    # another request of the message brings its own tool (a clause pick)
    two_requests = "Book a hotel room in Rome. Also, set an alarm for 7 am."
    assert bound(strict, two_requests) == {"set_alarm", *hotels}
    # a group joining a working set outranks them the same way
    later = after_the_weather("Thanks. I also need a hotel room in Rome for Friday night.")
    joined = strict.select(later, working_set=WEATHER_SET).names
    assert set(joined) - {FIND_TOOLS_NAME} == {"get_weather", *hotels}
    assert len(loose.select(later, working_set=WEATHER_SET).names) > len(joined)
    # with groups off (group_cap=0) no group is brought, so none outranks anything
    no_groups = ToolSelector(retriever=retriever, k=5, max_tools=12, context_k=0, group_cap=0)
    assert bound(no_groups, request) == bound(loose, request) > hotels
    # no group brought, nothing outranks the picks: the margin alone decides
    pizza = "Order a pizza for delivery tonight."
    assert bound(strict, pizza) == bound(loose, pizza)
    assert len(bound(strict, pizza)) == 5


def test_a_group_leading_the_ranking_together_joins_without_a_confident_pick(
    store_dir: Path, catalog: list[Any]
) -> None:
    retriever = ToolRetriever(tools=[*catalog, *ERRANDS], k=3, cache_dir=store_dir)
    convo: list[BaseMessage] = [HumanMessage("Book a flight to Rome and sort out the hotel")]
    travel = {"travel": ["search_flights", "book_taxi"]}
    # the hotel leads; the flight and the taxi follow it, far below the margin, and together
    # they say that the journey is part of the request (the flight alone is also a clause's
    # runner-up; the taxi comes only with its group)
    grouped = ToolSelector(retriever=retriever, k=3, max_tools=8, context_k=0, groups=travel)
    ungrouped = ToolSelector(retriever=retriever, k=3, max_tools=8, context_k=0, group_cap=0)
    names = set(grouped.select(convo, margin=0.05).names)
    assert {"hotels.book_room", "search_flights", "book_taxi"} <= names
    assert "book_taxi" not in ungrouped.select(convo, margin=0.05).names
    # a group the working set already holds is answered by it: the bound tools stay
    held = {"format": 1, "names": ["search_flights"], "last_used": {"search_flights": 1}}
    kept = grouped.select([*after_the_weather("ok"), convo[0]], working_set=held, margin=0.05)
    assert "book_taxi" not in kept.names
    # (in a catalog of a few tools the leading five are most of it and no group joins that
    # way: tests/integration_tests/test_mcp_catalog.py, six tools on two servers)
