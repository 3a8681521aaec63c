from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage

from langchain_tokenopt.cache.keys import build_key, parse_llm_string, parse_prompt
from langchain_tokenopt.cache.scope import CallerScope, cache_scope, current_caller_scope

from .helpers import ServingModel, chat_prompt, conversation, llm_string


def test_only_the_newest_human_message_is_embedded() -> None:
    prompt = chat_prompt(
        "and how old is he?",
        system="You are terse.",
        history=conversation("Who is the president of France?", "Emmanuel Macron."),
    )
    parsed = parse_prompt(prompt)
    assert parsed.query_text == "and how old is he?"
    assert parsed.system and parsed.history


def test_plain_text_prompt_is_the_query() -> None:
    parsed = parse_prompt("Translate 'cat' to French")
    assert parsed.query_text == "Translate 'cat' to French"
    assert parsed.system == "" and parsed.history == ""


def test_messages_after_the_human_turn_are_part_of_the_scope() -> None:
    from langchain_core.load import dumps
    from langchain_core.messages import ToolMessage

    call = AIMessage("", tool_calls=[{"name": "weather", "args": {"city": "Paris"}, "id": "c1"}])
    base = dumps([HumanMessage("weather in Paris?")])
    sunny = dumps(
        [HumanMessage("weather in Paris?"), call, ToolMessage("sunny", tool_call_id="c1")]
    )
    rainy = dumps(
        [HumanMessage("weather in Paris?"), call, ToolMessage("rainy", tool_call_id="c1")]
    )
    histories = {parse_prompt(p).history for p in (base, sunny, rainy)}
    assert len(histories) == 3
    assert parse_prompt(sunny).query_text == "weather in Paris?"


def test_non_text_content_disables_the_semantic_path() -> None:
    from langchain_core.load import dumps

    msg = HumanMessage(
        content=[
            {"type": "text", "text": "what is in this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ]
    )
    parsed = parse_prompt(dumps([msg]))
    assert parsed.query_text == "what is in this picture?"
    assert parsed.embeddable is False


def test_volatile_fields_do_not_change_the_model_identity() -> None:
    a = parse_llm_string(llm_string(ServingModel(responses=["x"], request_timeout=5)))
    b = parse_llm_string(llm_string(ServingModel(responses=["x"], request_timeout=60)))
    c = parse_llm_string(llm_string(ServingModel(responses=["x"], model_name="fake-2")))
    assert a.model == b.model
    assert a.model != c.model
    assert c.model_name == "fake-2"


def test_temperature_and_tools_are_read_from_llm_string() -> None:
    model = ServingModel(responses=["x"], temperature=0.7)
    ident = parse_llm_string(llm_string(model, tools=[{"name": "get_weather"}]))
    assert ident.temperature == 0.7
    assert ident.tools != ""
    other = parse_llm_string(llm_string(model, tools=[{"name": "get_time"}]))
    assert other.tools != ident.tools
    assert other.model == ident.model


def test_unparseable_llm_string_is_kept_whole() -> None:
    a = parse_llm_string("some custom llm string, temperature: 0.3")
    b = parse_llm_string("some custom llm string, temperature: 0.4")
    assert a.model != b.model
    assert a.temperature == 0.3


def test_scope_separates_tenants_users_and_context() -> None:
    prompt, llm = chat_prompt("hi there"), llm_string()
    keys = {
        build_key(prompt, llm, CallerScope()).scope,
        build_key(prompt, llm, CallerScope(tenant_id="a")).scope,
        build_key(prompt, llm, CallerScope(tenant_id="b")).scope,
        build_key(prompt, llm, CallerScope(tenant_id="a", user_id="u")).scope,
        build_key(chat_prompt("hi there", system="be brief"), llm, CallerScope()).scope,
        build_key(
            chat_prompt("hi there", history=[HumanMessage("x"), AIMessage("y")]), llm, CallerScope()
        ).scope,
    }
    assert len(keys) == 6


def test_entry_id_ignores_whitespace_noise() -> None:
    llm = llm_string()
    a = build_key(chat_prompt("What is  RAG?\n"), llm, CallerScope())
    b = build_key(chat_prompt("What is RAG?"), llm, CallerScope())
    c = build_key(chat_prompt("What is rag?"), llm, CallerScope())
    assert a.entry_id == b.entry_id != c.entry_id


def test_cache_scope_nests_and_resets() -> None:
    assert current_caller_scope() == CallerScope()
    with cache_scope(tenant_id="acme"):
        with cache_scope(tenant_id="acme", user_id="u1"):
            assert current_caller_scope().user_id == "u1"
        assert current_caller_scope() == CallerScope(tenant_id="acme")
    assert current_caller_scope() == CallerScope()


def test_standalone_history_policy_scopes_follow_ups_but_not_standalone_questions() -> None:
    from langchain_core.load import dumps
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    from langchain_tokenopt.cache.keys import build_key
    from langchain_tokenopt.cache.scope import CallerScope
    from langchain_tokenopt.cache.standalone import is_standalone

    assert is_standalone("What is the return window for hiking boots?")
    for follow_up in ("And how old is he?", "What about the second one?", "Why?", "Is it red"):
        assert not is_standalone(follow_up)

    caller = CallerScope(tenant_id="acme", user_id=None)
    conv_a = [HumanMessage("Tell me about Denver."), AIMessage("Denver is in Colorado.")]
    conv_b = [HumanMessage("Tell me about Boston."), AIMessage("Boston is in Massachusetts.")]
    question = HumanMessage("What is the return window for hiking boots?")
    follow = HumanMessage("And how old is it?")

    def scope(history: list, q: HumanMessage, policy: str) -> str:
        return build_key(dumps([*history, q]), "llm", caller, history_policy=policy).scope  # type: ignore[arg-type]

    assert scope(conv_a, question, "always") != scope(conv_b, question, "always")
    assert scope(conv_a, question, "standalone") == scope(conv_b, question, "standalone")
    assert scope(conv_a, follow, "standalone") != scope(conv_b, follow, "standalone")
    # Earlier tool results are per-conversation data: the history stays in the scope.
    tools = [
        HumanMessage("Where is A-1?"),
        AIMessage("", tool_calls=[{"name": "get_order", "args": {"id": "A-1"}, "id": "c1"}]),
        ToolMessage("shipped", tool_call_id="c1"),
    ]
    assert scope(tools, question, "standalone") != scope(conv_a, question, "standalone")
