"""A tiny MCP server over stdio for the MCP catalog tests (``python mcp_server.py weather``).

``weather`` serves three tools; calling ``enable_alerts`` adds a fourth, ``weather_alerts``,
and sends ``notifications/tools/list_changed`` to the client that called it. ``shop`` serves
three unrelated tools, and ``clash`` serves a ``get_weather`` of its own (a name clash).
State lives in this process: a new process starts with the base tools again.
"""

from __future__ import annotations

import sys

from mcp.server.fastmcp import Context, FastMCP


def weather_server() -> FastMCP:
    server = FastMCP("weather")

    @server.tool()
    def get_weather(city: str) -> str:
        """Return the current weather conditions for a city."""
        return f"Sunny, 21 C in {city}."

    @server.tool()
    def get_forecast(city: str, days: int = 3) -> str:
        """Return the weather forecast for a city for the next few days."""
        return f"{days} days of sun in {city}."

    def weather_alerts(city: str) -> str:
        """Return active storm, flood and heat warnings for a city."""
        return f"No storm warnings for {city}."

    @server.tool()
    async def enable_alerts(ctx: Context) -> str:
        """Turn on severe-weather alerts (adds the weather_alerts tool)."""
        if "weather_alerts" not in {t.name for t in await server.list_tools()}:
            server.add_tool(weather_alerts)
            await ctx.session.send_tool_list_changed()
        return "Alerts enabled."

    return server


def shop_server() -> FastMCP:
    server = FastMCP("shop")

    @server.tool()
    def track_parcel(tracking_number: str) -> str:
        """Track a parcel by its carrier tracking number."""
        return f"Parcel {tracking_number} is in transit."

    @server.tool()
    def store_hours(city: str) -> str:
        """Return the opening hours of the shop's store in a city."""
        return f"The {city} store opens 9:00-18:00."

    @server.tool()
    def return_item(order_id: str) -> str:
        """Start the return of an item from an order."""
        return f"Return started for {order_id}."

    return server


def clash_server() -> FastMCP:
    server = FastMCP("clash")

    @server.tool()
    def get_weather(city: str) -> str:
        """Another server's weather tool with the same name."""
        return f"Cloudy in {city}."

    return server


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "weather"
    servers = {"weather": weather_server, "shop": shop_server, "clash": clash_server}
    servers[kind]().run("stdio")
