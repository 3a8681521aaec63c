"""Tool catalogs for ``python -m bench agent``: tau-bench airline and ToolTalk as OpenAI tools.

Neither dataset ships its tool schemas (tau-bench's live in its Python environment, ToolTalk's
in its API classes), so these are our own wording: names as the trajectories call them,
parameters inferred from the arguments the recorded calls pass (a parameter is required when
every recorded call passes it), descriptions written here. The benchmark only needs them to be
plausible: the retriever ranks them against user messages, and the token counts include them.

``with_distractors`` pads a catalog with a fixed sample of BFCL functions (seed 0, names that
do not collide) so that tool selection has a realistic haystack (~264 / ~278 tools).

Import from the package: ``from bench.agent_catalogs import TAU_AIRLINE_TOOLS, with_distractors``.
"""

from __future__ import annotations

import random
import re
from typing import Any

__all__ = [
    "TAU_AIRLINE_TOOLS",
    "TOOLTALK_TOOLS",
    "description_of",
    "tool_name",
    "toolkit_of",
    "with_distractors",
    "with_toolkits",
]


def _tool(name: str, description: str, params: dict[str, Any], required: list[str]) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": params, "required": required},
        },
    }


def _s(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _i(description: str) -> dict[str, Any]:
    return {"type": "integer", "description": description}


_FLIGHTS = {
    "type": "array",
    "description": "Every flight segment of the new itinerary, in travel order.",
    "items": {
        "type": "object",
        "properties": {
            "flight_number": _s("Flight number, for example 'HAT123'."),
            "date": _s("Travel date of this segment, YYYY-MM-DD."),
        },
        "required": ["flight_number", "date"],
    },
}
_PASSENGERS = {
    "type": "array",
    "description": "Travellers on the reservation.",
    "items": {
        "type": "object",
        "properties": {
            "first_name": _s("Given name."),
            "last_name": _s("Family name."),
            "dob": _s("Date of birth, YYYY-MM-DD."),
        },
        "required": ["first_name", "last_name", "dob"],
    },
}
_CABIN = _s("Cabin class.", enum=["basic_economy", "economy", "business"])
_AIRPORT = "IATA airport code, three letters (for example 'JFK')."

TAU_AIRLINE_TOOLS: list[dict[str, Any]] = [
    _tool(
        "get_reservation_details",
        "Look up one flight reservation by its id and return its flights, passengers, "
        "payments, baggage and insurance.",
        {"reservation_id": _s("Six-character reservation code, for example 'ZFA04Y'.")},
        ["reservation_id"],
    ),
    _tool(
        "search_direct_flight",
        "Find nonstop flights between two airports on a given day, with seats left and "
        "prices per cabin.",
        {
            "origin": _s(_AIRPORT),
            "destination": _s(_AIRPORT),
            "date": _s("Departure date, YYYY-MM-DD."),
        },
        ["origin", "destination", "date"],
    ),
    _tool(
        "search_onestop_flight",
        "Find itineraries with exactly one connection between two airports on a given day.",
        {
            "origin": _s(_AIRPORT),
            "destination": _s(_AIRPORT),
            "date": _s("Departure date of the first leg, YYYY-MM-DD."),
        },
        ["origin", "destination", "date"],
    ),
    _tool(
        "get_user_details",
        "Fetch a customer's profile: name, contact details, membership level, saved payment "
        "methods and reservation ids.",
        {"user_id": _s("Customer id, for example 'sara_doe_496'.")},
        ["user_id"],
    ),
    _tool(
        "update_reservation_flights",
        "Replace the flights of an existing reservation (change dates, segments or cabin) and "
        "charge or refund the fare difference.",
        {
            "reservation_id": _s("Reservation code to change."),
            "cabin": _CABIN,
            "flights": _FLIGHTS,
            "payment_id": _s("Saved payment method that pays or receives the difference."),
        },
        ["reservation_id", "cabin", "flights", "payment_id"],
    ),
    _tool(
        "update_reservation_baggages",
        "Set the number of checked bags on a reservation and pay for the ones that are not free.",
        {
            "reservation_id": _s("Reservation code to change."),
            "total_baggages": _i("Checked bags in total after the change."),
            "nonfree_baggages": _i("How many of those bags are charged."),
            "payment_id": _s("Saved payment method for the bag fees."),
        },
        ["reservation_id", "total_baggages", "nonfree_baggages", "payment_id"],
    ),
    _tool(
        "update_reservation_passengers",
        "Correct the traveller details on a reservation; the number of travellers stays the same.",
        {"reservation_id": _s("Reservation code to change."), "passengers": _PASSENGERS},
        ["reservation_id", "passengers"],
    ),
    _tool(
        "book_reservation",
        "Create a new flight booking for a customer and charge it to one or more saved "
        "payment methods.",
        {
            "user_id": _s("Customer id the booking belongs to."),
            "origin": _s(_AIRPORT),
            "destination": _s(_AIRPORT),
            "flight_type": _s("Trip type.", enum=["one_way", "round_trip"]),
            "cabin": _CABIN,
            "flights": _FLIGHTS,
            "passengers": _PASSENGERS,
            "payment_methods": {
                "type": "array",
                "description": "How the total is split across saved payment methods.",
                "items": {
                    "type": "object",
                    "properties": {
                        "payment_id": _s("Saved payment method id."),
                        "amount": {"type": "number", "description": "Amount charged to it."},
                    },
                    "required": ["payment_id", "amount"],
                },
            },
            "total_baggages": _i("Checked bags in total."),
            "nonfree_baggages": _i("Checked bags that are charged."),
            "insurance": _s("Whether travel insurance is bought.", enum=["yes", "no"]),
        },
        [
            "user_id",
            "origin",
            "destination",
            "flight_type",
            "cabin",
            "flights",
            "passengers",
            "payment_methods",
            "total_baggages",
            "nonfree_baggages",
            "insurance",
        ],
    ),
    _tool(
        "cancel_reservation",
        "Cancel a whole reservation and refund it to the original payment methods.",
        {"reservation_id": _s("Reservation code to cancel.")},
        ["reservation_id"],
    ),
    _tool(
        "send_certificate",
        "Issue a travel voucher of a given value to a customer as compensation.",
        {"user_id": _s("Customer id."), "amount": {"type": "number", "description": "Value."}},
        ["user_id", "amount"],
    ),
    _tool(
        "list_all_airports",
        "Return every airport the airline serves with its city name.",
        {},
        [],
    ),
    _tool(
        "calculate",
        "Evaluate an arithmetic expression (numbers, + - * / and parentheses) and return the "
        "result.",
        {"expression": _s("The expression, for example '(120 + 80) * 0.9'.")},
        ["expression"],
    ),
    _tool(
        "think",
        "Write down private reasoning before acting; changes nothing and returns nothing.",
        {"thought": _s("The reasoning to record.")},
        ["thought"],
    ),
    _tool(
        "transfer_to_human_agents",
        "Hand the conversation over to a human support agent, with a short summary of the "
        "customer's problem.",
        {"summary": _s("What the customer needs and what was tried.")},
        ["summary"],
    ),
]

_TOKEN = _s("Session token returned by UserLogin.")
_DT = "Date and time, 'YYYY-MM-DD HH:MM:SS'."

TOOLTALK_TOOLS: list[dict[str, Any]] = [
    # Account
    _tool(
        "UserLogin",
        "Sign a user in with username and password and get a session token.",
        {"username": _s("Account username."), "password": _s("Account password.")},
        ["username", "password"],
    ),
    _tool(
        "LogoutUser",
        "Sign the current user out and invalidate the session token.",
        {"session_token": _TOKEN},
        ["session_token"],
    ),
    _tool(
        "RegisterUser",
        "Create a new account and sign it in.",
        {
            "username": _s("Wanted username."),
            "password": _s("Password for the new account."),
            "email": _s("Email address."),
            "name": _s("Full name."),
            "phone": _s("Phone number."),
        },
        ["username", "password", "email"],
    ),
    _tool(
        "DeleteAccount",
        "Permanently remove the signed-in user's account; needs the password again.",
        {"session_token": _TOKEN, "password": _s("Current password.")},
        ["session_token", "password"],
    ),
    _tool(
        "ChangePassword",
        "Change the signed-in user's password.",
        {
            "session_token": _TOKEN,
            "old_password": _s("Current password."),
            "new_password": _s("Password to set."),
        },
        ["session_token", "old_password", "new_password"],
    ),
    _tool(
        "GetAccountInformation",
        "Show the signed-in user's profile: username, email, phone and name.",
        {"session_token": _TOKEN},
        ["session_token"],
    ),
    _tool(
        "UpdateAccountInformation",
        "Change the email, phone number or name on the signed-in user's profile.",
        {
            "session_token": _TOKEN,
            "password": _s("Current password, to confirm."),
            "new_email": _s("New email address."),
            "new_phone_number": _s("New phone number."),
            "new_name": _s("New full name."),
        },
        ["session_token", "password"],
    ),
    _tool(
        "QueryUser",
        "Look up another user's public profile by username or email.",
        {
            "session_token": _TOKEN,
            "username": _s("Username to look up."),
            "email": _s("Email address to look up."),
        },
        ["session_token"],
    ),
    _tool(
        "SendVerificationCode",
        "Email a one-time code to a user who forgot their password.",
        {"username": _s("Account username."), "email": _s("Email address on the account.")},
        ["username", "email"],
    ),
    _tool(
        "ResetPassword",
        "Set a new password with the one-time code from SendVerificationCode.",
        {
            "username": _s("Account username."),
            "verification_code": _s("The code that was emailed."),
            "new_password": _s("Password to set."),
        },
        ["username", "verification_code", "new_password"],
    ),
    # Alarm
    _tool(
        "AddAlarm",
        "Set an alarm at a time of day.",
        {"session_token": _TOKEN, "time": _s("Time of day, 'HH:MM:SS'.")},
        ["session_token", "time"],
    ),
    _tool(
        "DeleteAlarm",
        "Remove an alarm by its id.",
        {"session_token": _TOKEN, "alarm_id": _s("Id of the alarm.")},
        ["session_token", "alarm_id"],
    ),
    _tool(
        "FindAlarms",
        "List the user's alarms, optionally only those between two times of day.",
        {
            "session_token": _TOKEN,
            "start_range": _s("Earliest time, 'HH:MM:SS'."),
            "end_range": _s("Latest time, 'HH:MM:SS'."),
        },
        ["session_token"],
    ),
    # Calendar
    _tool(
        "CreateEvent",
        "Put an event or a meeting on the user's calendar.",
        {
            "session_token": _TOKEN,
            "name": _s("Title."),
            "event_type": _s("Kind of entry.", enum=["event", "meeting"]),
            "start_time": _s(_DT),
            "end_time": _s(_DT),
            "location": _s("Where it happens."),
            "description": _s("Notes."),
            "attendees": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Usernames invited (meetings).",
            },
        },
        ["session_token", "name", "event_type", "start_time", "end_time"],
    ),
    _tool(
        "DeleteEvent",
        "Remove a calendar entry by its id.",
        {"session_token": _TOKEN, "event_id": _s("Id of the calendar entry.")},
        ["session_token", "event_id"],
    ),
    _tool(
        "ModifyEvent",
        "Change the time, place, description, attendees or title of a calendar entry.",
        {
            "session_token": _TOKEN,
            "event_id": _s("Id of the calendar entry."),
            "new_name": _s("New title."),
            "new_start_time": _s(_DT),
            "new_end_time": _s(_DT),
            "new_location": _s("New place."),
            "new_description": _s("New notes."),
            "new_attendees": {
                "type": "array",
                "items": {"type": "string"},
                "description": "New list of invited usernames.",
            },
        },
        ["session_token", "event_id"],
    ),
    _tool(
        "QueryCalendar",
        "List the calendar entries between two moments.",
        {"session_token": _TOKEN, "start_time": _s(_DT), "end_time": _s(_DT)},
        ["session_token", "start_time", "end_time"],
    ),
    # Email
    _tool(
        "SearchInbox",
        "Search the user's received email by words and/or sender.",
        {
            "session_token": _TOKEN,
            "query": _s("Words to look for."),
            "sender": _s("Sender's email address."),
            "start_date": _s(_DT),
            "end_date": _s(_DT),
        },
        ["session_token"],
    ),
    _tool(
        "SendEmail",
        "Send an email from the user's address.",
        {
            "session_token": _TOKEN,
            "to": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Recipient email addresses.",
            },
            "subject": _s("Subject line."),
            "body": _s("Message text."),
        },
        ["session_token", "to", "subject", "body"],
    ),
    # Message
    _tool(
        "SendMessage",
        "Send a chat message to another user by username.",
        {
            "session_token": _TOKEN,
            "receiver": _s("Username of the recipient."),
            "message": _s("Text to send."),
        },
        ["session_token", "receiver", "message"],
    ),
    _tool(
        "SearchMessages",
        "Search the user's chat messages by words, sender or date range.",
        {
            "session_token": _TOKEN,
            "query": _s("Words to look for."),
            "sender": _s("Username of the sender."),
            "start_date": _s(_DT),
            "end_date": _s(_DT),
        },
        ["session_token"],
    ),
    # Reminder
    _tool(
        "AddReminder",
        "Create a to-do reminder, optionally with a due date.",
        {"session_token": _TOKEN, "task": _s("What to do."), "due_date": _s(_DT)},
        ["session_token", "task"],
    ),
    _tool(
        "GetReminders",
        "List the user's reminders with their ids, due dates and whether they are done.",
        {"session_token": _TOKEN},
        ["session_token"],
    ),
    _tool(
        "CompleteReminder",
        "Mark a reminder as done.",
        {"session_token": _TOKEN, "reminder_id": _s("Id of the reminder.")},
        ["session_token", "reminder_id"],
    ),
    _tool(
        "DeleteReminder",
        "Remove a reminder by its id.",
        {"session_token": _TOKEN, "reminder_id": _s("Id of the reminder.")},
        ["session_token", "reminder_id"],
    ),
    # Weather
    _tool(
        "CurrentWeather",
        "Get the weather right now in a city.",
        {"location": _s("City name.")},
        ["location"],
    ),
    _tool(
        "ForecastWeather",
        "Get the weather forecast for the next days in a city.",
        {"location": _s("City name.")},
        ["location"],
    ),
    _tool(
        "HistoricWeather",
        "Get the typical (historical average) weather of a city in a given month.",
        {"location": _s("City name."), "month": _s("Month name, for example 'September'.")},
        ["location", "month"],
    ),
]


