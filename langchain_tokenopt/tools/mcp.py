"""MCP catalogs: the tools of MCP servers in the tool selector, one tool group per server.

Tools are loaded through ``langchain-mcp-adapters`` (extra ``mcp``). Each tool gets its
server's name as ``metadata["namespace"]``, which the selector reads as the tool's group
(:mod:`langchain_tokenopt.tools.catalog`): a confident pick of one server's tool can bring
that server's other tools along.

* :func:`load_mcp_catalog` lists the servers' tools once (``list[BaseTool]``, to pass to
  :meth:`ToolSelector.from_tools` or ``build_optimized_agent``).
* :class:`MCPToolCatalog` also keeps a :class:`~langchain_tokenopt.tools.ToolSelector` over
  them and rebuilds it when a server's tool list changes: on :meth:`~MCPToolCatalog.arefresh`,
  or, inside ``async with catalog.watch()``, on the server's
  ``notifications/tools/list_changed``.

Sessions: outside :meth:`~MCPToolCatalog.watch` every listing and every tool call opens a
session of its own (the adapters' default; for a ``stdio`` server that is a new process
per call). Inside it, one session per server stays open: the notifications arrive on it,
the lists are read on it and the tools loaded there run on it, so a stateful ``stdio``
server keeps its state. When the block ends the catalog is listed again the stateless way.

A selector is built once per catalog version and cannot change under a running graph:
``build_optimized_agent`` binds the selector and the tools it was given, so rebuild the
agent from :attr:`MCPToolCatalog.tools` / :attr:`MCPToolCatalog.selector` in ``on_change``
(cheap: tool embeddings are cached by content) or build it per request.

Example:
    .. code-block:: python

        from langchain_tokenopt.tools.mcp import MCPToolCatalog, load_mcp_catalog

        servers = {
            "weather": {"transport": "stdio", "command": "python", "args": ["weather.py"]},
            "crm": {"transport": "http", "url": "http://localhost:8000/mcp"},
        }
        tools = await load_mcp_catalog(servers)  # tool.metadata["namespace"] == server

        catalog = MCPToolCatalog(servers, on_change=lambda c: print(c.version, c.names))
        async with catalog.watch():  # refreshes on tools/list_changed
            selection = await catalog.selector.aselect("will it rain in Oslo?")
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.tools import BaseTool

from langchain_tokenopt.errors import (
    BackendUnavailableError,
    MissingDependencyError,
    TokenOptConfigError,
    ToolSelectionError,
)

if TYPE_CHECKING:
    from langchain_tokenopt.tools.selector import ToolSelector

logger = logging.getLogger(__name__)

__all__ = ["NAMESPACE_KEY", "MCPToolCatalog", "load_mcp_catalog"]

#: ``BaseTool.metadata`` key the selector reads a tool's group from.
NAMESPACE_KEY = "namespace"
#: Transports ``langchain-mcp-adapters`` accepts.
TRANSPORTS = frozenset({"stdio", "sse", "http", "streamable_http", "streamable-http", "websocket"})

SelectorFactory = Callable[[list[BaseTool]], "ToolSelector"]
"""Builds the selector over a catalog version (default: ``ToolSelector.from_tools``)."""
OnChange = Callable[["MCPToolCatalog"], Any]
"""Called (and awaited when it returns an awaitable) after the selector was rebuilt."""


def _adapters() -> Any:
    try:
        import langchain_mcp_adapters.client as client
    except ImportError as exc:
        raise MissingDependencyError("langchain-mcp-adapters", extra="mcp") from exc
    return client


def _check_connections(connections: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(connections, Mapping) or not connections:
        msg = (
            "connections must map server names to langchain-mcp-adapters connections, "
            f"got {connections!r}"
        )
        raise TokenOptConfigError(msg)
    checked: dict[str, dict[str, Any]] = {}
    for name, conn in connections.items():
        if not isinstance(name, str) or not name.strip():
            msg = f"MCP server names must be non-empty strings, got {name!r}"
            raise TokenOptConfigError(msg)
        if not isinstance(conn, Mapping) or conn.get("transport") not in TRANSPORTS:
            transport = conn.get("transport") if isinstance(conn, Mapping) else None
            msg = (
                f"connection of MCP server {name!r} needs a 'transport' in "
                f"{sorted(TRANSPORTS)}, got {transport!r}"
            )
            raise TokenOptConfigError(msg)
        checked[name] = dict(conn)
    return checked


def _tag(tools: Sequence[BaseTool], server: str) -> list[BaseTool]:
    """Put the server name in each tool's ``metadata["namespace"]`` (the selector's group)."""
    for tool in tools:
        tool.metadata = {**(tool.metadata or {}), NAMESPACE_KEY: server}
    return list(tools)


def _fingerprint(tools: Sequence[BaseTool]) -> tuple[str, ...]:
    """What the selector indexes of a server's tools: their OpenAI schemas, sorted."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    return tuple(
        sorted(json.dumps(convert_to_openai_tool(t), sort_keys=True, default=str) for t in tools)
    )


