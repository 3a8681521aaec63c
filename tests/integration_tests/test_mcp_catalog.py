"""MCP catalogs against real MCP servers: the ``mcp`` SDK's FastMCP over stdio, started as
subprocesses by ``langchain-mcp-adapters`` (``tests/integration_tests/mcp_server.py``)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from langchain_tokenopt.errors import (
    BackendUnavailableError,
    MissingDependencyError,
    TokenOptConfigError,
    ToolSelectionError,
)
from langchain_tokenopt.tools import MCPToolCatalog, ToolSelector, load_mcp_catalog

pytestmark = pytest.mark.timeout(180)

SERVER = str(Path(__file__).with_name("mcp_server.py"))
WEATHER = {"get_weather", "get_forecast", "enable_alerts"}
SHOP = {"track_parcel", "store_hours", "return_item"}


def stdio(kind: str) -> dict[str, Any]:
    return {"transport": "stdio", "command": sys.executable, "args": [SERVER, kind]}


SERVERS = {"weather": stdio("weather"), "shop": stdio("shop")}


async def test_load_tags_each_tool_with_its_server_and_the_tools_run() -> None:
    tools = await load_mcp_catalog(SERVERS)
    by_name = {t.name: t for t in tools}
    assert set(by_name) == WEATHER | SHOP
    assert {n for n, t in by_name.items() if t.metadata["namespace"] == "weather"} == WEATHER
    assert {n for n, t in by_name.items() if t.metadata["namespace"] == "shop"} == SHOP
    # a real call through the adapters (its own stdio session)
    result = await by_name["get_weather"].ainvoke({"city": "Oslo"})
    assert "Sunny, 21 C in Oslo." in str(result)

    selector = ToolSelector.from_tools(tools, k=1)
    groups = {spec.name: spec.namespace for spec in selector.retriever.specs}
    assert groups == {n: ("weather" if n in WEATHER else "shop") for n in WEATHER | SHOP}
    selection = await selector.aselect([HumanMessage("Where is my parcel 1Z999? Track it.")])
    # k=1 picks track_parcel; its server's other tools come along as its group
    assert selection.names[:2] == ["find_tools", "track_parcel"]  # find_tools comes first
    assert set(selection.names) == SHOP | {"find_tools"}


async def test_same_tool_name_on_two_servers() -> None:
    clash = {"weather": stdio("weather"), "other": stdio("clash")}
    with pytest.raises(ToolSelectionError, match="tool_name_prefix=True"):
        await load_mcp_catalog(clash)
    tools = await load_mcp_catalog(clash, tool_name_prefix=True)
    names = {t.name: t.metadata["namespace"] for t in tools}
    assert names["weather_get_weather"] == "weather" and names["other_get_weather"] == "other"


async def test_list_changed_rebuilds_the_selector_while_watching() -> None:
    seen: list[tuple[int, list[str]]] = []
    rebuilt = asyncio.Event()

    async def on_change(catalog: MCPToolCatalog) -> None:
        seen.append((catalog.version, catalog.names))
        if "weather_alerts" in catalog.names:
            rebuilt.set()

    catalog = MCPToolCatalog(SERVERS, on_change=on_change)
    first = await catalog.aload()
    assert first is not None and catalog.version == 1 and seen == []
    assert not await catalog.arefresh()  # nothing changed: same selector, no callback
    assert catalog.selector is first and catalog.version == 1

    async with catalog.watch():
        assert catalog.watching
        # the tools now run on the watched sessions: a rebuild, reported once
        assert catalog.version == 2 and catalog.selector is not first
        tools = {t.name: t for t in catalog.tools}
        # the server adds a tool and notifies the session the call came in on
        assert "Alerts enabled." in str(await tools["enable_alerts"].ainvoke({}))
        await asyncio.wait_for(rebuilt.wait(), timeout=30)
        assert catalog.version == 3
        alerts = next(t for t in catalog.tools if t.name == "weather_alerts")
        assert alerts.metadata["namespace"] == "weather"
        selector = catalog.selector
        assert selector is not None
        assert "weather_alerts" in {s.name for s in selector.retriever.specs}
        selection = await selector.aselect([HumanMessage("Are there storm warnings for Oslo?")])
        assert "weather_alerts" in selection.names
        # the new tool runs on the same server process
        assert "No storm warnings for Oslo." in str(await alerts.ainvoke({"city": "Oslo"}))

    # listed again statelessly: a fresh stdio process has only its base tools
    assert not catalog.watching
    assert set(catalog.names) == WEATHER | SHOP
    assert [v for v, _ in seen] == [2, 3, 4]
    result = await next(t for t in catalog.tools if t.name == "store_hours").ainvoke(
        {"city": "Oslo"}
    )
    assert "The Oslo store opens" in str(result)


async def test_an_error_inside_watch_still_leaves_runnable_tools() -> None:
    catalog = MCPToolCatalog({"shop": stdio("shop")})
    with pytest.raises(RuntimeError, match="app crashed"):
        async with catalog.watch():
            watched = catalog.tools
            raise RuntimeError("app crashed")
    assert not catalog.watching and catalog.version == 2
    assert catalog.tools[0] is not watched[0]  # listed again, one session per call
    hours = next(t for t in catalog.tools if t.name == "store_hours")
    assert "The Oslo store opens" in str(await hours.ainvoke({"city": "Oslo"}))


async def test_a_server_that_cannot_start_is_named() -> None:
    broken = {
        "weather": stdio("weather"),
        "ghost": {"transport": "stdio", "command": sys.executable, "args": ["-c", "pass"]},
    }
    with pytest.raises(BackendUnavailableError, match="'ghost'"):
        await load_mcp_catalog(broken)
    # a refresh fails open: the server's previous tools stay
    catalog = MCPToolCatalog(SERVERS)
    await catalog.aload()
    catalog.connections["shop"] = broken["ghost"]
    assert not await catalog.arefresh()
    assert set(catalog.names) == WEATHER | SHOP
    with pytest.raises(BackendUnavailableError, match="'shop'"):
        await catalog.arefresh("shop", fail_open=False)


def test_configuration_is_checked_up_front(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TokenOptConfigError, match="transport"):
        MCPToolCatalog({"weather": {"command": "python"}})
    with pytest.raises(TokenOptConfigError, match="connections"):
        MCPToolCatalog({})
    with pytest.raises(TokenOptConfigError, match="unknown MCP server"):
        asyncio.run(MCPToolCatalog(SERVERS).arefresh("nope"))
    monkeypatch.setitem(sys.modules, "langchain_mcp_adapters.client", None)
    with pytest.raises(MissingDependencyError, match=r"langchain-tokenopt\[mcp\]"):
        MCPToolCatalog(SERVERS)


WITHOUT_MCP = """
import sys

sys.modules["mcp"] = sys.modules["langchain_mcp_adapters"] = None
from langchain_tokenopt.errors import MissingDependencyError
from langchain_tokenopt.tools import MCPToolCatalog, ToolSelector

try:
    MCPToolCatalog({"s": {"transport": "stdio", "command": "x", "args": []}})
except MissingDependencyError as exc:
    print(exc.extra)
"""


def test_tools_import_works_without_the_mcp_extra() -> None:
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_MCP], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "mcp"
