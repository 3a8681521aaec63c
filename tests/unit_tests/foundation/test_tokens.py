"""TokenCounter: exact against tiktoken, and the documented message / tool formulas."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from langchain_tokenopt._assets import get_encoding
from langchain_tokenopt.errors import TokenCountError, TokenOptConfigError
from langchain_tokenopt.tokens import (
    MESSAGE_OVERHEAD,
    REPLY_PRIMING,
    TOOL_CALL_OVERHEAD,
    TOOLS_ARRAY_OVERHEAD,
    TokenCounter,
    encoding_for_model,
    tool_schema_json,
)

PARAGRAPHS = """\
The warehouse in Rotterdam shipped 1,284 parcels on Tuesday, 14 March 2026, of which 37 were
flagged for customs inspection. Order #A-99812 (UUID 3f6c2a8e-1b7d-4c55-9e0a-5d2f8b1c7e43) was
delayed because the carrier's API returned HTTP 503 for forty minutes.

Customers who paid with a gift card may request a refund to store credit only; refunds to the
original card require a supervisor's approval and the reason code RFND-7. Résumé, naïve, café,
Zürich — and 東京 or Москва — must round-trip without loss.

```python
def total(items: list[float]) -> float:
    return round(sum(items) * 1.21, 2)  # VAT 21 %
```

{"order_id": "A-99812", "items": [{"sku": "TNT-4P-GRN", "qty": 2}], "paid": true}
"""


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_counts_equal_tiktoken_on_real_text(encoding: str) -> None:
    enc = get_encoding(encoding)
    counter = TokenCounter(encoding=encoding)
    texts = [PARAGRAPHS, PARAGRAPHS * 7, PARAGRAPHS.upper(), "", " ", "a\n\n\nb"]
    for text in texts:
        assert counter.count(text) == len(enc.encode_ordinary(text))
    assert counter.count_batch(texts) == [len(enc.encode_ordinary(t)) for t in texts]
    assert counter.encode(PARAGRAPHS) == enc.encode_ordinary(PARAGRAPHS)


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("openai:gpt-4.1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("claude-sonnet-4-5", "o200k_base"),
        ("meta-llama/Llama-3.1-8B", "o200k_base"),
        (None, "o200k_base"),
    ],
)
def test_encoding_from_model_name(model: str | None, encoding: str) -> None:
    assert encoding_for_model(model) == encoding
    assert TokenCounter(model).encoding_name == encoding


def test_message_formula_worked_example() -> None:
    counter = TokenCounter("gpt-4o")
    c = counter.count
    system = SystemMessage("You are a helpful shipping assistant.")
    human = HumanMessage("Where is order A-99812?", name="alice")
    call = {"name": "get_order", "args": {"order_id": "A-99812"}, "id": "call_1"}
    ai = AIMessage("", tool_calls=[call])
    result = ToolMessage('{"status": "in transit"}', tool_call_id="call_1")
    messages = [system, human, ai, result]

    expected = REPLY_PRIMING
    expected += MESSAGE_OVERHEAD + c("system") + c(system.content)  # type: ignore[arg-type]
    expected += MESSAGE_OVERHEAD + c("user") + c(human.content) + 1 + c("alice")  # type: ignore[arg-type]
    expected += (
        MESSAGE_OVERHEAD + c("assistant") + 0
        + TOOL_CALL_OVERHEAD + c("get_order") + c('{"order_id":"A-99812"}')
    )  # fmt: skip
    expected += MESSAGE_OVERHEAD + c("tool") + c('{"status": "in transit"}') + c("call_1")

    assert counter.count_messages(messages) == expected
    assert counter(messages) == expected
    assert counter.count_messages([]) == 0


def test_parallel_tool_calls_and_block_content() -> None:
    counter = TokenCounter("gpt-4o")
    calls = [
        {"name": "weather", "args": {"city": "Paris"}, "id": "a"},
        {"name": "weather", "args": {"city": "Tōkyō"}, "id": "b"},
    ]
    one = counter.count_message(AIMessage("", tool_calls=calls[:1]))
    two = counter.count_message(AIMessage("", tool_calls=calls))
    assert two - one == TOOL_CALL_OVERHEAD + counter.count("weather") + counter.count(
        json.dumps({"city": "Tōkyō"}, ensure_ascii=False, separators=(",", ":"))
    )
    blocks = HumanMessage(content=[{"type": "text", "text": "hello there"}, "and more"])
    assert counter.count_message(blocks) == (
        MESSAGE_OVERHEAD
        + counter.count("user")
        + counter.count("hello there")
        + counter.count("and more")
    )


def test_tool_schema_counts_match_the_tools_array_formula() -> None:
    @tool
    def get_order(order_id: str, include_items: bool = False) -> str:
        """Look up an order by its id and return its status."""
        return order_id

    openai_dict = {
        "type": "function",
        "function": {
            "name": "refund",
            "description": "Refund an order.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string", "description": "Order id"}},
                "required": ["order_id"],
            },
        },
    }
    counter = TokenCounter("gpt-4o")
    enc = get_encoding("o200k_base")
    assert tool_schema_json(openai_dict) == json.dumps(openai_dict, separators=(",", ":"))
    per_tool = [len(enc.encode_ordinary(tool_schema_json(t))) for t in (get_order, openai_dict)]
    assert counter.count_tool(openai_dict) == per_tool[1]
    assert counter.count_tools([get_order, openai_dict]) == TOOLS_ARRAY_OVERHEAD + sum(per_tool)
    assert counter.count_tools([]) == 0
    assert "include_items" in tool_schema_json(get_order)


def test_bad_input_gives_typed_errors() -> None:
    counter = TokenCounter("gpt-4o")
    with pytest.raises(TokenCountError):
        counter.count(None)  # type: ignore[arg-type]
    with pytest.raises(TokenCountError):
        counter.count_batch(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(TokenCountError):
        counter.count_messages("not a list")  # type: ignore[arg-type]
    with pytest.raises(TokenCountError):
        counter.count_tool(42)
    with pytest.raises(TokenOptConfigError):
        TokenCounter(encoding="p50k_base")
    with pytest.raises(TokenOptConfigError):
        TokenCounter(123)  # type: ignore[arg-type]
    # A lone surrogate is counted (as U+FFFD), not a crash.
    assert counter.count("bad \ud800 text") == counter.count("bad \ufffd text")