def _merge(by_server: Mapping[str, list[BaseTool]]) -> list[BaseTool]:
    """All servers' tools in server order; a name served twice is a configuration error."""
    seen: dict[str, str] = {}
    merged: list[BaseTool] = []
    for server, tools in by_server.items():
        for tool in tools:
            other = seen.setdefault(tool.name, server)
            if other != server:
                msg = (
                    f"tool {tool.name!r} is served by both MCP servers {other!r} and "
                    f"{server!r}: pass tool_name_prefix=True to name tools '<server>_<tool>'"
                )
                raise ToolSelectionError(msg)
            merged.append(tool)
    return merged


def _default_selector(tools: list[BaseTool]) -> ToolSelector:
    from langchain_tokenopt.tools.selector import ToolSelector

    return ToolSelector.from_tools(tools)


class MCPToolCatalog:
    """The tools of several MCP servers and a :class:`ToolSelector` kept up to date over them.

    Args:
        connections: ``{server name: connection}`` in ``langchain-mcp-adapters`` form
            (``{"transport": "stdio", "command": ..., "args": [...]}``,
            ``{"transport": "http", "url": ...}``, ...). The name becomes the group of the
            server's tools.
        tool_name_prefix: Name tools ``<server>_<tool>`` (needed when two servers serve a
            tool of the same name).
        selector_factory: Builds the selector over a catalog version (default:
            ``ToolSelector.from_tools(tools)``); runs in a worker thread.
        on_change: Called with the catalog after a refresh changed the tools (and rebuilt
            the selector); awaited when it returns an awaitable.
        handle_tool_errors: Passed to the adapters: a tool's MCP error comes back to the
            model as an error ``ToolMessage`` instead of raising.

    Raises:
        TokenOptConfigError: ``connections`` is empty or a connection has no known
            ``transport``.
        MissingDependencyError: ``langchain-mcp-adapters`` is not installed
            (``pip install "langchain-tokenopt[mcp]"``).

    Example:
        .. code-block:: python

            catalog = MCPToolCatalog({"weather": {"transport": "stdio", "command": "python",
                                                  "args": ["weather_server.py"]}})
            selector = await catalog.aload()
            selection = await selector.aselect("forecast for Oslo")
            async with catalog.watch():
                ...  # tools/list_changed from a server rebuilds catalog.selector
    """

    def __init__(
        self,
        connections: Mapping[str, Mapping[str, Any]],
        *,
        tool_name_prefix: bool = False,
        selector_factory: SelectorFactory | None = None,
        on_change: OnChange | None = None,
        handle_tool_errors: bool = True,
    ) -> None:
        self._client_mod = _adapters()
        self.connections = _check_connections(connections)
        for label, value in (
            ("tool_name_prefix", tool_name_prefix),
            ("handle_tool_errors", handle_tool_errors),
        ):
            if not isinstance(value, bool):
                msg = f"{label} must be a bool, got {value!r}"
                raise TokenOptConfigError(msg)
        for label, fn in (("selector_factory", selector_factory), ("on_change", on_change)):
            if fn is not None and not callable(fn):
                msg = f"{label} must be callable, got {type(fn).__name__}"
                raise TokenOptConfigError(msg)
        self.tool_name_prefix = tool_name_prefix
        self.handle_tool_errors = handle_tool_errors
        self._factory: SelectorFactory = selector_factory or _default_selector
        self._on_change = on_change
        self._by_server: dict[str, list[BaseTool]] = {}
        self._prints: dict[str, tuple[str, ...]] = {}
        self._selector: ToolSelector | None = None
        self._version = 0
        self._bound: dict[str, Any] = {}
        self._sessions: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    # -- state ---------------------------------------------------------------------------
    @property
    def servers(self) -> tuple[str, ...]:
        """The server names, in the order given."""
        return tuple(self.connections)

    @property
    def tools(self) -> list[BaseTool]:
        """Every server's tools (the latest listing), in server order."""
        return [t for server in self.connections for t in self._by_server.get(server, [])]

    @property
    def names(self) -> list[str]:
        """The names of :attr:`tools`."""
        return [t.name for t in self.tools]

    @property
    def selector(self) -> ToolSelector | None:
        """The selector over the current tools (``None`` before loading or without tools)."""
        return self._selector

    @property
    def version(self) -> int:
        """Incremented each time the tools changed and the selector was rebuilt."""
        return self._version

    @property
    def watching(self) -> bool:
        """Whether :meth:`watch` holds a session per server."""
        return bool(self._sessions)

    # -- loading -------------------------------------------------------------------------
    def _client(self, connections: Mapping[str, Any]) -> Any:
        return self._client_mod.MultiServerMCPClient(
            dict(connections),
            tool_name_prefix=self.tool_name_prefix,
            handle_tool_errors=self.handle_tool_errors,
        )

    async def _list(self, server: str) -> list[BaseTool]:
        """List one server's tools, on the watched session if there is one."""
        from langchain_mcp_adapters.tools import load_mcp_tools

        session = self._sessions.get(server)
        try:
            if session is not None:
                tools = await load_mcp_tools(
                    session,
                    server_name=server,
                    tool_name_prefix=self.tool_name_prefix,
                    handle_tool_errors=self.handle_tool_errors,
                )
            else:
                client = self._client({server: self.connections[server]})
                tools = await client.get_tools(server_name=server)
        except Exception as exc:
            msg = f"could not list the tools of MCP server {server!r}: {_describe(exc)}"
            raise BackendUnavailableError(msg) from exc
        return _tag(tools, server)

    async def alist(self) -> list[BaseTool]:
        """List every server's tools now (concurrently), without touching the selector.

        Raises:
            BackendUnavailableError: a server could not be reached or listed (named).
            ToolSelectionError: two servers serve a tool of the same name.
        """
        listed = await asyncio.gather(*(self._list(s) for s in self.connections))
        return _merge(dict(zip(self.connections, listed, strict=True)))

    async def aload(self) -> ToolSelector | None:
        """List every server and build the selector (``None`` when there are no tools).

        Raises:
            BackendUnavailableError: a server could not be reached or listed (named).
            ToolSelectionError: two servers serve a tool of the same name.
        """
        await self.arefresh(fail_open=False)
        return self._selector

    async def arefresh(self, server: str | None = None, *, fail_open: bool = True) -> bool:
        """List the tools again; rebuild the selector if they changed.

        They changed when a server's tools differ in name, description or schema, or when
        they now run on another session (entering or leaving :meth:`watch`); then the
        selector is rebuilt, :attr:`version` goes up and ``on_change`` is called.

        Args:
            server: Only this server (what a ``tools/list_changed`` from it calls);
                default: every server.
            fail_open: Log a server that cannot be listed and keep its previous tools
                (default), instead of raising.

        Returns:
            Whether the tools changed (and the selector was rebuilt).

        Raises:
            TokenOptConfigError: ``server`` is not one of :attr:`servers`.
            BackendUnavailableError: with ``fail_open=False``, a server could not be listed.
            ToolSelectionError: two servers now serve a tool of the same name (nothing
                changes).
        """
        if server is not None and server not in self.connections:
            msg = f"unknown MCP server {server!r}; known: {list(self.connections)}"
            raise TokenOptConfigError(msg)
        names = [server] if server is not None else list(self.connections)
        async with self._lock:
            results = await asyncio.gather(*(self._list(s) for s in names), return_exceptions=True)
            by_server, prints, bound = dict(self._by_server), dict(self._prints), dict(self._bound)
            changed = self._version == 0
            for name, result in zip(names, results, strict=True):
                if isinstance(result, BaseException):
                    if not fail_open or not isinstance(result, Exception):
                        raise result
                    logger.warning("tokenopt MCP: %s; keeping its previous tools", result)
                    continue
                fingerprint, session = _fingerprint(result), self._sessions.get(name)
                if name in by_server and prints[name] == fingerprint and bound[name] is session:
                    continue  # same tools on the same session: keep the objects bound
                by_server[name], prints[name], bound[name] = result, fingerprint, session
                changed = True
            if not changed:
                return False
            tools = _merge({s: by_server[s] for s in self.connections if s in by_server})
            selector = await asyncio.to_thread(self._factory, tools) if tools else None
            self._by_server, self._prints, self._bound = by_server, prints, bound
            self._selector = selector
            self._version += 1
            version = self._version
        if version > 1:
            await self._notify()
        return True

    async def _notify(self) -> None:
        try:
            result = self._on_change(self) if self._on_change is not None else None
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # never break the session loop on a user callback
            logger.warning("tokenopt MCP: on_change failed (%s: %s)", type(exc).__name__, exc)

    # -- notifications -------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def watch(self) -> AsyncIterator[MCPToolCatalog]:
        """Hold one session per server and refresh on ``notifications/tools/list_changed``.

        Inside the block the tools run on these sessions. When it ends (an exception from
        the block comes out as raised), the sessions close and the catalog is listed again
        with a session per call.

        Raises:
            BackendUnavailableError: a server could not be reached or listed (named).
            TokenOptConfigError: the catalog is already being watched.
        """
        from mcp import types

        if self._sessions:
            msg = "this MCPToolCatalog is already being watched"
            raise TokenOptConfigError(msg)
        changed = {name: asyncio.Event() for name in self.connections}

        def handler_for(name: str) -> Callable[[Any], Any]:
            async def handle(message: Any) -> None:
                if isinstance(message, types.ServerNotification) and isinstance(
                    message.root, types.ToolListChangedNotification
                ):
                    changed[name].set()  # listing here would deadlock the receive loop

            return handle

        watched = {}
        for name, conn in self.connections.items():
            kwargs = dict(conn.get("session_kwargs") or {})
            kwargs["message_handler"] = handler_for(name)
            watched[name] = {**conn, "session_kwargs": kwargs}
        client = self._client(watched)

        async def follow(name: str) -> None:
            while True:
                await changed[name].wait()
                changed[name].clear()
                try:
                    await self.arefresh(name)
                except Exception as exc:  # keep following; the previous tools stay
                    logger.warning("tokenopt MCP: refresh of %r failed (%s)", name, exc)

        tasks: list[asyncio.Task[None]] = []
        bound = False
        error: Exception | None = None
        try:
            async with contextlib.AsyncExitStack() as stack:
                for name in self.connections:
                    try:
                        session = await stack.enter_async_context(client.session(name))
                    except Exception as exc:
                        msg = f"could not connect to MCP server {name!r}: {_describe(exc)}"
                        raise BackendUnavailableError(msg) from exc
                    self._sessions[name] = session
                await self.arefresh(fail_open=False)
                bound = True
                tasks = [asyncio.create_task(follow(name)) for name in self.connections]
                try:
                    yield self
                except Exception as exc:  # raised below as is, not wrapped by the SDK's
                    error = exc  # task groups in an ExceptionGroup
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    self._sessions.clear()
        finally:
            self._sessions.clear()
            if bound:  # the tools listed on the closed sessions cannot run any more
                try:
                    await self.arefresh()
                except Exception as exc:
                    logger.warning("tokenopt MCP: relisting after watch failed (%s)", exc)
        if error is not None:
            raise error


