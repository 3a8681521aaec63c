from __future__ import annotations

from typing import Any

import pytest

from langchain_tokenopt.errors import ToolSelectionError
from langchain_tokenopt.tools.catalog import build_catalog, name_words, tokenize
from langchain_tokenopt.tools.names import NameMatcher


def test_all_three_formats_are_normalized(catalog: list[Any]) -> None:
    specs = build_catalog(catalog)
    by_name = {s.name: s for s in specs}
    assert len(specs) == len(catalog)
    assert by_name["get_weather"].parameters[0][0] == "city"
    assert by_name["get_weather"].source is catalog[0]
    assert [p for p, _ in by_name["convert_currency"].parameters] == [
        "amount",
        "from_currency",
        "to_currency",
    ]
    assert by_name["convert_currency"].parameters[0][1] == "Amount to convert"
    assert by_name["translate_text"].schema["type"] == "function"
    assert by_name["hotels.book_room"].namespace == "hotels"
    assert by_name["get_weather"].namespace is None


def test_empty_catalog_is_an_error() -> None:
    with pytest.raises(ToolSelectionError, match="empty"):
        build_catalog([])


def test_duplicate_names_error_or_resolved(catalog: list[Any]) -> None:
    dup = {"name": "set_alarm", "description": "Another alarm tool", "parameters": {}}
    with pytest.raises(ToolSelectionError, match="duplicate tool name 'set_alarm'"):
        build_catalog([*catalog, dup])
    first = {s.name: s for s in build_catalog([*catalog, dup], on_duplicate="first")}
    last = {s.name: s for s in build_catalog([*catalog, dup], on_duplicate="last")}
    assert first["set_alarm"].description.startswith("Set an alarm")
    assert last["set_alarm"].description == "Another alarm tool"
    with pytest.raises(ToolSelectionError, match="on_duplicate"):
        build_catalog(catalog, on_duplicate="merge")  # type: ignore[arg-type]


def test_missing_description_is_allowed() -> None:
    specs = build_catalog([{"name": "ping_host", "parameters": {"type": "object"}}])
    assert specs[0].description == ""


@pytest.mark.parametrize(
    "bad",
    [None, "get_weather", 42, {"description": "no name"}, {"name": "", "description": "x"}],
)
def test_bad_tools_are_rejected(bad: Any) -> None:
    with pytest.raises(ToolSelectionError):
        build_catalog([bad])


def test_examples_attach_and_validate(catalog: list[Any]) -> None:
    specs = build_catalog(catalog, examples={"play_music": ["put on some jazz"]})
    assert {s.name: s for s in specs}["play_music"].examples == ("put on some jazz",)
    with pytest.raises(ToolSelectionError, match="unknown tools"):
        build_catalog(catalog, examples={"nope": ["x"]})
    with_meta = {"name": "a_tool", "description": "d", "examples": ["one", 2]}
    with pytest.raises(ToolSelectionError, match="examples must be strings"):
        build_catalog([with_meta])


def test_name_words_and_tokenize() -> None:
    assert name_words("ChaDri.change_drink") == ["cha", "dri", "change", "drink"]
    assert name_words("getHTTPResponse") == ["get", "http", "response"]
    assert tokenize("What are the flights to Paris?") == ["flight", "paris"]


def test_name_matcher_strong_weak_and_typos() -> None:
    m = NameMatcher(["get_weather", "ChaDri.change_drink", "FinanceTool", "search"])
    assert m.find_with_strength("use get_weather now") == [("get_weather", True)]
    assert m.find_with_strength("call getWeather()") == [("get_weather", True)]
    assert m.find_with_strength("run get_wether please") == [("get_weather", True)]
    assert m.find_with_strength("get weather in Oslo") == [("get_weather", False)]
    assert m.find("please change_drink") == ["ChaDri.change_drink"]
    assert m.find("finance tool") == ["FinanceTool"]
    # an ordinary word that happens to be a one-word tool name forces nothing
    assert m.find("search the web for cats") == []
    assert m.find("nothing relevant here") == []
