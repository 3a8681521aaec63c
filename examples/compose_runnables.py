"""Compose the optimizers with LCEL: tool selection | compression | context optimizer | model.

Prints what each optimizer sends to the model: the system prompt with the policy compressed
to the sentences that answer the question, the optimized history (message types and a short
preview, tokens before/after) and the tools bound out of the catalog.

Run: ``.venv/bin/python examples/compose_runnables.py`` (offline; uses the local SmolLM2).
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool

from langchain_tokenopt import ContextOptimizer, QueryAwareCompressor, TokenCounter, ToolSelector
from langchain_tokenopt.llms import LocalChatModel

POLICY = [
    "Boots and shoes can be returned within 60 days if they were worn indoors only.",
    "Tents bought in the spring sale can be exchanged but not refunded.",
    "Gift cards are refunded as store credit; card refunds need a supervisor and code RFND-7.",
    "Parcels to Alaska and Hawaii take 6-9 business days; fuel canisters cannot ship by air.",
    "Loyalty points expire 18 months after they were earned.",
]


@tool
def get_order_status(order_id: str) -> str:
    """Return the shipping status of an order by its id."""
    return f"Order {order_id} is in transit."


@tool
def start_return(order_id: str, reason: str) -> str:
    """Open a return for an order and email the customer a prepaid label."""
    return f"Return opened for {order_id}."


@tool
def convert_currency(amount: float, currency: str) -> str:
    """Convert an amount in USD to another currency."""
    return f"{amount} USD in {currency}"


def main() -> None:
    tools = [get_order_status, start_return, convert_currency]
    # find_tools (load more tools on demand) costs more than it saves on a 3-tool catalog.
    selector = ToolSelector.from_tools(tools, k=2, max_tools=3, find_tools=False)
    compressor = QueryAwareCompressor(target_tokens=60)
    history = ContextOptimizer(max_tokens=400)
    llm = LocalChatModel(max_new_tokens=40, max_sentences=2)
    counter = TokenCounter("gpt-4o")

    def with_policy(inputs: dict[str, Any]) -> list[BaseMessage]:
        """Compress the policy to what matters for the question, as the system prompt."""
        question = inputs["question"]
        policy = compressor.invoke({"context": POLICY, "question": question})
        print(f"policy: {policy.tokens_before} -> {policy.tokens_after} tokens")
        system = SystemMessage(f"You are a support assistant. Policy:\n{policy.text}")
        return [system, *inputs["history"], HumanMessage(question)]

    def call_model(messages: list[BaseMessage]) -> AIMessage:
        """Bind only the tools selected for this turn (none: no tools argument at all)."""
        system, *rest = messages
        print(f"compressed system prompt:\n  {system.text.replace(chr(10), chr(10) + '  ')}")
        print(f"optimized history: {len(rest)} messages, {counter.count_messages(rest)} tokens")
        for message in rest:
            print(f"  {message.type:6} {message.text[:70]!r}")
        selection = selector.select(messages)
        print(
            f"tools bound: {selection.names} ({selection.bound_tokens} of "
            f"{selection.catalog_tokens} schema tokens)"
        )
        return selection.bind(llm).invoke(messages)

    chain = RunnableLambda(with_policy) | history | RunnableLambda(call_model)

    old_turns: list[BaseMessage] = []
    for i in range(30):  # a long earlier conversation the context optimizer must fit
        old_turns += [
            HumanMessage(f"Where is my tent order A-{1000 + i}?"),
            AIMessage(f"Order A-{1000 + i} left our warehouse and arrives within 5 days."),
        ]
    question = "Can I return hiking boots I only wore indoors?"
    print(f"history before: {len(old_turns)} messages, {counter.count_messages(old_turns)} tokens")
    answer = chain.invoke({"question": question, "history": old_turns})
    print(f"answer: {answer.content!r}")


if __name__ == "__main__":
    main()