async def load_mcp_catalog(
    connections: Mapping[str, Mapping[str, Any]],
    *,
    tool_name_prefix: bool = False,
    handle_tool_errors: bool = True,
) -> list[BaseTool]:
    """List the tools of MCP servers, each tagged with its server as the tool group.

    Args:
        connections: ``{server name: connection}`` in ``langchain-mcp-adapters`` form.
        tool_name_prefix: Name tools ``<server>_<tool>``.
        handle_tool_errors: A tool's MCP error comes back as an error ``ToolMessage``.

    Returns:
        The tools (each call opens its own session), ``metadata["namespace"]`` = server.

    Raises:
        TokenOptConfigError: a connection is malformed.
        BackendUnavailableError: a server could not be reached or listed (named).
        ToolSelectionError: two servers serve a tool of the same name.
        MissingDependencyError: ``langchain-mcp-adapters`` is not installed.

    Example:
        .. code-block:: python

            tools = await load_mcp_catalog(
                {"weather": {"transport": "stdio", "command": "python", "args": ["w.py"]}}
            )
            selector = ToolSelector.from_tools(tools)
    """
    catalog = MCPToolCatalog(
        connections, tool_name_prefix=tool_name_prefix, handle_tool_errors=handle_tool_errors
    )
    return await catalog.alist()


def _describe(exc: BaseException) -> str:
    """One line for an error, unwrapping the exception groups anyio raises."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split()) or "no message"
    return f"{type(exc).__name__}: {text}"
