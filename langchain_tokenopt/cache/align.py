"""Read a question into typed slots the hit verifier can align.

:func:`analyze` turns a text into :class:`Slot` objects, each of one kind:

* ``quote`` (a quoted string), ``code`` (an identifier, path or URL), ``time`` (minutes
  after midnight, am/pm resolved), ``date`` (ISO or d/m dates, month and weekday names),
  ``quantity`` (a number with its canonical unit, ``"200 g"``), ``number``;
* ``entity`` (a capitalized word inside the sentence, an acronym, or an unknown
  capitalized first word), ``wh`` (why/when/where/who: the question asked);
* ``neg`` (not, never, no, without, ...), ``prep`` (a preposition with a direction,
  by class: ``to``/``into`` are one class, ``from`` another), ``marker`` (``than``/``vs``);
* ``word`` (a content word, lowercased) and ``func`` (a function word, ignored).

Contractions are expanded first (``can't`` → ``can not``), digits glued to a unit are split
(``200g`` → ``200 g``), unit spellings are canonical (``grams`` → ``g``) and number words
become numbers (``three`` → ``3``). All functions here are pure.

Example:
    .. code-block:: python

        [s.kind for s in analyze("Is 7 pm too late for 200g of pasta?")]
        # ['time', 'func', 'word', 'func', 'quantity', 'func', 'word']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "OPPOSITE_PREPOSITIONS",
    "PREP_CLASSES",
    "ROLE_CLASSES",
    "ROLE_FILLERS",
    "Slot",
    "SlotKind",
    "analyze",
    "canonical_unit",
]

SlotKind = Literal[
    "quote",
    "code",
    "time",
    "date",
    "quantity",
    "number",
    "entity",
    "wh",
    "neg",
    "prep",
    "marker",
    "word",
    "func",
]


@dataclass(frozen=True)
class Slot:
    """One typed piece of a text."""

    kind: SlotKind
    """What the piece is (see the module docstring)."""
    value: str
    """Its canonical value (lowercase word, ``"420"`` minutes, ``"200 g"``, class name ...)."""
    surface: str
    """The text as written."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_UNITS: dict[str, str] = {}
for _canon, _spellings in {
    "km": "km kms kilometer kilometers kilometre kilometres",
    "m": "m meter meters metre metres",
    "cm": "cm centimeter centimeters centimetre centimetres",
    "mm": "mm millimeter millimeters millimetre millimetres",
    "mi": "mi mile miles",
    "in": "inch inches",
    "ft": "ft foot feet",
    "yd": "yd yard yards",
    "kg": "kg kgs kilo kilos kilogram kilograms kilogramme kilogrammes",
    "g": "g gr gram grams gramme grammes",
    "mg": "mg milligram milligrams",
    "lb": "lb lbs pound pounds",
    "oz": "oz ounce ounces",
    "t": "ton tons tonne tonnes",
    "l": "l liter liters litre litres",
    "ml": "ml milliliter milliliters millilitre millilitres",
    "gal": "gal gallon gallons",
    "cup": "cup cups",
    "tbsp": "tbsp tablespoon tablespoons",
    "tsp": "tsp teaspoon teaspoons",
    "celsius": "°c celsius centigrade",
    "fahrenheit": "°f fahrenheit",
    "kelvin": "kelvin",
    "mph": "mph",
    "kmh": "kmh kph km/h",
    "s": "sec secs second seconds",
    "min": "min mins minute minutes",
    "h": "hr hrs hour hours",
    "day": "day days",
    "week": "week weeks",
    "month": "month months",
    "year": "yr yrs year years",
    "usd": "$ usd dollar dollars buck bucks",
    "eur": "€ eur euro euros",
    "gbp": "£ gbp sterling",
    "jpy": "¥ jpy yen",
    "inr": "₹ inr rupee rupees rs",
    "btc": "btc bitcoin bitcoins",
    "percent": "% percent per_cent percentage",
    "kb": "kb kilobyte kilobytes",
    "mb": "mb megabyte megabytes",
    "gb": "gb gigabyte gigabytes",
    "tb": "tb terabyte terabytes",
    "ghz": "ghz gigahertz",
    "mhz": "mhz megahertz",
    "w": "w watt watts",
    "kw": "kw kilowatt kilowatts",
    "kwh": "kwh",
    "v": "v volt volts",
    "mah": "mah",
    "cal": "cal kcal calorie calories",
}.items():
    for _spelling in _spellings.split():
        _UNITS[_spelling] = _canon
# Spellings that are also ordinary words: a unit only right after a number.
_AMBIGUOUS_UNITS = _words("m in t l s w v g gr min day week month year cup rs")


