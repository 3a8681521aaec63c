"""The demo's modular system prompt, with the workload's core module split into small parts.

The workload's ``core`` module (664 tokens) holds the identity, the audience, the priorities,
seven hard rules and a closing paragraph. Sent whole it is more than half of every optimized
request. :func:`demo_prompt` splits it at paragraph and rule boundaries (no text is
rewritten): the identity and the two rules that apply to any message (card data, account
takeover) stay always on, as the cache-breakpoint prefix; the other parts become optional
modules with a description and keywords, chosen per question like the policy modules.

Example:
    .. code-block:: python

        from examples.tokenopt_demo import load_workload
        from examples.tokenopt_demo.prompt import demo_prompt

        prompt = demo_prompt(load_workload())
        [m.name for m in prompt.modules if m.core]  # ['essentials']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_tokenopt.compression import ModularPrompt, PromptModule, RankingConfig
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.graph.system_prompt import ModuleFitter
from langchain_tokenopt.tokens import TokenCounter

from .workload import Workload

__all__ = ["CORE_RULES", "RuleSpec", "demo_prompt", "demo_system_fitter", "split_core_rules"]


@dataclass(frozen=True)
class RuleSpec:
    """How one hard rule of the core module becomes a module."""

    key: str
    """Module name of the rule (``rule.<key>``); ``None``-free, stable."""
    starts: str
    """The start of the rule's line in the core module (finds it)."""
    always: bool
    """Always sent (a safety rule that applies to any message)."""
    description: str = ""
    """What the rule is about, matched against the question."""
    keywords: tuple[str, ...] = ()
    """Words of a question that make the rule relevant."""


#: The core module's hard rules, in prompt order.
CORE_RULES: tuple[RuleSpec, ...] = (
    RuleSpec("card_data", "- Never ask for or repeat a full card number", always=True),
    RuleSpec(
        "delivery_dates",
        "- Never promise a delivery date",
        always=False,
        description="promising delivery dates and arrival estimates",
        keywords=("arrive", "deliver", "when will", "in time", "track", "shipment", "where is my"),
    ),
    RuleSpec(
        "refund_method",
        "- Refunds go to the original payment method",
        always=False,
        description="where refunds go: original payment method or store credit",
        keywords=("refund", "money back", "store credit"),
    ),
    RuleSpec(
        "approval_limits",
        "- Money actions above your limits",
        always=False,
        description="approval limits for refunds, goodwill credit and price adjustments",
        keywords=("goodwill", "compensation", "price adjustment", "credit"),
    ),
    RuleSpec(
        "competitors",
        "- Do not discuss competitors",
        always=False,
        description="competitors' prices and products, price matching, margins, suppliers",
        keywords=("competitor", "price match", "match the price", "cheaper", "other store"),
    ),
    RuleSpec("account_takeover", "- If a message looks like an attempt", always=True),
    RuleSpec(
        "language",
        "- Answer in the customer's language",
        always=False,
        description="answer language: French, Spanish, German, Dutch; translation",
        keywords=("french", "spanish", "german", "dutch", "translat", "language"),
    ),
)


def split_core_rules(text: str) -> tuple[list[str], str, dict[str, str]]:
    """Split the core module into paragraphs, the rules header and one line per rule.

    Returns:
        ``(other paragraphs, rules header, {rule key: rule line})``; the paragraphs keep their
        order with an empty string where the rules paragraph was.

    Raises:
        TokenOptConfigError: the text has no rules paragraph or a rule of
            :data:`CORE_RULES` is missing.
    """
    paragraphs = text.split("\n\n")
    at = next((i for i, p in enumerate(paragraphs) if p.startswith("Hard rules")), None)
    if at is None:
        msg = "the core module has no 'Hard rules' paragraph"
        raise TokenOptConfigError(msg)
    header, *lines = paragraphs[at].split("\n")
    rules: dict[str, str] = {}
    for spec in CORE_RULES:
        line = next((x for x in lines if x.startswith(spec.starts)), None)
        if line is None:
            msg = f"hard rule {spec.key!r} ({spec.starts!r}) not found in the core module"
            raise TokenOptConfigError(msg)
        rules[spec.key] = line
    return [p if i != at else "" for i, p in enumerate(paragraphs)], header, rules


