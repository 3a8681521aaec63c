r"""Split a context into rankable items without ever cutting inside a protected unit.

Hierarchy: input pieces (documents, list entries, messages) → blocks (paragraphs, code
fences, JSON values, few-shot demonstrations) → items (sentences, list lines, JSON entries).
Code fences and few-shot demonstrations are atomic; a JSON object or array is split into
its top-level entries, which are kept or dropped whole and re-joined so the result still
parses. :func:`assemble` puts kept items back together in their original order.

Example:
    .. code-block:: python

        from langchain_tokenopt.compression.segmentation import segment, assemble

        seg = segment(["First sentence. Second one.\n\nNew paragraph."])
        [i.text for i in seg.items]  # ['First sentence.', 'Second one.', 'New paragraph.']
        assemble(seg, {0, 2})        # ['First sentence.\n\nNew paragraph.']
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from langchain_tokenopt.compression.records import ItemKind

__all__ = ["Item", "JsonFrame", "Segmentation", "assemble", "segment"]

_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?^[ \t]*\1[ \t]*$", re.S | re.M)
_BLANK = re.compile(r"\n[ \t]*\n\s*")
_LABEL = re.compile(r"^\s*([A-Z][A-Za-z]{0,20}(?: \d+)?)\s*:")
_LIST_LINE = re.compile(r"^\s*(?:[-*•+]|\d+[.)]|[A-Za-z][.)]|#+)\s")
_SENT_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")
_ABBREV = frozenset(
    {
        "mr",
        "mrs",
        "dr",
        "st",
        "jr",
        "sr",
        "prof",
        "gen",
        "col",
        "lt",
        "sgt",
        "mt",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "u.s",
        "inc",
        "ltd",
        "co",
        "fig",
        "approx",
        "dept",
        "est",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    }
)
_JSON_START = re.compile(r"^[ \t]*[\[{]", re.M)
_MIN_JSON_CHARS = 16


@dataclass(frozen=True)
class Item:
    """One rankable unit of the context."""

    index: int
    """Position among all items of the input, in reading order."""
    source: int
    """Index of the input piece it belongs to."""
    block: int
    """Index of its block (paragraph, JSON value, code fence) among all blocks."""
    kind: ItemKind
    """Granularity."""
    start: int
    """Start offset in the source text."""
    end: int
    """End offset in the source text."""
    text: str
    """The exact text of the item."""
    frame: int | None = None
    """Index of the JSON frame it is an entry of, if any."""


@dataclass(frozen=True)
class JsonFrame:
    """The brackets around split JSON entries, kept when any entry is kept."""

    source: int
    """Input piece index."""
    start: int
    """Offset of the opening bracket's line start in the source text."""
    end: int
    """Offset just after the closing bracket."""
    opening: str
    """Text from ``start`` up to the first entry (the bracket and whitespace)."""
    closing: str
    """Text from the last entry's end to ``end`` (whitespace and the bracket)."""
    separator: str
    """Separator between entries, as it first appears in the source (e.g. ``",\n  "``)."""


@dataclass
class Segmentation:
    """Items of every source plus what is needed to put them back together."""

    sources: list[str]
    """The input texts, unchanged."""
    items: list[Item] = field(default_factory=list)
    """All items in reading order."""
    frames: list[JsonFrame] = field(default_factory=list)
    """JSON frames referenced by items."""


def segment(sources: Sequence[str], *, atomic_sources: Collection[int] = ()) -> Segmentation:
    """Split every source into items.

    Args:
        sources: The texts of the input pieces.
        atomic_sources: Indexes of sources that must be kept or dropped whole.
    """
    seg = Segmentation(sources=list(sources))
    block_counter = [0]
    for source_index, text in enumerate(seg.sources):
        if source_index in atomic_sources:
            _add(seg, source_index, block_counter, "document", 0, len(text))
            continue
        _segment_source(seg, source_index, text, block_counter)
    return seg


