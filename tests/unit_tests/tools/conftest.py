"""Small real tool catalogs shared by the tool-selection tests (no datasets loaded)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import tool

from langchain_tokenopt.tools import ToolRetriever


@tool
def get_weather(city: str) -> str:
    """Get the current weather forecast (temperature, rain, wind) for a city."""
    return f"sunny in {city}"


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email message to a recipient with a subject and body."""
    return "sent"


@tool
def search_flights(origin: str, destination: str, date: str) -> str:
    """Search airline flights between two airports on a date."""
    return "flights"


@tool
def zx_qlm_handler(payload: str) -> str:
    """Handles stuff."""
    return payload


def make_catalog() -> list[Any]:
    """A dozen tools in the three accepted formats (BaseTool, OpenAI dict, JSON schema)."""
    return [
        get_weather,
        send_email,
        search_flights,
        zx_qlm_handler,
        {
            "type": "function",
            "function": {
                "name": "convert_currency",
                "description": "Convert an amount of money from one currency to another.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "amount": {"type": "number", "description": "Amount to convert"},
                        "from_currency": {"type": "string", "description": "ISO code, e.g. USD"},
                        "to_currency": {"type": "string", "description": "ISO code, e.g. EUR"},
                    },
                },
            },
        },
        {
            "name": "hotels.book_room",
            "description": "Book a hotel room in a city for given check-in and check-out dates.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "check_in": {"type": "string", "description": "Check-in date"},
                },
            },
        },
        {
            "name": "hotels.cancel_booking",
            "description": "Cancel an existing hotel reservation by its booking id.",
            "parameters": {"type": "object", "properties": {"booking_id": {"type": "string"}}},
        },
        {
            "title": "translate_text",
            "description": "Translate a text into another language.",
            "type": "object",
            "properties": {"text": {"type": "string"}, "target_language": {"type": "string"}},
        },
        {
            "name": "get_stock_price",
            "description": "Get the latest stock market price for a ticker symbol.",
            "parameters": {"type": "object", "properties": {"ticker": {"type": "string"}}},
        },
        {
            "name": "create_calendar_event",
            "description": "Create an event in the user's calendar with a title and time.",
            "parameters": {"type": "object", "properties": {"title": {"type": "string"}}},
        },
        {
            "name": "play_music",
            "description": "Play a song, album or playlist on the speaker.",
            "parameters": {"type": "object", "properties": {"song": {"type": "string"}}},
        },
        {
            "name": "set_alarm",
            "description": "Set an alarm clock for a given time.",
            "parameters": {"type": "object", "properties": {"time": {"type": "string"}}},
        },
    ]


@pytest.fixture
def catalog() -> list[Any]:
    return make_catalog()


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tmp_path_factory.mktemp("tool_vectors")


@pytest.fixture(scope="module")
def retriever(store_dir: Any) -> ToolRetriever:
    return ToolRetriever(tools=make_catalog(), k=3, cache_dir=store_dir)
