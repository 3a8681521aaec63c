from __future__ import annotations

import json
import re
import time

import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_tokenopt.compression import CompressionResult, QueryAwareCompressor
from langchain_tokenopt.compression.segmentation import segment
from langchain_tokenopt.errors import CompressionError, TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter

QUESTION = "When was the Eiffel Tower completed?"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
URL = re.compile(r"https://\S+")


@pytest.mark.parametrize("budget", [20, 45, 90, 160, 300])
def test_budget_never_exceeded_real_tokenizer(documents: list[Document], budget: int) -> None:
    counter = TokenCounter("gpt-4o")
    result = QueryAwareCompressor(target_tokens=budget, model="gpt-4o").invoke(
        {"context": documents, "question": QUESTION}
    )
    assert isinstance(result, CompressionResult)
    assert result.tokens_after == counter.count(result.text) <= budget
    assert result.tokens_before == counter.count("\n\n".join(d.page_content for d in documents))
    assert result.method == "query_aware"
    assert result.ratio == pytest.approx(result.tokens_before / result.tokens_after)


def test_gold_sentence_ranked_first_and_order_preserved(documents: list[Document]) -> None:
    result = QueryAwareCompressor(target_tokens=60).invoke(
        {"context": documents, "question": QUESTION}
    )
    assert "completed in 1889" in result.text
    # kept items appear in their original reading order
    full = "\n\n".join(d.page_content for d in documents)
    seg = segment([full])
    positions = [full.index(item.text) for item in seg.items if item.text in result.text]
    assert positions == sorted(positions)


def test_protected_spans_survive_byte_for_byte(documents: list[Document]) -> None:
    source = "\n\n".join(d.page_content for d in documents)
    result = QueryAwareCompressor(target_tokens=300).invoke(
        {
            "context": documents,
            "question": "Which report lists key facts, and what is the record id?",
        }
    )
    out_ids = UUID.findall(result.text)
    out_urls = URL.findall(result.text)
    assert out_ids and out_urls
    assert set(out_ids) <= set(UUID.findall(source))
    assert set(out_urls) <= set(URL.findall(source))
    # every kept sentence is an exact sentence of the input
    input_sentences = {i.text for i in segment([d.page_content for d in documents]).items}
    for doc in result.documents:
        for sentence in segment([doc.page_content]).items:
            assert sentence.text in input_sentences


def test_document_metadata_kept_by_identity(documents: list[Document]) -> None:
    result = QueryAwareCompressor(target_tokens=80).invoke(
        {"context": documents, "question": QUESTION}
    )
    by_id = {id(d.metadata): d for d in documents}
    assert result.documents
    for doc in result.documents:
        assert id(doc.metadata) in by_id
        assert doc.page_content in by_id[id(doc.metadata)].page_content or all(
            s.text in by_id[id(doc.metadata)].page_content
            for s in segment([doc.page_content]).items
        )
    assert any(d.metadata.get("gold") for d in result.documents)


def test_deterministic(documents: list[Document]) -> None:
    compressor = QueryAwareCompressor(target_tokens=70)
    first = compressor.invoke({"context": documents, "question": QUESTION})
    second = QueryAwareCompressor(target_tokens=70).invoke(
        {"context": documents, "question": QUESTION}
    )
    assert first.text == second.text
    assert [d.index for d in first.dropped_items] == [d.index for d in second.dropped_items]


def test_under_budget_returned_unchanged(documents: list[Document]) -> None:
    result = QueryAwareCompressor(target_tokens=10_000).invoke(
        {"context": documents, "question": QUESTION}
    )
    assert result.method == "unchanged" and result.ratio == 1.0
    assert result.documents == documents
    assert all(a is b for a, b in zip(result.documents, documents, strict=True))
    tiny = QueryAwareCompressor(target_tokens=5).invoke("Hi there.")
    assert tiny.text == "Hi there." and tiny.method == "unchanged"


def test_plain_string_and_list_of_strings(documents: list[Document]) -> None:
    text = "\n\n".join(d.page_content for d in documents)
    result = QueryAwareCompressor(target_tokens=100).invoke(text)
    assert 0 < result.tokens_after <= 100 and result.question == ""
    listed = QueryAwareCompressor(target_tokens=100).invoke(
        {"context": [d.page_content for d in documents], "question": QUESTION}
    )
    assert "1889" in listed.text and listed.tokens_after <= 100


def test_kv_json_value_kept_and_parses(kv_json: tuple[str, str, str]) -> None:
    text, key, value = kv_json
    counter = TokenCounter()
    for rate in (2, 4, 20):
        budget = counter.count(text) // rate
        result = QueryAwareCompressor(target_tokens=budget).invoke(
            {"context": text, "question": f'Key: "{key}"\nCorresponding value:'}
        )
        parsed = json.loads(result.text)
        assert parsed[key] == value
        assert result.tokens_after <= budget
        assert all(f'"{k}": "{v}"' in text for k, v in parsed.items())


