"""``StandalonePolicy``: the standalone-question vocabulary as data, and which tool turns count.

Everything is real: the keys are built from ``langchain_core.load.dumps`` of real messages.
"""

from __future__ import annotations

import pytest
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from langchain_tokenopt.cache import SemanticCache, StandalonePolicy
from langchain_tokenopt.cache.keys import RequestKey, build_request_key, model_identity_of
from langchain_tokenopt.cache.scope import CallerScope
from langchain_tokenopt.cache.standalone import DEFAULT_TRANSACTION_NOUNS, is_standalone
from langchain_tokenopt.errors import TokenOptConfigError

CALLER = CallerScope(tenant_id="acme", user_id="u1")
MODEL = model_identity_of({"class": "ChatOpenAI", "kwargs": {"model": "gpt-4o-mini"}})
QUESTION = HumanMessage("Do you price match other stores?")


def _tool_turn(name: str, call_id: str, *, named_result: bool = True) -> list[BaseMessage]:
    return [
        HumanMessage(f"Please run {name}."),
        AIMessage("", tool_calls=[{"name": name, "args": {}, "id": call_id}]),
        ToolMessage("result", tool_call_id=call_id, name=name if named_result else None),
        AIMessage("Here it is."),
    ]


def _scope(
    messages: list[BaseMessage],
    policy: object = "standalone",
    cacheable: frozenset[str] = frozenset(),
) -> str:
    key = RequestKey(prompt=dumps(messages), model=MODEL, caller=CALLER, cacheable_tools=cacheable)
    return build_request_key(key, CALLER, history_policy=policy).scope  # type: ignore[arg-type]


def test_the_default_policy_is_the_standalone_rule() -> None:
    policy = StandalonePolicy.default()
    assert policy == StandalonePolicy()
    for text in ("Do you price match other stores?", "What's the return window for helmets?"):
        assert policy.is_standalone(text) is is_standalone(text) is True
    for text in ("When will the refund arrive on my card?", "What about the second one?"):
        assert policy.is_standalone(text) is is_standalone(text) is False
    assert "refund" in DEFAULT_TRANSACTION_NOUNS


def test_a_shop_extends_the_vocabulary() -> None:
    pharmacy = StandalonePolicy.default().extend(
        transaction_nouns={"Prescription"}, noun_qualifiers={"refills"}
    )
    question = "Is the prescription ready for pickup today?"
    assert StandalonePolicy.default().is_standalone(question) is True
    assert pharmacy.is_standalone(question) is False  # "the prescription" of the conversation
    assert pharmacy.is_standalone("How do the prescription refills work here?") is True
    assert pharmacy.is_standalone("What is the prescription policy for minors?") is True
    assert pharmacy.is_standalone("When will the refund arrive on my card?") is False
    terse = StandalonePolicy(min_words=2, transaction_nouns=frozenset())
    assert terse.is_standalone("Refund policy?") is True
    assert terse.is_standalone("When will the refund arrive on my card?") is True
    assert StandalonePolicy.default().is_standalone("Refund policy?") is False


def test_a_policy_decides_the_cache_scope() -> None:
    first = [HumanMessage("Tell me about Denver."), AIMessage("Denver is in Colorado.")]
    second = [HumanMessage("Tell me about Boston."), AIMessage("Boston is in Massachusetts.")]
    ticket = HumanMessage("When will the ticket be answered by support?")
    pharmacy = StandalonePolicy(transaction_nouns=frozenset({"prescription"}))
    assert _scope([*first, ticket], "standalone") != _scope([*second, ticket], "standalone")
    assert _scope([*first, ticket], pharmacy) == _scope([*second, ticket], pharmacy)
    assert _scope([*first, QUESTION], "always") != _scope([*second, QUESTION], "always")


def test_only_cacheable_tool_turns_leave_the_history_out() -> None:
    cacheable = frozenset({"get_weather", "find_tools"})
    plain = [HumanMessage("Hello there, anyone?"), AIMessage("Hi, how can I help?")]
    base = _scope([*plain, QUESTION], cacheable=cacheable)
    weather = _tool_turn("get_weather", "w1")
    assert _scope([*weather, QUESTION], cacheable=cacheable) == base
    # the result's tool is found from its call id when the message carries no name
    unnamed = _tool_turn("get_weather", "w2", named_result=False)
    assert _scope([*unnamed, QUESTION], cacheable=cacheable) == base
    # without the declaration (LangChain's own calls), any tool result keeps the history
    assert _scope([*weather, QUESTION]) != base
    # one private tool in the history keeps it, whatever else was called
    order = _tool_turn("get_order", "o1")
    assert _scope([*weather, *order, QUESTION], cacheable=cacheable) != base
    # a policy can keep every tool turn private
    strict = StandalonePolicy(cacheable_tool_turns_are_private=True)
    assert _scope([*weather, QUESTION], strict, cacheable) != _scope([*plain, QUESTION], strict)
    # tool results after the question belong to this request: never left out
    other = [HumanMessage("Good morning to you!"), AIMessage("Good morning!")]
    call_and_result = _tool_turn("get_weather", "w3")[1:3]
    assert _scope([*plain, QUESTION, *call_and_result], cacheable=cacheable) != _scope(
        [*other, QUESTION, *call_and_result], cacheable=cacheable
    )
    # a follow-up keeps its conversation even after cacheable tools only
    follow = HumanMessage("Is it going to rain there tomorrow?")
    assert _scope([*weather, follow], cacheable=cacheable) != _scope(
        [*plain, follow], cacheable=cacheable
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"transaction_nouns": "refund"},
        {"openers": frozenset({""})},
        {"reference_words": [3]},
        {"min_words": 0},
        {"min_words": True},
        {"cacheable_tool_turns_are_private": "yes"},
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(TokenOptConfigError):
        StandalonePolicy(**kwargs)  # type: ignore[arg-type]


def test_semantic_cache_takes_a_policy() -> None:
    policy = StandalonePolicy.default().extend(transaction_nouns=["prescription"])
    cache = SemanticCache(history_policy=policy, semantic=False)
    assert cache.history_policy is policy
    with pytest.raises(TokenOptConfigError):
        SemanticCache(history_policy="sometimes", semantic=False)  # type: ignore[arg-type]
