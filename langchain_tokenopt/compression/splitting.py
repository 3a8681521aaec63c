"""Split prose items that are too long to keep into smaller pieces, never inside a protected span.

A single sentence (a log line, a paragraph without punctuation, one huge document) can be
larger than the whole budget. Dropping it would leave an empty result, so such items are cut
into fragments: first at clause boundaries (``, ; :`` followed by a space, and line breaks),
then, where a clause is still too long, at spaces. A cut never falls inside a protected span
(code, URL, number, id …), so every kept fragment is an exact substring of the input and each
protected span is either kept whole or dropped whole. Atomic items (code fences, JSON,
few-shot demonstrations, atomic sources) are never split.

Example:
    .. code-block:: python

        from langchain_tokenopt.compression.segmentation import segment
        from langchain_tokenopt.compression.splitting import split_oversized

        seg = segment(["word " * 500])
        seg, counts = split_oversized(seg, [500], limit=100, counter=counter)
        max(counts) <= 100  # True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from langchain_tokenopt.compression.protected import protected_mask
from langchain_tokenopt.compression.segmentation import Item, Segmentation

__all__ = ["SPLITTABLE_KINDS", "split_oversized"]

#: Item kinds that may be cut into fragments (prose only).
SPLITTABLE_KINDS = frozenset({"sentence", "paragraph", "fragment"})

_CLAUSE = re.compile(r"[,;:]\s+|\s*\n\s*")
_SPACE = re.compile(r"\s+")


def split_oversized(
    seg: Segmentation, counts: Sequence[int], *, trigger: int, limit: int, counter: Any
) -> tuple[Segmentation, list[int]]:
    """Cut every splittable item of more than ``trigger`` tokens into fragments of <= ``limit``.

    Args:
        seg: The segmentation.
        counts: Tokens per item of ``seg``.
        trigger: Items up to this many tokens are left alone.
        limit: Largest fragment size in tokens (>= 1).
        counter: A token counter with ``count`` and ``count_batch``.

    Returns:
        The new segmentation (items re-indexed in reading order) and its token counts. When
        nothing needs a cut, ``seg`` and ``counts`` come back unchanged. A fragment can still
        exceed ``limit`` when it is one protected span longer than ``limit``.
    """
    limit = max(1, limit)
    trigger = max(limit, trigger)
    if all(c <= trigger or seg.items[i].kind not in SPLITTABLE_KINDS for i, c in enumerate(counts)):
        return seg, list(counts)
    items: list[Item] = []
    new_counts: list[int] = []
    for item, count in zip(seg.items, counts, strict=True):
        if count <= trigger or item.kind not in SPLITTABLE_KINDS:
            items.append(replace(item, index=len(items)))
            new_counts.append(count)
            continue
        for start, end, tokens in _fragments(item, count, limit, counter):
            items.append(
                replace(
                    item,
                    index=len(items),
                    kind="fragment",
                    start=item.start + start,
                    end=item.start + end,
                    text=item.text[start:end],
                )
            )
            new_counts.append(tokens)
    return Segmentation(sources=seg.sources, items=items, frames=seg.frames), new_counts


def _cut_points(text: str, pattern: re.Pattern[str], mask: bytearray) -> list[tuple[int, int]]:
    """(end of the left part, start of the right part) for each allowed cut."""
    cuts = []
    for match in pattern.finditer(text):
        left = match.start() + (1 if text[match.start()] in ",;:" else 0)
        right = match.end()
        if left > 0 and right < len(text) and not any(mask[match.start() : match.end()]):
            cuts.append((left, right))
    return cuts


def _pieces(text: str, cuts: list[tuple[int, int]], offset: int) -> list[tuple[int, int]]:
    spans, position = [], 0
    for left, right in cuts:
        if left > position:
            spans.append((offset + position, offset + left))
        position = right
    if position < len(text):
        spans.append((offset + position, offset + len(text)))
    return spans


def _fragments(item: Item, count: int, limit: int, counter: Any) -> list[tuple[int, int, int]]:
    """Return (start, end, tokens) of the fragments of ``item``, offsets relative to its text."""
    text = item.text
    mask = protected_mask(text)
    units: list[tuple[int, int]] = []
    clauses = _pieces(text, _cut_points(text, _CLAUSE, mask), 0)
    clause_counts = counter.count_batch([text[a:b] for a, b in clauses])
    for (a, b), tokens in zip(clauses, clause_counts, strict=True):
        if tokens <= limit:
            units.append((a, b))
            continue
        words = _pieces(text[a:b], _cut_points(text[a:b], _SPACE, mask[a:b]), a)
        word_counts = counter.count_batch([text[c:d] for c, d in words])
        for (c, d), size in zip(words, word_counts, strict=True):
            if size <= limit or any(mask[c:d]):
                units.append((c, d))
            else:  # one huge unprotected "word": cut it into character windows
                units.extend((w, min(w + limit, d)) for w in range(c, d, limit))
    unit_counts = counter.count_batch([text[a:b] for a, b in units])
    # Merge consecutive units greedily up to the limit (the sum of counts bounds the joined
    # count up to merge effects at the seams, checked exactly below).
    merged: list[tuple[int, int, int]] = []
    start, end, used = units[0][0], units[0][1], unit_counts[0]
    for (a, b), tokens in zip(units[1:], unit_counts[1:], strict=True):
        if used + tokens + 1 <= limit:
            end, used = b, used + tokens + 1
            continue
        merged.append((start, end, used))
        start, end, used = a, b, tokens
    merged.append((start, end, used))
    exact = counter.count_batch([text[a:b] for a, b, _ in merged])
    out: list[tuple[int, int, int]] = []
    for (a, b, _), tokens in zip(merged, exact, strict=True):
        if tokens <= limit or b - a <= 1:
            out.append((a, b, tokens))
            continue
        # Seams merged into more tokens than estimated: fall back to the single units.
        for ua, ub in units:
            if a <= ua and ub <= b:
                out.append((ua, ub, counter.count(text[ua:ub])))
    return out
