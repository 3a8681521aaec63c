"""Find the strings later turns refer to: ids, numbers, dates, e-mails, decisions.

Pure functions over text, used by masking (what a placeholder keeps), the classifier (what
makes a message important) and the summary check (which facts must survive).

Example:
    .. code-block:: python

        extract_facts("Reservation ZFA04Y costs $1,234.50, user mia_li_3668")
        # ['ZFA04Y', '$1,234.50', 'mia_li_3668']
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from langchain_tokenopt._content import text_blocks
from langchain_tokenopt.context._memo import memo

__all__ = [
    "DECISION_RE",
    "call_facts",
    "fact_rank",
    "ranked_facts",
    "PREFERENCE_RE",
    "extract_facts",
    "is_structured",
    "keyed_facts",
    "message_facts",
    "message_text",
    "missing_facts",
    "text_facts",
    "tool_call_text",
]

# Order matters: longer, more specific patterns first.
_FACT_RE = re.compile(
    r"[\w.+-]+@[\w-]+\.[\w.-]+"  # e-mail
    r"|https?://\S+"  # url
    r"|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?"  # ISO date / time
    r"|\d{1,2}:\d{2}(?::\d{2})?(?:\s?[AaPp][Mm])?"  # clock time
    r"|[$€£]\s?\d[\d,]*(?:\.\d+)?"  # money
    r"|\b[A-Za-z_]*\d[\w-]*\b"  # identifier or number containing a digit
    r"|\b[A-Za-z]+(?:_[A-Za-z0-9]+)+\b"  # snake_case identifier
    r"|\b[A-Z]{2,}[A-Z0-9]*\b"  # codes: JFK, HAT, ZFA04Y
)

#: Words that mark a decision or a commitment.
DECISION_RE = re.compile(
    r"\b(decided|decide|confirm(?:ed)?|agreed?|booked|cancel(?:l?ed)?|chose|choose|"
    r"approved?|will|going to|yes|proceed|updated?|changed?)\b",
    re.IGNORECASE,
)
#: Words that mark a user preference or constraint.
PREFERENCE_RE = re.compile(
    r"\b(prefer(?:s|red)?|want|would like|like to|don't|do not|never|always|only|must|"
    r"need|instead|rather|favou?rite)\b",
    re.IGNORECASE,
)

_STOP_CODES = frozenset({"I", "OK", "ID", "USD", "EST", "AM", "PM", "JSON", "API", "TODO"})

# The same matches as ``_FACT_RE``, several times faster: runs that can never start or
# contain a fact are consumed whole by three "skip" alternatives (plain words not followed
# by a character that could continue a fact, JSON keys, runs of separators), so the
# expensive alternatives are tried only where a fact can start. Group 1 is the fact, group 2
# is '":' when the fact is a JSON key. ``test_fast_fact_scan_matches_the_reference`` keeps
# the two in step (the plain form lives in the tests as the specification).
_SCAN_RE = re.compile(
    r"(?:[A-Z]?[a-z]+(?![\w@+:-]|\.[\w.+@-])"  # a plain word (no fact starts inside it)
    r"|\w+(?=\":)"  # a JSON key
    r"|[^\w.+$€£-]+)++"  # separators: no fact starts with one; a whole run is one match
    r"|(" + _FACT_RE.pattern + r")(?=(\":)?)"
)
# Every alternative of ``_FACT_RE`` needs one of these (a digit, "@", "_", two capitals, or a
# url's scheme): a text without any has no fact, and this one search is far cheaper than
# the scan (short prose lines often hold none).
_MAY_HOLD_FACT = re.compile(r"[\d@_]|[A-Z]{2}|http")
_SCAN_CACHE_CHARS = 4096  # longer texts (tool outputs) are memoized per message instead


def extract_facts(text: str, *, limit: int | None = None) -> list[str]:
    """Return the distinct fact-like strings of ``text`` in order of first appearance.

    Short texts are memoized (the same transcript lines are scanned again and again).

    Args:
        text: Any text (prose or JSON).
        limit: Keep at most this many (the first ones).
    """
    facts = _scan(text) if len(text) <= _SCAN_CACHE_CHARS else _scan.__wrapped__(text)
    return list(facts if limit is None else facts[:limit])


@lru_cache(maxsize=16_384)
def _scan(text: str) -> tuple[str, ...]:
    if not _MAY_HOLD_FACT.search(text):
        return ()
    # Skipped runs have an empty group 1; JSON keys a non-empty group 2.
    found = [t.strip().rstrip(".,;:") for t, key in _SCAN_RE.findall(text) if t and not key]
    return tuple(t for t in dict.fromkeys(found) if len(t) >= 2 and t not in _STOP_CODES)


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@lru_cache(maxsize=65_536)
def fact_rank(fact: str) -> int:
    """How likely a fact is an identifier later turns need (higher first).

    3: mixed letters and digits (``ZFA04Y``, ``gift_card_6847880``), an all-capitals code of
    five or more letters (``AQLBTL``) or an e-mail / url;
    2: dates (time stamps included) and money; 1: other numbers and codes.
    """
    if _DATE_RE.match(fact):
        return 2  # before the mixed check: the 'T' of a time stamp is not an identifier
    has_digit = any(c.isdigit() for c in fact)
    has_alpha = any(c.isalpha() for c in fact)
    if "@" in fact or fact.startswith("http") or (has_digit and has_alpha and len(fact) >= 4):
        return 3
    if len(fact) >= 5 and fact.isalpha() and fact.isupper():
        return 3  # an all-letter code (reservation ``AQLBTL``): as much an id as ``ZFA04Y``
    if fact[:1] in "$€£":
        return 2
    if "_" in fact and has_alpha:
        return 2
    return 1


def ranked_facts(facts: Iterable[str], limit: int | None = None) -> list[str]:
    """Sort facts by :func:`fact_rank` (stable) and keep at most ``limit``."""
    out = sorted(facts, key=_neg_rank)
    return out if limit is None else out[:limit]


def _neg_rank(fact: str) -> int:
    return -fact_rank(fact)


def missing_facts(facts: Iterable[str], text: str) -> list[str]:
    """Return the facts that do not occur in ``text`` (exact substring check)."""
    return [f for f in facts if f not in text]


def is_structured(text: str) -> bool:
    """Tell whether ``text`` looks like JSON / code that must never be paraphrased."""
    stripped = text.strip()
    if not stripped:
        return False
    if stripped[0] in "[{":
        try:
            json.loads(stripped)
        except ValueError:
            return stripped.count("{") + stripped.count("[") > 2
        return True
    return "```" in stripped


def _args_text(args: Any) -> str:
    if isinstance(args, str):
        return args
    return json.dumps(args, ensure_ascii=False, separators=(",", ":"), default=str)


def tool_call_text(message: AIMessage) -> str:
    """Render a message's tool calls compactly: ``name({"k":"v"})`` one per line."""
    lines = [f"{c.get('name')}({_args_text(c.get('args', {}))})" for c in message.tool_calls]
    lines += [
        f"{c.get('name')}({_args_text(c.get('args') or '')}) [invalid]"
        for c in message.invalid_tool_calls
    ]
    return "\n".join(lines)