def _add(
    seg: Segmentation,
    source: int,
    block_counter: list[int],
    kind: ItemKind,
    start: int,
    end: int,
    *,
    new_block: bool = True,
    frame: int | None = None,
) -> None:
    text = seg.sources[source]
    # Trim whitespace at both ends so gaps hold all whitespace.
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end <= start:
        return
    if new_block:
        block_counter[0] += 1
    seg.items.append(
        Item(
            index=len(seg.items),
            source=source,
            block=block_counter[0],
            kind=kind,
            start=start,
            end=end,
            text=text[start:end],
            frame=frame,
        )
    )


def _segment_source(seg: Segmentation, source: int, text: str, counter: list[int]) -> None:
    # 1. Atomic regions: code fences and JSON values, found in reading order.
    regions: list[tuple[int, int, str]] = []
    for match in _FENCE.finditer(text):
        regions.append((match.start(), match.end(), "code"))
    regions.extend(_json_regions(text, regions))
    regions.sort()
    position = 0
    for start, end, kind in regions:
        _segment_prose(seg, source, text, position, start, counter)
        if kind == "code":
            _add(seg, source, counter, "code", start, end)
        else:
            _segment_json(seg, source, text, start, end, counter)
        position = end
    _segment_prose(seg, source, text, position, len(text), counter)


def _json_regions(text: str, taken: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    if "{" not in text and "[" not in text:
        return found
    decoder = json.JSONDecoder()
    position = 0
    for match in _JSON_START.finditer(text):
        start = match.end() - 1
        if start < position or any(a <= start < b for a, b, _ in taken):
            continue
        try:
            _, end = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if end - start >= _MIN_JSON_CHARS:
            found.append((start, end, "json"))
            position = end
    return found


def _segment_json(
    seg: Segmentation, source: int, text: str, start: int, end: int, counter: list[int]
) -> None:
    entries = _json_entries(text, start, end)
    outer_start, outer_end = start, end
    # Descend through single-entry wrappers such as {"results": [...]}.
    while len(entries) == 1 and text[entries[0][1]] in "[{":
        inner_start = entries[0][1]
        inner_end = entries[0][2]
        inner = _json_entries(text, inner_start, inner_end)
        if len(inner) < 2:
            break
        entries, start, end = inner, inner_start, inner_end
    if len(entries) < 2:
        _add(seg, source, counter, "json", outer_start, outer_end)
        return
    separator = text[entries[0][2] : entries[1][0]]
    frame = JsonFrame(
        source=source,
        start=outer_start,
        end=outer_end,
        opening=text[outer_start : entries[0][0]],
        closing=text[entries[-1][2] : outer_end],
        separator=separator,
    )
    seg.frames.append(frame)
    frame_index = len(seg.frames) - 1
    counter[0] += 1
    for entry_start, _, entry_end in entries:
        _add(
            seg,
            source,
            counter,
            "json_entry",
            entry_start,
            entry_end,
            new_block=False,
            frame=frame_index,
        )


def _json_entries(text: str, start: int, end: int) -> list[tuple[int, int, int]]:
    """Return (start, value start, end) of each top-level entry of the JSON value at ``start``."""
    decoder = json.JSONDecoder()
    is_object = text[start] == "{"
    entries: list[tuple[int, int, int]] = []
    i = start + 1
    try:
        while True:
            i = _skip_ws(text, i)
            if text[i] in "]}":
                break
            entry_start = i
            if is_object:
                _, i = decoder.raw_decode(text, i)
                i = _skip_ws(text, i)
                if text[i] != ":":
                    return []
                i = _skip_ws(text, i + 1)
            value_start = i
            _, i = decoder.raw_decode(text, i)
            entries.append((entry_start, value_start, i))
            i = _skip_ws(text, i)
            if text[i] == ",":
                i += 1
            elif text[i] in "]}":
                break
            else:
                return []
    except (ValueError, IndexError):
        return []
    return entries if i < end else []


def _skip_ws(text: str, i: int) -> int:
    while text[i] in " \t\r\n":
        i += 1
    return i


def _segment_prose(
    seg: Segmentation, source: int, text: str, start: int, end: int, counter: list[int]
) -> None:
    if start >= end or text[start:end].isspace():
        return
    bounds: list[tuple[int, int]] = []
    position = start
    for match in _BLANK.finditer(text, start, end):
        bounds.append((position, match.start()))
        position = match.end()
    bounds.append((position, end))
    paragraphs = [(a, b) for a, b in bounds if text[a:b].strip()]
    demo = _demonstration_label(text, paragraphs)
    for a, b in paragraphs:
        para = text[a:b]
        if demo is not None and _label_of(para) == demo:
            _add(seg, source, counter, "block", a, b)
            continue
        lines = para.split("\n")
        counter[0] += 1
        if len(lines) > 1 and sum(bool(_LIST_LINE.match(ln)) for ln in lines) * 2 >= len(lines):
            offset = a
            for line in lines:
                _add_sentences(seg, source, counter, offset, offset + len(line))
                offset += len(line) + 1
        else:
            _add_sentences(seg, source, counter, a, b)


def _label_of(paragraph: str) -> str | None:
    match = _LABEL.match(paragraph)
    if match is None:
        return None
    return re.sub(r"\d+", "#", match.group(1))


def _demonstration_label(text: str, paragraphs: list[tuple[int, int]]) -> str | None:
    """Return the label shared by >= 3 multi-line paragraphs (few-shot demonstrations)."""
    counts: dict[str, int] = {}
    for a, b in paragraphs:
        label = _label_of(text[a:b])
        if label is not None and "\n" in text[a:b].strip():
            counts[label] = counts.get(label, 0) + 1
    best = max(counts.items(), key=lambda kv: (kv[1], kv[0]), default=None)
    return best[0] if best is not None and best[1] >= 3 else None


def _add_sentences(
    seg: Segmentation, source: int, counter: list[int], start: int, end: int
) -> None:
    text = seg.sources[source]
    position = start
    for match in _SENT_END.finditer(text, start, end):
        cut = match.end()
        if cut >= end or not _is_boundary(text, match.start(), cut):
            continue
        _add(seg, source, counter, "sentence", position, cut, new_block=False)
        position = cut
    _add(seg, source, counter, "sentence", position, end, new_block=False)


def _is_boundary(text: str, dot: int, cut: int) -> bool:
    nxt = text[cut] if cut < len(text) else ""
    if nxt and not (nxt.isupper() or nxt.isdigit() or nxt in "\"'“‘([-*•"):
        return False
    word_start = dot
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].strip("\"'([").lower()
    if word in _ABBREV:
        return False
    return not (len(word) == 1 and word.isalpha())