def test_few_shot_demonstrations_kept_whole(few_shot: str) -> None:
    demos = few_shot.strip().split("\n\n")
    budget = TokenCounter().count(few_shot) // 3
    result = QueryAwareCompressor(target_tokens=budget).invoke(
        {"context": few_shot, "question": "Sara has 4 apples and buys 9 more. How many?"}
    )
    kept = result.text.split("\n\n")
    assert 1 <= len(kept) < len(demos)
    assert all(block in demos for block in kept)


def test_code_fence_kept_whole_or_dropped() -> None:
    fence = "```python\ndef refund(order_id: str) -> float:\n    return 42.0\n```"
    filler = " ".join(f"Sentence {i} talks about weather and rain." for i in range(30))
    text = f"{filler}\n\nHow refunds are computed:\n\n{fence}\n\n{filler}"
    result = QueryAwareCompressor(target_tokens=60).invoke(
        {"context": text, "question": "How is the refund computed in def refund?"}
    )
    assert fence in result.text


def test_messages_input_keeps_instruction_question_and_structure() -> None:
    long_tool = " ".join(
        f"Row {i}: the weather in city {i} is sunny with {i % 30} degrees." for i in range(80)
    )
    long_tool += " The weather in Paris is rainy with 12 degrees."
    messages = [
        SystemMessage("You are a weather assistant."),
        HumanMessage("What is the weather in Paris?", id="h1"),
        AIMessage("", tool_calls=[{"name": "weather", "args": {"city": "all"}, "id": "c1"}]),
        ToolMessage(long_tool, tool_call_id="c1", id="t1"),
        HumanMessage("And in Paris specifically, how many degrees?", id="h2"),
    ]
    result = QueryAwareCompressor(target_tokens=80).invoke(messages)
    assert result.messages is not None and len(result.messages) == len(messages)
    assert result.messages[0] is messages[0] and result.messages[4] is messages[4]
    tool = result.messages[3]
    assert isinstance(tool, ToolMessage) and tool.tool_call_id == "c1" and tool.id == "t1"
    assert "Paris is rainy with 12 degrees" in tool.content
    assert result.tokens_after <= 80
    assert result.messages[2].tool_calls == messages[2].tool_calls
    assert result.question == "And in Paris specifically, how many degrees?"


def test_bad_input_defined_behaviour() -> None:
    compressor = QueryAwareCompressor(target_tokens=10)
    empty = compressor.invoke("")
    assert empty.text == "" and empty.tokens_before == 0 and empty.method == "unchanged"
    assert compressor.invoke({"context": [], "question": "x"}).text == ""
    with pytest.raises(CompressionError):
        compressor.invoke(None)
    with pytest.raises(CompressionError):
        compressor.invoke({"question": "no context"})
    with pytest.raises(CompressionError):
        compressor.invoke({"context": [object()], "question": "q"})
    data = compressor.invoke({"context": [{"a": 1}, b"bytes ok"], "question": "a"})
    assert data.method == "unchanged" and '"a": 1' in data.text and "bytes ok" in data.text
    with pytest.raises(TokenOptConfigError):
        QueryAwareCompressor(target_tokens=0)
    with pytest.raises(TokenOptConfigError):
        QueryAwareCompressor(target_tokens=0.5)  # type: ignore[arg-type]


def test_huge_input_bounded_time() -> None:
    paragraph = " ".join(
        f"Line {i} of the log says the service answered request {i} in {i % 97} ms."
        for i in range(50)
    )
    text = "\n\n".join(paragraph for _ in range(10 * 1024 * 1024 // len(paragraph)))
    text += "\n\nThe secret launch code is 7731-ALPHA."
    assert len(text) >= 10 * 1024 * 1024
    started = time.perf_counter()
    result = QueryAwareCompressor(target_tokens=200).invoke(
        {"context": text, "question": "What is the secret launch code?"}
    )
    elapsed = time.perf_counter() - started
    assert result.tokens_after <= 200
    assert "7731-ALPHA" in result.text
    assert elapsed < 90


async def test_async_and_batch_match_sync(documents: list[Document]) -> None:
    compressor = QueryAwareCompressor(target_tokens=70)
    payload = {"context": documents, "question": QUESTION}
    sync = compressor.invoke(payload)
    assert (await compressor.ainvoke(payload)).text == sync.text
    assert [r.text for r in compressor.batch([payload, payload])] == [sync.text, sync.text]
    chain = compressor | (lambda r: r.text)
    assert chain.invoke(payload) == sync.text