def canonical_unit(word: str) -> str | None:
    """Return the canonical unit for a spelling (``"grams"`` → ``"g"``), else ``None``."""
    return _UNITS.get(word.lower())


_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(  # "one" is left out: a pronoun as often as a number
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
_NUMBER_WORDS.pop("one")
_NUMBER_WORDS.update(
    {
        "thirty": "30",
        "forty": "40",
        "fifty": "50",
        "sixty": "60",
        "seventy": "70",
        "eighty": "80",
        "ninety": "90",
        "hundred": "100",
        "thousand": "1000",
        "million": "1000000",
        "billion": "1000000000",
        "dozen": "12",
        "half": "0.5",
        "hundreds": "100",  # "several thousand" / "thousands": the same order of magnitude
        "thousands": "1000",
        "millions": "1000000",
        "billions": "1000000000",
        "dozens": "12",
        "twice": "2x",
        "thrice": "3x",
        "double": "2x",
        "triple": "3x",
        "first": "1st",
        "second": "2nd",
        "third": "3rd",
        "fourth": "4th",
        "fifth": "5th",
        "last": "last",
    }
)
_MONTHS = {
    m[:3]: m
    for m in [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ]
}
_MONTHS["sept"] = "september"
_WEEKDAYS = {
    d[:3]: d for d in ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
}
_DAY_WORDS = _words("today tomorrow yesterday tonight weekend weekday weekdays weekends")
_NEGATIONS = _words(
    "not no never without none nobody nothing nowhere neither nor cannot unable lack lacks lacking "
    "non"
)
_WH = _words("why when where who whom whose")
# Prepositions with a direction, by class; two classes in OPPOSITE_PREPOSITIONS reverse the meaning.
_PREP_CLASS = {
    **dict.fromkeys(["to", "into", "onto", "toward", "towards", "till", "until"], "to"),
    "from": "from",
    **dict.fromkeys(["in", "inside", "within"], "in"),
    **dict.fromkeys(["out", "outside"], "out"),
    **dict.fromkeys(["on", "upon"], "on"),
    "off": "off",
    "up": "up",
    "down": "down",
    **dict.fromkeys(["over", "above"], "over"),
    **dict.fromkeys(["under", "below", "beneath", "underneath"], "under"),
    "before": "before",
    **dict.fromkeys(["during", "throughout", "amid", "amidst"], "during"),
    **dict.fromkeys(["after", "since"], "after"),
    "with": "with",
    **dict.fromkeys(["for", "pro"], "for"),
    "against": "against",
    "by": "by",
    "per": "per",
    "minus": "minus",
}
#: Preposition → its direction class ("into" → "to", "since" → "after").
PREP_CLASSES: dict[str, str] = _PREP_CLASS
OPPOSITE_PREPOSITIONS = {
    frozenset(p)
    for p in (
        ("to", "from"),
        ("in", "out"),
        ("on", "off"),
        ("up", "down"),
        ("over", "under"),
        ("before", "after"),
        ("before", "during"),  # an event's three times: before it, while it lasts, after it
        ("during", "after"),
        ("for", "against"),
        ("with", "without"),
    )
}
#: Prepositions and markers that give the word after them a role ("X to Y", "A than B").
ROLE_CLASSES = frozenset(
    {"to", "from", "than", "vs", "over", "before", "during", "after", "by", "per", "minus"}
)
#: Function words that still fill a role ("comparing themselves to Indians", "sell things
#: cheaper than X", "A gets more than B"): object pronouns, placeholder nouns, light verbs.
ROLE_FILLERS = _words(
    "it itself they them themselves me myself we us ourselves you yourself yourselves he him "
    "himself she herself someone somebody something anyone anybody anything thing things "
    "one ones get gets got getting make makes made making go goes going went"
)
_MARKERS = {"than": "than", "vs": "vs", "versus": "vs"}
_FUNCTION = _words(
    "a an the this that these those it its itself they them their theirs themselves i me my "
    "mine myself we us our ours ourselves you your yours yourself yourselves he him his himself "
    "she her hers herself one ones someone somebody something anyone anybody anything "
    "is am are was were be been being do does did doing done have has had having "
    "can could may might must shall should will would ought need "
    "what how which whatever whichever however "
    "and or but if so because as that whether while though although also then thus hence "
    "of at about around across along through throughout via among amongst between beside "
    "besides near like unlike upon de "
    "one just very really quite too even ever only still yet already again actually basically "
    "please exactly much there here such own same other another else etc once "
    "get gets got getting make makes made making go goes going went gone "
    "kind sort type way ways thing things lot lots bit"
)
_CONTRACTIONS = (
    (re.compile(r"\bcan['’]t\b", re.I), "can not"),
    (re.compile(r"\bwon['’]t\b", re.I), "will not"),
    (re.compile(r"\bshan['’]t\b", re.I), "shall not"),
    (re.compile(r"\bain['’]t\b", re.I), "is not"),
    (re.compile(r"n['’]t\b", re.I), " not"),
    (re.compile(r"['’]re\b", re.I), " are"),
    (re.compile(r"['’]ve\b", re.I), " have"),
    (re.compile(r"['’]ll\b", re.I), " will"),
    (re.compile(r"['’]m\b", re.I), " am"),
    (re.compile(r"['’]d\b", re.I), " would"),
    (re.compile(r"(?<=\w)['’]s?(?=\W|$)", re.I), ""),
)
# any double quote mark opens and closes ("x", “x”, and ”x” as some editors write it)
_QUOTE = re.compile(r"[\"“”„]([^\"“”„]+)[\"“”„]|`([^`]+)`|(?<![\w])['‘]([^'‘’]+)['’](?![\w])")
#: An enumeration label ("1)", "(2)") after a clause start: an item label, not a number.
_LIST_MARKER = re.compile(r"(?:(?<=^)|(?<=[\s:;,]))\(?\d{1,2}\)(?=\s)")
_URL = re.compile(r"\b(?:https?://|www\.)\S+|(?<!\w)(?:~|\.{1,2})?/[\w.\-/~]+")
_CODE = re.compile(
    r"(?<![\w.])("
    r"[A-Za-z_$][\w$]*(?:(?:\.|::|->)[A-Za-z_$][\w$]*)+(?:\(\))?"  # dotted / scoped names
    r"|[A-Za-z_$][\w$]*\(\)"  # call()
    r"|[A-Za-z$]*_[\w$]*"  # snake_case, _private, LOAD_HU
    r"|[a-z]+[A-Z][A-Za-z0-9]*"  # camelCase
    r"|--?[a-z][\w-]*"  # --flags
    r")(?![\w])"
)
_UNIT_AFTER = "|".join(sorted((re.escape(u) for u in _UNITS if u[0].isalpha()), key=len)[::-1])
_VERSION = re.compile(
    r"(?<![\w.])v?\d+(?:\.\d+){2,}(?!\w|\.\w)|(?<![\w.])v\d+(?:\.\d+)*(?!\w|\.\w)", re.I
)
_TIME = re.compile(
    r"\b(\d{1,2})(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?)(?![a-z])|\b(\d{1,2}):(\d{2})\b|\b(noon|midnight)\b",
    re.I,
)
_DATE = re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b")
# a number glued to its unit ("200g"), not a model name ("note4g")
_GLUED = re.compile(rf"(?<![A-Za-z\d.])(\d+(?:\.\d+)?)(?=(?:{_UNIT_AFTER}|%|°[cf])\b)", re.I)
_NUMBER = re.compile(r"([$€£¥₹])?\s*(\d+(?:,\d{3})*(?:\.\d+)?)(?:st|nd|rd|th)?")
_TOKEN = re.compile(
    r"\x00(\d+)\x00|([$€£¥₹])?\s*(\d+(?:,\d{3})*(?:\.\d+)?)(st|nd|rd|th)?|(%|°[cfCF])"
    r"|([A-Za-z][A-Za-z0-9'’]*)|([.!?;:])"
)


def _time_value(match: re.Match[str]) -> str:
    if match.group(6):
        return "720" if match.group(6).lower() == "noon" else "0"
    if match.group(3):
        hour, minute = int(match.group(1)) % 12, int(match.group(2) or 0)
        if match.group(3).lower().startswith("p"):
            hour += 12
        return str(hour * 60 + minute)
    return str(int(match.group(4)) * 60 + int(match.group(5)))


def _number(raw: str) -> str:
    value = raw.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value or "0"


def analyze(text: str, *, known_word: Callable[[str], bool] | None = None) -> list[Slot]:
    """Split ``text`` into typed slots (see the module docstring).

    Args:
        text: The question or prompt.
        known_word: Whether a lowercase word is an English dictionary word; used to tell a
            capitalized first word ("How", "Python") apart. ``None`` takes a capitalized
            first word for an ordinary word.
    """

    def _code(match: re.Match[str]) -> str:
        name = match[1]
        if all(len(part) <= 1 for part in re.split(r"[.]", name)):
            return name  # "e.g", "U.S": an abbreviation, not code
        return hold(Slot("code", name.lower(), name))

    text = unicodedata.normalize("NFKC", text).replace("’", "'").replace("‘", "'")
    placeholders: list[Slot] = []

    def hold(slot: Slot) -> str:
        placeholders.append(slot)
        return f" \x00{len(placeholders) - 1}\x00 "

    text = _QUOTE.sub(
        lambda m: hold(Slot("quote", " ".join(next(g for g in m.groups() if g).split()), m[0])),
        text,
    )
    if len(_LIST_MARKER.findall(text)) >= 2:  # "1) download ... 2) generate": item labels
        text = _LIST_MARKER.sub(" ", text)
    text = _URL.sub(lambda m: hold(Slot("code", m[0].rstrip(".,;:!?"), m[0])), text)
    for pattern, repl in _CONTRACTIONS:
        text = pattern.sub(repl, text)
    text = _CODE.sub(_code, text)
    text = _VERSION.sub(lambda m: hold(Slot("code", m[0].lower(), m[0])), text)
    text = _TIME.sub(lambda m: hold(Slot("time", _time_value(m), m[0])), text)
    text = _DATE.sub(lambda m: hold(Slot("date", m[0], m[0])), text)
    text = _GLUED.sub(r"\1 ", text)

    slots: list[Slot] = []
    initial = True
    for match in _TOKEN.finditer(text):
        held, symbol, digits, ordinal, sign, word, stop = match.groups()
        if stop:
            initial = stop != ":" and stop != ";"
            continue
        if held is not None:
            slots.append(placeholders[int(held)])
        elif digits is not None:
            value = _number(digits) + (ordinal or "")
            if symbol:
                slots.append(Slot("quantity", f"{value} {_UNITS[symbol]}", match[0].strip()))
            else:
                slots.append(Slot("number", value, match[0].strip()))
        elif sign:
            slots.append(Slot("word", _UNITS[sign.lower()], sign))
        elif word:
            slots.append(_word_slot(word.strip("'"), initial, known_word))
        initial = False
    return _merge_quantities(slots)


def _word_slot(word: str, initial: bool, known_word: Callable[[str], bool] | None) -> Slot:
    low = word.lower()
    if not low:
        return Slot("func", "", word)
    capital = word[0].isupper()
    month = low[:3] in _MONTHS and low in (_MONTHS[low[:3]], low[:3], "sept")
    if month and capital and not (initial and low == "may"):
        return Slot("date", _MONTHS[low[:3]], word)
    if low[:3] in _WEEKDAYS and low in (_WEEKDAYS[low[:3]], low[:3]):
        return Slot("date", _WEEKDAYS[low[:3]], word)
    if low in _DAY_WORDS:
        return Slot("date", low, word)
    acronym = len(word) > 1 and word.isupper()
    if capital and not acronym and low in _FUNCTION:
        return Slot("func", low, word)  # "An Overview", "The Hub": a title's capitals
    if word != "I" and (acronym or (capital and not initial)):
        return Slot("entity", low, word)
    if low in _NEGATIONS:
        return Slot("neg", "not", word)
    if low in _WH:
        return Slot("wh", low, word)
    if low in _MARKERS:
        return Slot("marker", _MARKERS[low], word)
    if low in _PREP_CLASS:
        return Slot("prep", _PREP_CLASS[low], word)
    if low in _NUMBER_WORDS:
        return Slot("number", _NUMBER_WORDS[low], word)
    if low in _FUNCTION or len(low) == 1:
        return Slot("func", low, word)
    if capital and initial and known_word is not None and not known_word(low):
        return Slot("entity", low, word)
    unit = _UNITS.get(low)
    if unit is not None and low not in _AMBIGUOUS_UNITS:
        return Slot("word", unit, word)
    return Slot("word", low, word)


def _merge_quantities(slots: list[Slot]) -> list[Slot]:
    """Join a number and the unit after (or the currency sign before) it into one slot."""
    out: list[Slot] = []
    i = 0
    while i < len(slots):
        slot = slots[i]
        if slot.kind == "number" and i + 1 < len(slots):
            nxt = slots[i + 1]
            unit = (
                _UNITS.get(nxt.surface.lower())
                if nxt.kind in ("word", "prep", "func") or nxt.surface.lower() == "second"
                else None
            )
            if unit is None and nxt.kind == "date" and nxt.value in ("day", "week", "month"):
                unit = nxt.value
            if unit is not None:
                out.append(
                    Slot("quantity", f"{slot.value} {unit}", f"{slot.surface} {nxt.surface}")
                )
                i += 2
                continue
        out.append(slot)
        i += 1
    return out