def assemble(seg: Segmentation, kept: Collection[int]) -> list[str]:
    """Rebuild each source from the kept item indexes (original order, original bytes).

    Returns one string per source (empty when nothing of it was kept).
    """
    keep = set(kept)
    by_source: list[list[Item]] = [[] for _ in seg.sources]
    for item in seg.items:
        if item.index in keep:
            by_source[item.source].append(item)
    return [_assemble_source(seg, i, items) for i, items in enumerate(by_source)]


def _assemble_source(seg: Segmentation, source: int, items: list[Item]) -> str:
    text = seg.sources[source]
    parts: list[str] = []
    previous_end: int | None = None
    open_frame: int | None = None
    for item in items:
        if open_frame is not None and item.frame == open_frame:
            parts.append(seg.frames[open_frame].separator)
            parts.append(item.text)
            previous_end = item.end
            continue
        if open_frame is not None:
            parts.append(seg.frames[open_frame].closing)
            previous_end = seg.frames[open_frame].end
            open_frame = None
        start = item.start if item.frame is None else seg.frames[item.frame].start
        if previous_end is not None:
            parts.append(_gap(text[previous_end:start]))
        if item.frame is not None:
            parts.append(seg.frames[item.frame].opening)
            open_frame = item.frame
        parts.append(item.text)
        previous_end = item.end
    if open_frame is not None:
        parts.append(seg.frames[open_frame].closing)
    return "".join(parts)


def _gap(between: str) -> str:
    """The separator to put between two kept items: the widest break it skipped over."""
    if not between:
        return ""
    newlines = between.count("\n")
    if newlines >= 2:
        return "\n\n"
    if newlines == 1:
        return "\n"
    return " "
