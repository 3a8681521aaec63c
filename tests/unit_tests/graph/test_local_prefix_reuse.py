"""LocalChatModel(reuse_prefix=True) reads a shared system prompt once and answers the same."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from langchain_tokenopt.llms import LocalChatModel

SYSTEM = (
    "You are Juniper, the customer-operations assistant of Northwind Outfitters, an "
    "outdoor-gear retailer that sells tents, sleeping bags, packs, footwear and apparel "
    "through a web shop, a mobile app and 42 stores in the United States and Canada. "
    "Answer in one short sentence, never invent order numbers, and quote ids exactly."
)
QUESTIONS = [
    "What is the capital of France?",
    "Name a warm sleeping bag material.",
    "What is the capital of France?",
]


def test_reusing_the_prefix_cache_gives_the_same_greedy_answers() -> None:
    plain = LocalChatModel(max_new_tokens=8, dtype="bfloat16")
    reuse = LocalChatModel(max_new_tokens=8, dtype="bfloat16", reuse_prefix=True)
    for question in QUESTIONS:
        messages = [SystemMessage(SYSTEM), HumanMessage(question)]
        expected = plain.invoke(messages)
        got = reuse.invoke(messages)
        assert got.content == expected.content
        assert got.usage_metadata == expected.usage_metadata