#: The toolkit (ToolTalk plugin, or the airline's own API) each catalog tool ships in, as an
#: MCP server or a LangChain toolkit would name it; distractors have none.
_TOOLTALK_PLUGINS = {
    "Alarm": ("AddAlarm", "DeleteAlarm", "FindAlarms"),
    "Calendar": ("CreateEvent", "DeleteEvent", "ModifyEvent", "QueryCalendar"),
    "Email": ("SearchInbox", "SendEmail"),
    "Message": ("SendMessage", "SearchMessages"),
    "Reminder": ("AddReminder", "GetReminders", "CompleteReminder", "DeleteReminder"),
    "Weather": ("CurrentWeather", "ForecastWeather", "HistoricWeather"),
}


def toolkit_of(name: str, dataset: str) -> str | None:
    """The toolkit a catalog tool belongs to (``None`` for a distractor)."""
    if dataset == "tau":
        return "airline" if any(tool_name(t) == name for t in TAU_AIRLINE_TOOLS) else None
    if not any(tool_name(t) == name for t in TOOLTALK_TOOLS):
        return None
    for plugin, names in _TOOLTALK_PLUGINS.items():
        if name in names:
            return plugin
    return "Account"


def with_toolkits(tools: list[dict[str, Any]], dataset: str) -> list[dict[str, Any]]:
    """Copies of the tool dicts with their toolkit as ``namespace`` (what the selector reads)."""
    out = []
    for tool in tools:
        kit = toolkit_of(tool_name(tool), dataset)
        out.append({**tool, "namespace": kit} if kit else tool)
    return out


