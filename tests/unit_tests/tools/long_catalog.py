"""A made-up catalog with long schema texts, and queries that do or do not need its tools.

Long descriptions and many documented parameters give lower raw query-tool cosines than
one-line descriptions, so a fixed raw-cosine threshold that suits short schemas abstains here
on questions that clearly need a tool. Used by ``test_classifier_default.py`` and, as a veto,
by ``python -m bench tools default-classifier`` (written by hand; no dataset text).
"""

from __future__ import annotations

from typing import Any


def _tool(name: str, description: str, params: list[tuple[str, str, str]]) -> dict[str, Any]:
    props = {p: {"type": t, "description": d} for p, t, d in params}
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": props, "required": [params[0][0]]},
        },
    }


LONG_TOOLS: list[dict[str, Any]] = [
    _tool(
        "get_weather_forecast",
        "Returns the weather forecast for a location from the meteorological service. The response "
        "holds hourly and daily temperatures in Celsius or Fahrenheit, precipitation "
        "probability and "
        "amount, wind speed and direction, humidity, UV index, sunrise and sunset times, and any "
        "active severe-weather alerts issued by the national agency. Forecasts cover up to 14 days "
        "ahead; past dates return observed values instead. Rate limited to 60 calls per minute per "
        "API key; results are cached for ten minutes.",
        [
            ("location", "string", "City name, postal code or 'lat,lon' coordinates of the place."),
            ("date", "string", "ISO 8601 date of the forecast day; defaults to today."),
            ("units", "string", "Either 'metric' or 'imperial'; defaults to metric."),
            ("include_alerts", "boolean", "Whether to include severe-weather alerts."),
        ],
    ),
    _tool(
        "convert_currency",
        "Converts an amount of money from one currency to another at the latest mid-market "
        "exchange rate published by the central bank feed, refreshed every minute during trading "
        "hours. Supports 170 ISO 4217 currencies and the major cryptocurrencies. "
        "Optionally returns "
        "the historical rate for a past date, the bid and ask spread, and the fee a card issuer "
        "would typically charge for the conversion. Amounts are rounded to the minor unit of the "
        "target currency.",
        [
            ("amount", "number", "The amount of money to convert, in the source currency."),
            ("from_currency", "string", "ISO 4217 code of the source currency, e.g. USD."),
            ("to_currency", "string", "ISO 4217 code of the target currency, e.g. EUR."),
            ("date", "string", "Optional ISO date for a historical exchange rate."),
        ],
    ),
    _tool(
        "book_flight",
        "Searches the airline reservation system and books a seat on a commercial flight between "
        "two airports. The call checks availability across partner carriers, applies the "
        "traveller's loyalty programme, holds the fare for fifteen minutes, and then issues an "
        "electronic ticket charged to the stored payment method. Returns the booking reference, "
        "the itinerary with departure and arrival times in local time, the seat assignment, "
        "baggage allowance and the fare rules for changes and cancellations.",
        [
            ("origin", "string", "IATA code or city of the departure airport."),
            ("destination", "string", "IATA code or city of the arrival airport."),
            ("departure_date", "string", "ISO date of the outbound flight."),
            ("cabin", "string", "Cabin class: economy, premium, business or first."),
            ("passengers", "integer", "Number of travellers on the booking."),
        ],
    ),
    _tool(
        "send_email",
        "Sends an email message from the user's connected mailbox through the organisation's SMTP "
        "relay. Supports plain text and HTML bodies, carbon copies, blind carbon copies, file "
        "attachments up to 25 MB in total, importance flags and delayed delivery at a scheduled "
        "time. Recipient addresses are resolved against the user's contacts and the company "
        "directory, so a first name is enough when it is unambiguous. Returns the message "
        "identifier and the delivery status reported by the relay.",
        [
            ("to", "string", "Recipient address or contact name."),
            ("subject", "string", "Subject line of the message."),
            ("body", "string", "Text of the message."),
            ("cc", "array", "Addresses that receive a copy of the message."),
        ],
    ),
    _tool(
        "search_restaurants",
        "Looks up restaurants, cafes and bars near a location using the local business directory. "
        "Results can be filtered by cuisine, dietary options such as vegetarian, vegan or gluten "
        "free, price level, minimum customer rating, opening hours and whether the place takes "
        "reservations or offers delivery. Each result carries the address, distance from the "
        "given location, phone number, average rating, number of reviews, price level and a short "
        "summary of what reviewers mention most often.",
        [
            ("location", "string", "Address, neighbourhood or coordinates to search around."),
            ("cuisine", "string", "Type of food, e.g. italian, thai, sushi."),
            ("dietary", "string", "Dietary requirement such as vegetarian or vegan."),
            ("open_now", "boolean", "Only return places that are open at the moment."),
        ],
    ),
    _tool(
        "create_calendar_event",
        "Creates an event in the user's primary calendar and sends invitations to the attendees. "
        "The event can be a one-off or recurring appointment, with a start and end time in any "
        "time zone, a location or video-conference link, a description, reminders by notification "
        "or email before the start, and a visibility setting. Conflicts with existing events are "
        "reported in the response together with the event identifier and a link to open it in "
        "the calendar application.",
        [
            ("title", "string", "Title of the event."),
            ("start", "string", "ISO 8601 start date and time of the event."),
            ("end", "string", "ISO 8601 end date and time of the event."),
            ("attendees", "array", "Email addresses of the people to invite."),
        ],
    ),
    _tool(
        "get_stock_quote",
        "Fetches the latest market data for a listed security from the exchange data vendor. "
        "Returns the last traded price, the change since the previous close in absolute and "
        "percentage terms, the day's open, high and low, traded volume, market capitalisation, "
        "the price to earnings ratio and the 52-week range. Quotes are delayed by fifteen minutes "
        "unless the account holds a real-time data entitlement. Symbols are resolved from company "
        "names when no ticker is given.",
        [
            ("symbol", "string", "Ticker symbol or company name, e.g. AAPL or Apple."),
            ("exchange", "string", "Optional exchange code such as NASDAQ or NYSE."),
        ],
    ),
    _tool(
        "translate_text",
        "Translates text between any two of 130 languages with the neural machine translation "
        "service. The source language is detected automatically when it is not given. Formatting "
        "such as line breaks and HTML tags is preserved, a glossary can pin the translation of "
        "product names and technical terms, and a formality setting chooses between formal and "
        "informal forms of address where the target language distinguishes them. Returns the "
        "translated text and the detected source language.",
        [
            ("text", "string", "The text to translate."),
            ("target_language", "string", "Language to translate into, name or ISO 639 code."),
            ("source_language", "string", "Optional language of the input text."),
        ],
    ),
    _tool(
        "track_package",
        "Tracks a parcel shipped with any of the major carriers (UPS, FedEx, DHL, USPS and 400 "
        "regional couriers) from its tracking number. The carrier is detected from the number "
        "format. Returns the current status, the estimated delivery date, the full scan history "
        "with locations and timestamps, the signature of the recipient when delivered, and any "
        "exceptions such as customs holds, failed delivery attempts or address problems that need "
        "action from the sender or the recipient.",
        [
            ("tracking_number", "string", "The carrier's tracking number of the parcel."),
            ("carrier", "string", "Optional carrier name when it cannot be detected."),
        ],
    ),
    _tool(
        "set_reminder",
        "Schedules a reminder that the assistant delivers to the user's phone and desktop at a "
        "given time or when the user arrives at or leaves a place. Reminders can repeat daily, on "
        "weekdays, weekly or monthly, carry a note and a priority, and be snoozed or marked done "
        "from the notification. Returns the reminder identifier and the next time it will fire, "
        "converted to the user's current time zone.",
        [
            ("text", "string", "What the user wants to be reminded of."),
            ("time", "string", "ISO 8601 date and time at which to remind the user."),
            ("repeat", "string", "Optional repetition: daily, weekdays, weekly or monthly."),
        ],
    ),
]

