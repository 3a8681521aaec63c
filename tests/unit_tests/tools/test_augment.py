"""Generated example queries with the real local SmolLM2 (no mocks, no network)."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableLambda

from langchain_tokenopt.errors import TokenOptConfigError, ToolSelectionError
from langchain_tokenopt.llms import LocalChatModel
from langchain_tokenopt.tools import ToolRetriever
from langchain_tokenopt.tools.augment import (
    agenerate_example_queries,
    generate_example_queries,
    parse_queries,
)

from .conftest import get_weather, make_catalog, search_flights, send_email

pytestmark = [pytest.mark.requires_lm, pytest.mark.timeout(300)]

# The catalog's OpenAI-format tool (conftest), so its schema is written once.
CONVERT = next(
    t
    for t in make_catalog()
    if isinstance(t, dict) and t.get("function", {}).get("name") == "convert_currency"
)


class CountingModel:
    """The real SmolLM2 chat model behind a ``RunnableLambda`` that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        lock = threading.Lock()  # ``batch`` runs the lambda in a thread pool
        model = LocalChatModel(dtype="bfloat16", max_new_tokens=48)

        def call(messages: list[BaseMessage]) -> Any:
            with lock:
                self.calls += 1
            return model.invoke(messages)

        self.runnable = RunnableLambda(call)


def _check(result: dict[str, list[str]], names: list[str], per_tool: int) -> None:
    assert list(result) == names
    for name, queries in result.items():
        assert queries, f"no question generated for {name}"
        assert len(queries) <= per_tool
        assert len({q.lower() for q in queries}) == len(queries)
        assert all(len(q.split()) >= 3 for q in queries)


def test_default_writer_returns_distinct_questions(tmp_path: Path) -> None:
    tools = [get_weather, send_email, CONVERT]
    result = generate_example_queries(tools, cache_path=tmp_path / "ex.json", progress=False)
    _check(result, ["get_weather", "send_email", "convert_currency"], per_tool=2)
    # greedy decoding: a second run of the writer (no cache, same batches) repeats itself
    again = generate_example_queries(tools, progress=False)
    assert again == result
    # the questions plug into the retriever as example queries
    retriever = ToolRetriever(tools=tools, examples=result, cache_dir=tmp_path / "vec")
    assert retriever.get("send_email").examples == tuple(result["send_email"])


def test_cache_is_reused_and_only_changed_tools_regenerate(tmp_path: Path) -> None:
    model = CountingModel()
    path = tmp_path / "examples.json"
    first = generate_example_queries(
        [get_weather, search_flights], llm=model.runnable, cache_path=path, progress=False
    )
    assert model.calls == 2
    _check(first, ["get_weather", "search_flights"], per_tool=2)
    second = generate_example_queries(
        [get_weather, search_flights], llm=model.runnable, cache_path=path, progress=False
    )
    assert model.calls == 2  # nothing regenerated
    assert second == first
    changed = {
        "name": "get_weather",
        "description": "Get tomorrow's weather forecast for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    third = generate_example_queries(
        [changed, search_flights], llm=model.runnable, cache_path=path, progress=False
    )
    assert model.calls == 3  # only the changed schema
    assert third["search_flights"] == first["search_flights"]
    assert third["get_weather"]


def test_async_variant_writes_the_same_cache(tmp_path: Path) -> None:
    model = CountingModel()
    path = tmp_path / "examples.json"
    coro = agenerate_example_queries(
        [get_weather], llm=model.runnable, cache_path=path, progress=False
    )
    first = asyncio.run(coro)
    assert model.calls == 1
    _check(first, ["get_weather"], per_tool=2)
    again = generate_example_queries(
        [get_weather], llm=model.runnable, cache_path=path, progress=False
    )
    assert model.calls == 1 and again == first  # the sync call reads what the async one wrote


def test_corrupt_cache_file_regenerates_with_a_warning(tmp_path: Path) -> None:
    model = CountingModel()
    path = tmp_path / "examples.json"
    path.write_text('{"format": 1, "entries": {"abc": [1, 2', encoding="utf-8")
    with pytest.warns(RuntimeWarning, match="unreadable"):
        result = generate_example_queries(
            [CONVERT], llm=model.runnable, cache_path=path, progress=False, per_tool=1
        )
    assert model.calls == 1
    _check(result, ["convert_currency"], per_tool=1)
    stored = json.loads(path.read_text("utf-8"))  # rewritten as a valid file
    assert list(stored["entries"].values()) == [result["convert_currency"]]


def test_parse_queries_strips_marks_and_drops_repeats() -> None:
    reply = (
        "1. What's the weather in Paris?\n"
        "2) what's the weather in  paris?\n"
        "- Hi\n"
        '* "Will it rain in Oslo tomorrow?"\n'
        "3. Get the current weather for a city.\n"
        "4. Is it windy in Lima now?"
    )
    got = parse_queries(reply, limit=3, exclude=["Get the current weather for a city."])
    assert got == [
        "What's the weather in Paris?",
        "Will it rain in Oslo tomorrow?",
        "Is it windy in Lima now?",
    ]
    assert parse_queries(reply, limit=1) == ["What's the weather in Paris?"]


def test_bad_configuration_raises_before_any_generation() -> None:
    with pytest.raises(TokenOptConfigError, match="per_tool"):
        generate_example_queries([get_weather], per_tool=0)
    with pytest.raises(TokenOptConfigError, match="batch_size"):
        generate_example_queries([get_weather], batch_size=0)
    with pytest.raises(ToolSelectionError, match="empty"):
        generate_example_queries([])


def test_cli_writes_examples_and_rejects_bad_input(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from langchain_tokenopt.cli import app

    catalog = tmp_path / "tools.json"
    catalog.write_text(json.dumps([CONVERT]), encoding="utf-8")
    out = tmp_path / "examples.json"
    cache = ["--cache", str(tmp_path / "cache.json")]
    runner = CliRunner()
    args = ["tool-examples", str(catalog), "--out", str(out), "--per-tool", "1", *cache]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    _check(json.loads(out.read_text("utf-8")), ["convert_currency"], per_tool=1)
    not_a_list = tmp_path / "bad.json"
    not_a_list.write_text('{"name": "x"}', encoding="utf-8")
    result = runner.invoke(app, ["tool-examples", str(not_a_list), "--out", str(out), *cache])
    assert result.exit_code == 2 and "JSON list" in result.output
    args = ["tool-examples", str(catalog), "--out", str(out), "--per-tool", "0", *cache]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "per_tool" in result.output
