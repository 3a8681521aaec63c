"""Canonical form of a question for the exact fast path (``"What's 200g?"`` = ``"what is 200 g"``).

The exact path hashes this form, so phrasings that differ only in case, whitespace, sentence
punctuation, contractions or the spelling of a unit hit without ever running the embedder.
Every rule here only folds spellings of the *same* words; a different number, unit, currency,
negation or word always gives a different form:

* **whitespace**: NFC, runs of whitespace collapsed;
* **case**: lowercase and Title-case words are lowercased; acronyms (``RAG``, ``US``) and
  mixed-case words (``iPhone``) keep their case unless the whole text is in capitals;
  tokens with digits or symbols are kept as written (``5G``, ``AB-12``);
* **punctuation**: sentence punctuation and quotes around words are dropped (``Paris?`` =
  ``Paris``); punctuation inside a token stays (``1.5``, ``U.S``, ``C++``, ``$5m``);
* **contractions**: ``what's`` = ``what is``, ``don't`` = ``do not``, ``can't`` = ``cannot``
  = ``can not``, ``I'm`` = ``I am`` ... (``'s`` only after pronouns and question words, so a
  possessive such as ``John's`` stays);
* **numbers and units**: ``1,000`` = ``1000``; ``200g`` = ``200 g`` = ``200 grams`` =
  ``200-gram``; ``5 km`` = ``5 kilometres``; ``30 min`` = ``30 minutes``; ``20%`` =
  ``20 percent``; ``$5`` = ``5 dollars``; ``180°C`` = ``180 degrees Celsius``. Symbols are
  matched with their case (``5g`` is grams, ``5G`` is not), ambiguous words are left alone
  (``pounds``: weight or money; ``in``: inches or a preposition).

Text that looks like code (backticks, braces, ``=``, ``<``/``>``, calls such as ``f(x)``,
``snake_case``) is only whitespace-normalized: its case and punctuation carry meaning.

All functions are pure.

Example:
    .. code-block:: python

        canonical_text("What's the weight of 200g of flour?")
        # 'what is the weight of 200 g of flour'
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = ["canonical_text"]

_WS = re.compile(r"\s+")
_APOSTROPHE_CHARS = "\u2019\u2018\u02bc\u2032"
_APOSTROPHES = str.maketrans(dict.fromkeys(_APOSTROPHE_CHARS, "'"))
_CODE_CHAR = re.compile(r"[`{}<>=;\\|^~]")
_DIGIT = re.compile(r"\d")
_CODE = re.compile(r"\w\(|[A-Za-z0-9]_[A-Za-z0-9]|::|->|\n[ \t]{2,}\S")

# ------------------------------------------------------------------ units

#: canonical unit -> (words matched in any case, symbols matched with their exact case)
_UNITS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "mg": (("milligram", "milligrams", "milligramme", "milligrammes"), ("mg",)),
    "g": (("gram", "grams", "gramme", "grammes"), ("g", "gr", "grs")),
    "kg": (
        ("kilogram", "kilograms", "kilogramme", "kilogrammes", "kilo", "kilos"),
        ("kg", "kgs", "Kg", "KG"),
    ),
    "lb": ((), ("lb", "lbs", "Lb", "Lbs", "LB", "LBS")),
    "oz": (("ounce", "ounces"), ("oz",)),
    "mm": (("millimeter", "millimeters", "millimetre", "millimetres"), ("mm",)),
    "cm": (("centimeter", "centimeters", "centimetre", "centimetres"), ("cm",)),
    "m": (("meter", "meters", "metre", "metres"), ("m",)),
    "km": (("kilometer", "kilometers", "kilometre", "kilometres"), ("km", "kms", "Km", "KM")),
    "inch": (("inch", "inches"), ()),
    "ft": (("foot", "feet"), ("ft",)),
    "mi": (("mile", "miles"), ("mi",)),
    "ml": (("milliliter", "milliliters", "millilitre", "millilitres"), ("ml", "mL", "mls")),
    "l": (("liter", "liters", "litre", "litres"), ("l", "L", "ltr", "ltrs")),
    "tsp": (("teaspoon", "teaspoons"), ("tsp",)),
    "tbsp": (("tablespoon", "tablespoons"), ("tbsp", "Tbsp", "tbs")),
    "cup": (("cup", "cups"), ()),
    "gal": (("gallon", "gallons"), ("gal",)),
    "sec": (("second", "seconds"), ("sec", "secs")),
    "min": (("minute", "minutes"), ("min", "mins")),
    "h": (("hour", "hours"), ("h", "hr", "hrs")),
    "day": (("day", "days"), ()),
    "week": (("week", "weeks"), ("wk", "wks")),
    "month": (("month", "months"), ()),
    "year": (("year", "years"), ("yr", "yrs")),
    "kb": (("kilobyte", "kilobytes"), ("KB", "kB", "kb")),
    "mb": (("megabyte", "megabytes"), ("MB", "mb")),
    "gb": (("gigabyte", "gigabytes"), ("GB", "gb")),
    "tb": (("terabyte", "terabytes"), ("TB", "tb")),
    "°c": (
        ("celsius", "degrees celsius", "degree celsius", "degrees c", "centigrade"),
        ("°C", "°c", "ºC", "\u2103"),
    ),
    "°f": (
        ("fahrenheit", "degrees fahrenheit", "degree fahrenheit", "degrees f"),
        ("°F", "°f", "ºF", "\u2109"),
    ),
    "%": (("percent", "per cent", "pct"), ("%",)),
    "$": (("dollar", "dollars", "bucks"), ("$",)),
    "€": (("euro", "euros"), ("€", "EUR", "eur", "Eur")),
    "£": ((), ("£", "GBP", "gbp")),
    "am": ((), ("am", "AM", "a.m.", "A.M.")),
    "pm": ((), ("pm", "PM", "p.m.", "P.M.")),
}
_UNIT_WORDS = {w: canon for canon, (words, _) in _UNITS.items() for w in words}
_UNIT_SYMBOLS = {s: canon for canon, (_, symbols) in _UNITS.items() for s in symbols}
_NUMBER = r"\d+(?:\.\d+)?"
# A number, then one or two words or a symbol; the callback keeps what the unit tables know.
# (One generic pattern that starts with a digit: ``re`` scans for it fast, where a pattern
# with every unit spelled out costs ten times as much.)
_QUANTITY = re.compile(
    rf"({_NUMBER})(?:\s*-\s*|\s*)"
    r"([^\W\d_]+(?:\.[^\W\d_]\.)?(?:\s+[^\W\d_]+)?|[%$€£\u2103\u2109]|[°º][CcFf])"
)
_CURRENCY_FIRST = re.compile(rf"([$€£])\s?({_NUMBER})(?![\w.,])")
_THOUSANDS = re.compile(r"(\d{1,3}(?:,\d{3})+)(?![\d,])")


def _glued(match: re.Match[str], chars: str) -> bool:
    """Whether the match continues a longer token on its left (``x25g``, ``1.25``)."""
    start = match.start()
    if not start:
        return False
    before = match.string[start - 1]
    return before.isalnum() or before == "_" or before in chars


def _thousands(match: re.Match[str]) -> str:
    return match.group(0) if _glued(match, ".,") else match.group(1).replace(",", "")


def _currency(match: re.Match[str]) -> str:
    return match.group(0) if _glued(match, ".,") else f"{match.group(2)} {match.group(1)}"


def _unit_of(spelling: str) -> str | None:
    return _UNIT_SYMBOLS.get(spelling) or _UNIT_WORDS.get(spelling.lower())


def _unit(match: re.Match[str]) -> str:
    if _glued(match, ".,$€£"):
        return match.group(0)
    number, unit = match.group(1), match.group(2)
    words = unit.split()
    if len(words) == 2:
        canon = _unit_of(f"{words[0]} {words[1]}")
        if canon is not None:
            return f"{number} {canon}"
    rest = unit[len(words[0]) :]
    after = rest[:1] or match.string[match.end() : match.end() + 1]
    if after and (after.isalnum() or after in "_°%$€£"):
        return match.group(0)
    canon = _unit_of(words[0])
    return match.group(0) if canon is None else f"{number} {canon}{rest}"


# ------------------------------------------------------------------ contractions

_NOT_VERBS = [
    "do",
    "does",
    "did",
    "is",
    "are",
    "was",
    "were",
    "has",
    "have",
    "had",
    "could",
    "should",
    "would",
    "must",
    "need",
]
#: lowercase token -> its expansion (whole tokens only, looked up after punctuation is cut)
_CONTRACTIONS: dict[str, str] = {
    **{f"{v}n't": f"{v} not" for v in _NOT_VERBS},
    **{f"{v}nt": f"{v} not" for v in _NOT_VERBS if v not in ("is", "was", "had", "need")},
    "isnt": "is not",
    "wasnt": "was not",
    "hadnt": "had not",
    "can't": "can not",
    "cant": "can not",
    "cannot": "can not",
    "won't": "will not",
    "shan't": "shall not",
    **{
        f"{w}'s": f"{w} is"
        for w in [
            "it",
            "that",
            "what",
            "where",
            "who",
            "how",
            "when",
            "why",
            "there",
            "here",
            "he",
            "she",
        ]
    },
    "whats": "what is",
    "thats": "that is",
    "let's": "let us",
    "i'm": "i am",
    **{f"{w}'re": f"{w} are" for w in ("you", "we", "they", "who", "what")},
    "youre": "you are",
    "theyre": "they are",
    **{
        f"{w}'ve": f"{w} have"
        for w in ("i", "you", "we", "they", "who", "what", "could", "should", "would", "might")
    },
    **{
        f"{w}'ll": f"{w} will"
        for w in ("i", "you", "he", "she", "it", "we", "they", "that", "who", "what", "there")
    },
    **{f"{w}'d": f"{w} would" for w in ("i", "you", "he", "she", "it", "we", "they")},
}

# ------------------------------------------------------------------ tokens

_CONTRACTION_KEYS = frozenset(_CONTRACTIONS)
# Quotes and sentence punctuation before / after a token (a lone "?" or "..." goes whole).
_LEADING = re.compile(r"(?<![^ ])[\"'(¿¡«*_]+")
_TRAILING = re.compile(r"[.,;:!?\"')»…*_]+(?![^ ])")
_DASHES = frozenset({"-", "--", "–", "—"})
_CAPITAL = re.compile(r"[A-Z]")


def _keeps_case(text: str) -> bool:
    """Whether a capital follows a letter or digit: an acronym or mixed case (RAG, iPhone, 5G)."""
    for match in _CAPITAL.finditer(text):
        at = match.start()
        if at and text[at - 1].isalnum():
            return True
    return False


def _fold(token: str) -> str:
    """Expand a contraction, else lowercase unless the case carries meaning (RAG, iPhone)."""
    expanded = _CONTRACTIONS.get(token.lower())
    if expanded is not None:
        return expanded
    return token if _keeps_case(token) else token.lower()


def _looks_like_code(text: str) -> bool:
    if _CODE_CHAR.search(text) is not None:
        return True
    hinted = "(" in text or "_" in text or "::" in text or "->" in text or "\n" in text
    return hinted and _CODE.search(text) is not None


def canonical_text(text: str) -> str:
    """Return the canonical form of a question for the exact-hash key (see module docstring).

    Falls back to whitespace normalization when the text looks like code, and when the
    canonical form would be empty (a text of punctuation only). Short texts are memoized
    (a repeated question is the exact path's common case); long ones are not kept.
    """
    return _canonical_memo(text) if len(text) <= _MEMO_CHARS else _canonical(text)


_MEMO_CHARS = 1000


@functools.lru_cache(maxsize=4096)
def _canonical_memo(text: str) -> str:
    return _canonical(text)


def _canonical(text: str) -> str:
    plain = _WS.sub(" ", unicodedata.normalize("NFC", text)).strip()
    if _looks_like_code(text):
        return plain
    out = plain
    if not out.isascii():
        out = out.translate(_APOSTROPHES)
    if "," in out:
        out = _THOUSANDS.sub(_thousands, out)
    if _DIGIT.search(out) is not None:
        if "$" in out or not out.isascii():
            out = _CURRENCY_FIRST.sub(_currency, out)
        out = _QUANTITY.sub(_unit, out)
    out = _TRAILING.sub("", _LEADING.sub("", out))
    if plain.isupper() or not _keeps_case(out):
        tokens = out.lower().split()
        if not _CONTRACTION_KEYS.isdisjoint(tokens):
            tokens = [_CONTRACTIONS.get(t, t) for t in tokens]
    else:
        tokens = [_fold(t) for t in out.split()]
    if "-" in out or "\u2013" in out or "\u2014" in out:
        tokens = [t for t in tokens if t not in _DASHES]
    return " ".join(tokens) or plain