def message_text(message: BaseMessage, *, with_calls: bool = True) -> str:
    """Return the readable text of a message (text blocks, plus its tool calls)."""
    content = message.content
    text = content if isinstance(content, str) else "\n".join(text_blocks(content)[0])
    if (
        with_calls
        and isinstance(message, AIMessage)
        and (message.tool_calls or message.invalid_tool_calls)
    ):
        calls = tool_call_text(message)
        text = f"{text}\n{calls}" if text else calls
    return text


def message_facts(message: BaseMessage) -> tuple[str, ...]:
    """Facts of a message's readable text (tool calls included), memoized per message.

    The text and the tool calls are scanned apart (no fact spans the line break between
    them), so :func:`text_facts` is a prefix of the work and is reused.
    """
    return memo("facts", message, lambda: _message_facts(message))


def text_facts(message: BaseMessage) -> tuple[str, ...]:
    """Facts of a message's text without its tool calls, memoized per message.

    A tool's JSON output also gives the values of its identifier fields (``"username":
    "justinkool"``, ``"reminder_id": "ff-7890"``), which no pattern recognizes as ids.
    """
    return memo("text-facts", message, lambda: _text_facts(message))


def _text_facts(message: BaseMessage) -> tuple[str, ...]:
    text = message_text(message, with_calls=False)
    found = extract_facts(text)
    if isinstance(message, ToolMessage):
        found.extend(keyed_facts(text))
    return tuple(dict.fromkeys(found))


#: Last words of the JSON keys whose string values are identifiers: ``id``, ``*_id``,
#: ``userId``, user names, senders and receivers, codes and references.
_ID_KEY_WORDS = frozenset(
    {
        "id", "ids", "uuid", "username", "user", "login", "handle", "receiver", "recipient",
        "sender", "owner", "assignee", "code", "ref", "reference", "number", "slug", "sku",
    }
)  # fmt: skip
_KEY_WORD_RE = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _is_id_key(key: str) -> bool:
    words = _KEY_WORD_RE.findall(key)
    return bool(words) and words[-1].lower() in _ID_KEY_WORDS


_KEYED_MAX_CHARS = 64
_KEYED_MAX_TEXT = 200_000  # larger outputs are not parsed (the patterns still scan them)


def keyed_facts(text: str) -> list[str]:
    """String values of the identifier fields of a JSON text, in order (none for prose).

    Example:
        .. code-block:: python

            keyed_facts('{"users": [{"username": "justinkool", "name": "Justin"}]}')
            # ['justinkool']
    """
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{" or len(stripped) > _KEYED_MAX_TEXT:
        return []
    try:
        data = json.loads(stripped)
    except ValueError:
        return []
    out: list[str] = []
    stack: list[Any] = [data]
    while stack:  # depth-first, in document order
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and _is_id_key(str(key)):
                    value = value.strip()
                    if 2 <= len(value) <= _KEYED_MAX_CHARS and not any(c.isspace() for c in value):
                        out.append(value)
            stack.extend(reversed([v for v in node.values() if isinstance(v, dict | list)]))
        elif isinstance(node, list):
            stack.extend(reversed([v for v in node if isinstance(v, dict | list)]))
    return list(dict.fromkeys(out))


def call_facts(message: AIMessage) -> tuple[str, ...]:
    """Facts of a message's tool calls (their rendered arguments), memoized per message."""
    return memo("call-facts", message, lambda: tuple(extract_facts(tool_call_text(message))))


def _message_facts(message: BaseMessage) -> tuple[str, ...]:
    if not isinstance(message, AIMessage) or not (message.tool_calls or message.invalid_tool_calls):
        return text_facts(message)
    return tuple(dict.fromkeys([*text_facts(message), *call_facts(message)]))
