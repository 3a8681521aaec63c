"""Find the spans a compressor must never alter: code, JSON, URLs, numbers, ids.

Coarse selection keeps or drops whole items, so a protected span is always either kept
byte for byte or dropped with its item. The fine stage (token pruning) asks
:func:`protected_mask` which characters it may not touch.

Example:
    .. code-block:: python

        from langchain_tokenopt.compression.protected import find_protected_spans

        text = "See https://x.io/a?b=1 for id 9f4a92b9-5f69-4725-ba1e-403f08dea695"
        spans = find_protected_spans(text)
        [s.kind for s in spans]  # ['url', 'uuid']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ProtectedKind",
    "ProtectedSpan",
    "find_protected_spans",
    "literals",
    "protected_mask",
]

ProtectedKind = Literal["code", "url", "uuid", "email", "number", "identifier", "quoted", "json"]

_CODE_FENCE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_URL = re.compile(r"\b(?:https?|ftp|file|s3|gs)://[^\s<>\"'`)\]]+|\bwww\.[^\s<>\"'`)\]]+")
_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# Numbers with optional sign, separators, decimals, exponents, units glued on (3.5GB, $12, 40%).
_NUMBER = re.compile(r"[-+$€£]?\d[\d,._:/]*(?:[eE][-+]?\d+)?%?")
# Identifiers: snake_case, camelCase with digits, hex ids, tokens mixing letters and digits.
_IDENT = re.compile(
    r"\b(?:[A-Za-z_][A-Za-z0-9]*_[A-Za-z0-9_]+|[A-Za-z]+\d[A-Za-z0-9]*|\d+[A-Za-z][A-Za-z0-9]*"
    r"|[a-z]+[A-Z][A-Za-z0-9]+|0x[0-9a-fA-F]+|[0-9a-f]{12,})\b"
)
_QUOTED = re.compile(r"\"[^\"\n]{1,200}\"")

_ORDER: tuple[tuple[ProtectedKind, re.Pattern[str]], ...] = (
    ("code", _CODE_FENCE),
    ("code", _INLINE_CODE),
    ("url", _URL),
    ("email", _EMAIL),
    ("uuid", _UUID),
    ("identifier", _IDENT),
    ("number", _NUMBER),
)


@dataclass(frozen=True)
class ProtectedSpan:
    """A span of text that must survive compression unchanged."""

    start: int
    """Start offset (inclusive)."""
    end: int
    """End offset (exclusive)."""
    kind: ProtectedKind
    """What the span is."""


def find_protected_spans(text: str) -> list[ProtectedSpan]:
    """Return non-overlapping protected spans, sorted by start offset.

    Earlier kinds in the precedence order (code, URL, e-mail, UUID, identifier, number)
    win where matches overlap.
    """
    taken: list[ProtectedSpan] = []
    occupied = bytearray(len(text))
    for kind, pattern in _ORDER:
        for match in pattern.finditer(text):
            start, end = match.span()
            if end <= start or any(occupied[start:end]):
                continue
            occupied[start:end] = b"\x01" * (end - start)
            taken.append(ProtectedSpan(start, end, kind))
    taken.sort(key=lambda s: s.start)
    return taken


def protected_mask(text: str) -> bytearray:
    """Return one byte per character: 1 inside a protected span, 0 elsewhere."""
    mask = bytearray(len(text))
    for span in find_protected_spans(text):
        mask[span.start : span.end] = b"\x01" * (span.end - span.start)
    return mask


def literals(text: str) -> list[str]:
    """Return the exact literals of a question worth matching verbatim in the context.

    These are UUIDs, URLs, e-mails, identifiers, numbers with at least two characters and
    quoted strings (without their quotes). Used to boost items that contain them.
    """
    found: list[str] = []
    for span in find_protected_spans(text):
        value = text[span.start : span.end].strip("`")
        if span.kind == "number" and len(value) < 2:
            continue
        found.append(value)
    for match in _QUOTED.finditer(text):
        inner = match.group(0)[1:-1].strip()
        if len(inner) >= 2:
            found.append(inner)
    seen: set[str] = set()
    unique: list[str] = []
    for value in found:
        if value not in seen:
            seen.add(value)
            unique.append(value)
    return unique