TOOL_QUERIES = [
    "What's the weather going to be like in Lisbon this weekend?",
    "Convert 250 US dollars to Japanese yen",
    "Book me a flight from Boston to Denver next Friday",
    "Email Sarah that the meeting moved to 3pm",
    "Find a vegetarian restaurant near Union Square",
    "Put a dentist appointment on my calendar for Tuesday at 10",
    "How is Apple stock doing today?",
    "Translate 'where is the train station' into German",
    "Where is my parcel? The tracking number is 1Z999AA10123456784",
    "Remind me to call mom at 6pm",
    "weather in Paris tomorrow",
    "100 euros in dollars",
    "AAPL price",
    "track 1Z999AA10123456784",
    "flights to Denver",
    "translate hello to Spanish",
    "remind me at 5",
    "email Bob",
    "sushi nearby",
    "GBP to EUR",
]
"""Questions that clearly need one of :data:`LONG_TOOLS` (the last eight are terse)."""

FOLLOW_UPS = ["and in Berlin?", "what about tomorrow?"]
"""Follow-ups that need the previous turn to make sense (no expectation either way)."""

CHITCHAT = [
    "hello!",
    "thanks, that's all",
    "hi there, how are you?",
    "ok great, thank you so much",
    "good night",
    "you're awesome",
    "lol",
    "never mind",
]
"""Lines that need no tool."""