def tool_name(tool: dict[str, Any]) -> str:
    """Name of an OpenAI tool dict or a bare function schema."""
    return str(tool.get("function", tool)["name"])


def description_of(tool: dict[str, Any]) -> str:
    """Description of an OpenAI tool dict or a bare function schema."""
    return str(tool.get("function", tool).get("description") or "")


def with_distractors(
    tools: list[dict[str, Any]], pool: list[dict[str, Any]], *, n: int = 250, seed: int = 0
) -> list[dict[str, Any]]:
    """Return ``tools`` followed by ``n`` functions sampled (fixed ``seed``) from ``pool``.

    Pool functions whose name collides with a catalog tool (case-insensitive) are skipped;
    BFCL functions are wrapped as OpenAI tool dicts. The same seed gives the same sample.
    """
    taken = {tool_name(t).lower() for t in tools}
    by_name: dict[str, dict[str, Any]] = {}
    for fn in pool:
        name = _safe_name(str(fn["name"]))
        if name.lower() not in taken:
            by_name.setdefault(name, fn)
    names = sorted(by_name)
    sample = random.Random(seed).sample(names, min(n, len(names)))
    out = list(tools)
    for name in sample:
        fn = by_name[name]
        params = _json_schema(fn.get("parameters") or {"type": "object", "properties": {}})
        out.append(
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": fn.get("description") or "",
                    "parameters": params,
                },
            }
        )
    return out


def _safe_name(name: str) -> str:
    """An OpenAI-valid function name (BFCL names may hold dots)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64]


_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": "string"}


def _json_schema(value: Any) -> Any:
    """BFCL's Python-flavoured types (``dict``, ``float``, ``tuple``, ``any``) as JSON schema."""
    if isinstance(value, dict):
        out = {k: _json_schema(v) for k, v in value.items()}
        if isinstance(out.get("type"), str):
            out["type"] = _TYPES.get(out["type"], out["type"])
        return out
    if isinstance(value, list):
        return [_json_schema(v) for v in value]
    return value
