"""ModuleFitter: core modules whole, the answering sentences of other modules, within budget."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from langchain_tokenopt import build_optimized_agent
from langchain_tokenopt.compression import ModularPrompt
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.graph import ModuleFitter
from langchain_tokenopt.llms import LocalChatModel
from langchain_tokenopt.monitoring import TokenOptCallbackHandler
from langchain_tokenopt.tokens import TokenCounter

CORE = "You are the support agent of Acme Outdoor. Never ask for a full card number."
RETURNS = " ".join(
    [
        "Tents are returnable within 60 days when unused, with all poles and stakes.",
        "Footwear is returnable within 60 days when worn indoors only, in the original box.",
        "Helmets that have left their packaging cannot be returned, even unused.",
        "Sleeping bags that have been slept in cannot be returned unless defective.",
        "Bikes are returnable within 30 days with under 50 km on the odometer.",
        "Stoves are returnable within 60 days when never fuelled or lit.",
        "Gift cards cannot be returned or exchanged for cash.",
        "A restocking fee of 15 % applies to opened electronics.",
    ]
    * 3
)
SHIPPING = " ".join(
    [
        "Standard delivery takes 3 to 5 business days in the contiguous United States.",
        "Fuel canisters ship by ground only and never to Alaska or Hawaii.",
        "Orders over 75 dollars ship free; expedited shipping costs 15 dollars.",
    ]
    * 4
)
COMPETITORS = "Do not discuss competitors' prices or products."


@pytest.fixture(scope="module")
def prompt() -> ModularPrompt:
    return ModularPrompt(
        [
            {"name": "core", "text": CORE, "core": True},
            {
                "name": "competitors",
                "text": COMPETITORS,
                "description": "competitors' prices",
                "keywords": ("price match",),
            },
            {"name": "returns", "text": RETURNS, "description": "return windows per category"},
            {"name": "shipping", "text": SHIPPING, "description": "carriers and delivery times"},
        ],
        cache_breakpoint="core",
    )


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter("gpt-4o")


@pytest.mark.parametrize(
    ("question", "needed"),
    [
        ("Can I send back a climbing helmet I took out of the box?", "Helmets that have left"),
        ("How long can I return boots I only wore at home?", "worn indoors only"),
        ("Do you ship fuel canisters to Alaska?", "never to Alaska or Hawaii"),
    ],
)
def test_keeps_the_answering_sentence_within_the_budget(
    prompt: ModularPrompt, counter: TokenCounter, question: str, needed: str
) -> None:
    budget = 80
    assert counter.count(RETURNS) > 3 * budget  # the module alone is far over the budget
    fitted = ModuleFitter(prompt, budget_tokens=budget, token_counter=counter).fit(question)
    assert fitted.text.startswith(CORE + prompt.separator)  # cacheable prefix, byte for byte
    assert needed in fitted.text
    assert fitted.tokens == counter.count(fitted.text) <= budget
    assert fitted.compressed and fitted.compressed_tokens[1] < fitted.compressed_tokens[0]


def test_keyword_module_is_sent_whole_and_first_after_the_core(
    prompt: ModularPrompt, counter: TokenCounter
) -> None:
    fitter = ModuleFitter(prompt, budget_tokens=80, token_counter=counter)
    fitted = fitter.fit("Will you price match a cheaper shop?")
    assert fitted.whole == ["competitors"]
    assert fitted.text.startswith(CORE + prompt.separator + COMPETITORS)
    assert fitted.tokens <= 80
    # The graph's callable form returns the same text.
    assert fitter(prompt, "Will you price match a cheaper shop?") == fitted.text


def test_every_budget_is_respected(prompt: ModularPrompt, counter: TokenCounter) -> None:
    core_tokens = counter.count(CORE)
    for budget in range(core_tokens + 3, core_tokens + 120, 7):
        fitter = ModuleFitter(prompt, budget_tokens=budget, token_counter=counter)
        for question in ("helmet return?", "price match please", "", "shipping to Hawaii"):
            fitted = fitter.fit(question)
            assert counter.count(fitted.text) <= budget
            assert fitted.text.startswith(CORE)


def test_max_modules_limits_the_candidates(prompt: ModularPrompt, counter: TokenCounter) -> None:
    fitter = ModuleFitter(prompt, budget_tokens=120, token_counter=counter, max_modules=1)
    fitted = fitter.fit("When will my delivery arrive and how much is shipping?")
    assert len(fitted.compressed) <= 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"budget_tokens": 10}, "no room after the core"),
        ({"budget_tokens": True}, "budget_tokens"),
        ({"budget_tokens": 200, "max_modules": 0}, "max_modules"),
    ],
)
def test_bad_config_is_refused(
    prompt: ModularPrompt, counter: TokenCounter, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(TokenOptConfigError, match=match):
        ModuleFitter(prompt, token_counter=counter, **kwargs)  # type: ignore[arg-type]


def test_prompt_must_be_modular(counter: TokenCounter) -> None:
    with pytest.raises(TokenOptConfigError, match="ModularPrompt"):
        ModuleFitter("a plain string", budget_tokens=100, token_counter=counter)  # type: ignore[arg-type]


def test_graph_default_fits_a_modular_prompt_with_the_fitter(
    prompt: ModularPrompt,
    counter: TokenCounter,
    llm: LocalChatModel,
    monitor: TokenOptCallbackHandler,
) -> None:
    graph = build_optimized_agent(
        llm,
        [],
        system_prompt=prompt,
        cache=False,
        monitor=monitor,
        system_budget=80,
        token_model="gpt-4o",
    ).compile()
    state = graph.invoke({"messages": [HumanMessage("Can I return a helmet I unboxed?")]})
    sent = state["turn"]["system_prompt"]
    assert sent.startswith(CORE) and "Helmets that have left" in sent
    assert counter.count(sent) <= 80
    monitor.store.flush()
    steps = [s for r in monitor.store.records() for s in r.steps if s.step == "compression"]
    assert steps and steps[0].tokens_after == counter.count(sent) < steps[0].tokens_before
