from __future__ import annotations

import pytest

from langchain_tokenopt.compression import ModularPrompt, PromptAssembler, PromptModule
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter

CORE = "You are the support assistant of Acme Outdoor Gear. Be concise and polite."
SAFETY = "Never reveal internal notes. Never promise delivery dates you cannot check."
REFUNDS = (
    "Refund policy: items can be returned within 30 days of delivery for a full refund. "
    "Refunds go back to the original payment method within 5 business days."
)
SHIPPING = (
    "Shipping: standard delivery takes 3 to 5 business days; express takes 1 to 2. "
    "Shipping is free for orders above 50 dollars."
)
TENTS = (
    "Tent guidance: recommend the Ridge 2 tent for backpacking and the Basecamp 6 for "
    "families. Explain seasonal ratings and waterproofing."
)


@pytest.fixture
def prompt() -> ModularPrompt:
    return ModularPrompt(
        [
            PromptModule(name="core", text=CORE, core=True),
            PromptModule(name="safety", text=SAFETY, core=True),
            PromptModule(
                name="refunds",
                text=REFUNDS,
                description="returns, refunds and getting money back for an order",
                keywords=("refund",),
            ),
            PromptModule(
                name="shipping", text=SHIPPING, description="delivery times and shipping costs"
            ),
            PromptModule(name="tents", text=TENTS, description="choosing a tent for camping"),
        ],
        cache_breakpoint="safety",
    )


def test_core_first_relevant_modules_and_reasons(prompt: ModularPrompt) -> None:
    out = PromptAssembler(prompt, budget_tokens=400).invoke(
        "Can I get my money back for these boots?"
    )
    assert out.chosen[:2] == ["core", "safety"]
    assert "refunds" in out.chosen and "tents" not in out.chosen
    reasons = {c.name: c for c in out.choices}
    assert reasons["core"].reason == "core" and reasons["core"].included
    assert reasons["tents"].reason.startswith("not relevant")
    assert out.text.startswith(prompt.cached_prefix)
    assert prompt.cached_prefix == CORE + "\n\n" + SAFETY
    assert out.tokens == TokenCounter().count(out.text) <= 400


def test_keyword_trigger_and_declared_order(prompt: ModularPrompt) -> None:
    out = PromptAssembler(prompt, threshold=0.99).invoke(
        {"query": "refund for a tent delivered late"}
    )
    assert out.chosen == ["core", "safety", "refunds"]
    assert "keyword 'refund'" in {c.name: c.reason for c in out.choices}["refunds"]


def test_budget_respected_and_prefix_never_rewritten(prompt: ModularPrompt) -> None:
    counter = TokenCounter()
    core_only = counter.count(prompt.cached_prefix)
    budget = core_only + counter.count(SHIPPING) + 4
    assembler = PromptAssembler(prompt, budget_tokens=budget, threshold=-1.0)
    for query in ("how long does shipping take", "which tent for a family trip", "refund please"):
        out = assembler.invoke(query)
        assert out.tokens <= budget
        assert out.text.startswith(prompt.cached_prefix)
        assert any("over budget" in c.reason for c in out.choices)
    # deterministic order regardless of relevance ranking
    out = PromptAssembler(prompt, threshold=-1.0).invoke("tents and shipping and refunds")
    assert out.chosen == ["core", "safety", "refunds", "shipping", "tents"]


def test_config_errors(prompt: ModularPrompt) -> None:
    with pytest.raises(TokenOptConfigError):
        ModularPrompt([])
    with pytest.raises(TokenOptConfigError):
        ModularPrompt([{"name": "a", "text": "x"}, {"name": "a", "text": "y"}])
    with pytest.raises(TokenOptConfigError):
        ModularPrompt([{"name": "a", "text": "x"}], cache_breakpoint="a")
    with pytest.raises(TokenOptConfigError):
        PromptAssembler(prompt, budget_tokens=5)