#: The core module's other paragraphs after the identity (index 1 ...), as optional modules.
_PARAGRAPHS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "audience",
        "customers versus Northwind staff sessions, employee ids, internal tools",
        (
            "staff",
            "employee",
            "emp-",
            "internal",
            "warehouse",
            "fulfilment",
            "report",
            "on call",
            "on-call",
        ),
    ),
    (
        "priorities",
        "priorities: keep data safe, use tools instead of guessing, follow policy, approvals",
        ("exception", "approval"),
    ),
    ("", "", ()),  # the hard rules paragraph, split above
    (
        "clarify",
        "unclear requests: ask one precise question; confirm actions with their ids",
        (),
    ),
)


def demo_prompt(workload: Workload) -> ModularPrompt:
    """The workload's modular prompt with its ``core`` module split (see module docstring).

    The always-on ``essentials`` module (identity, rules header, card-data and
    account-takeover rules) is the cache breakpoint; every other module is optional.
    """
    core = next((m for m in workload.modules if m.cache_breakpoint), None)
    if core is None:
        msg = "the workload has no cache-breakpoint (core) module to split"
        raise TokenOptConfigError(msg)
    paragraphs, header, rules = split_core_rules(core.content)
    essentials = "\n".join(
        [paragraphs[0], "", header, *(rules[s.key] for s in CORE_RULES if s.always)]
    )
    modules = [PromptModule(name="essentials", text=essentials, core=True)]
    modules += [
        PromptModule(
            name=f"rule.{s.key}", text=rules[s.key], description=s.description, keywords=s.keywords
        )
        for s in CORE_RULES
        if not s.always
    ]
    for (name, description, keywords), text in zip(_PARAGRAPHS, paragraphs[1:], strict=False):
        if name and text:
            modules.append(
                PromptModule(
                    name=f"core.{name}", text=text, description=description, keywords=keywords
                )
            )
    modules += [
        PromptModule(name=m.name, text=m.content, description=m.description)
        for m in workload.modules
        if m is not core
    ]
    return ModularPrompt(modules, cache_breakpoint="essentials", separator=workload.separator)


def demo_system_fitter(
    workload: Workload, *, budget_tokens: int, token_counter: TokenCounter, embeddings: Any = None
) -> ModuleFitter:
    """The demo's system-prompt step: :func:`demo_prompt` fitted by a :class:`ModuleFitter`.

    Every sentence of the optional modules is ranked against the question with BM25 and the
    int8 ONNX MiniLM (``RankingConfig.thorough()``: each sentence is embedded once, on the
    first request, and its vector reused), so the policy sentence a question needs is kept
    even when its module is ten times the budget. With the default embedder the sentence
    vectors are also kept between runs (:class:`~examples.tokenopt_demo.vectors.
    PersistentVectors`; the same vectors, so the same rankings).
    """
    if embeddings is None:
        embeddings = _default_sentence_embeddings(workload)
    return ModuleFitter(
        demo_prompt(workload),
        budget_tokens=budget_tokens,
        token_counter=token_counter,
        embeddings=embeddings,
        ranking=RankingConfig.thorough(),
    )


def _default_sentence_embeddings(workload: Workload) -> Any:
    """The shared int8 MiniLM, its vectors of the prompt's sentences kept between runs.

    The questions' vectors are not kept: every run embeds each question, as it would a
    user's.
    """
    from pathlib import Path

    from langchain_tokenopt.embeddings import OnnxEmbeddings, get_default_query_embeddings

    from .vectors import PersistentVectors

    embeddings = get_default_query_embeddings()
    if not isinstance(embeddings, OnnxEmbeddings):
        return embeddings  # the torch fallback: batched, so not stored
    model_file = Path(embeddings.model_dir) / "model.int8.onnx" if embeddings.model_dir else None
    questions = frozenset(q.text for q in workload.questions)
    return PersistentVectors(
        embeddings,
        name="demo-prompt-sentences",
        model_file=model_file,
        keep=lambda text: text not in questions,
    )
