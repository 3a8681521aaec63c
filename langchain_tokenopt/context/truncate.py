"""Truncate inside a unit's large tool results, with a visible marker.

Used only for the newest unit when it alone exceeds the budget: its tool outputs are cut to
a head and a tail around a marker, largest outputs first (water filling), instead of the unit
being dropped.

Example:
    .. code-block:: python

        truncate_text("a long text ...", 50, TokenCounter())
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, ToolMessage

from langchain_tokenopt.context.facts import extract_facts, message_text, ranked_facts
from langchain_tokenopt.tokens import TokenCounter

__all__ = ["TRUNCATION_MARKER", "truncate_text", "truncate_tool_results"]

#: Inserted where text was removed; ``{n}`` is the number of tokens removed.
TRUNCATION_MARKER = "\n[... {n} tokens truncated by langchain-tokenopt ...]\n"
#: The marker when the removed part held identifiers that head and tail do not show.
TRUNCATION_MARKER_FACTS = (
    "\n[... {n} tokens truncated by langchain-tokenopt; ids/values in the cut: {facts} ...]\n"
)
#: Identifiers listed in one marker at most.
_MAX_KEPT_FACTS = 24


def truncate_text(
    text: str, max_tokens: int, counter: TokenCounter, *, keep_facts: bool = False
) -> str:
    """Cut ``text`` to at most ``max_tokens`` tokens: head, marker, tail (2:1).

    With ``keep_facts`` the marker lists the identifiers and values (ids, codes, emails,
    amounts, dates) of the removed middle that head and tail do not show, most id-like
    first, as far as they fit. Returns the marker alone (or '' when even that does not fit)
    for tiny limits.
    """
    total = counter.count(text)
    if total <= max_tokens:
        return text
    facts = ranked_facts(extract_facts(text), _MAX_KEPT_FACTS) if keep_facts else []
    # The identifiers first: head and tail get what the listed ids leave. When the whole
    # list does not fit, the most id-like half does, and so on: a short cut still names
    # the ids the next call may need instead of none.
    while facts:
        best = _search(text, total, max_tokens, counter, facts)
        if best is not None:
            return best
        facts = facts[: len(facts) // 2]
    marker = TRUNCATION_MARKER.format(n=total)
    room = max_tokens - counter.count(marker)
    if room <= 0:
        return marker.strip() if counter.count(marker.strip()) <= max_tokens else ""
    return _search(text, total, max_tokens, counter, []) or marker.strip()


def _search(
    text: str, total: int, max_tokens: int, counter: TokenCounter, facts: list[str]
) -> str | None:
    """The longest head + marker + tail (2:1) within ``max_tokens``, or None."""
    lo, hi = 0, len(text)
    best: str | None = None
    while lo <= hi:  # binary search on the number of characters kept
        mid = (lo + hi) // 2
        head = text[: mid * 2 // 3]
        tail = text[len(text) - (mid - mid * 2 // 3) :] if mid - mid * 2 // 3 else ""
        removed = max(0, total - counter.count(head) - counter.count(tail))
        candidate = head + _marker(removed, facts, head, tail) + tail
        if counter.count(candidate) <= max_tokens:
            best = candidate
            lo = mid + 1
        else:
            hi = mid - 1
    return best


def _marker(removed: int, facts: list[str], head: str, tail: str) -> str:
    missing = [f for f in facts if f not in head and f not in tail]
    if not missing:
        return TRUNCATION_MARKER.format(n=removed)
    return TRUNCATION_MARKER_FACTS.format(n=removed, facts=", ".join(missing))


def truncate_tool_results(
    messages: Sequence[BaseMessage],
    max_tokens: int,
    counter: TokenCounter,
    *,
    keep_facts: bool = False,
) -> list[BaseMessage] | None:
    """Cut the tool outputs of a unit so that the unit fits ``max_tokens``.

    Args:
        messages: The unit (an ``AIMessage`` with calls and its ``ToolMessage``s).
        max_tokens: Tokens allowed for the whole unit (per-message overheads included).
        counter: The tokenizer.
        keep_facts: List the identifiers of each cut part in its marker.

    Returns:
        The truncated copies, or ``None`` when even empty-ish outputs cannot fit.
    """
    items = list(messages)
    tool_idx = [i for i, m in enumerate(items) if isinstance(m, ToolMessage)]
    if not tool_idx:
        return None
    sizes = {i: counter.count(message_text(items[i])) for i in tool_idx}
    fixed = sum(counter.count_message(m) for m in items) - sum(sizes.values())
    allowed = max_tokens - fixed
    if allowed < 0:
        return None
    cap = _water_level(list(sizes.values()), allowed)
    for _ in range(6):
        out = list(items)
        for i in tool_idx:
            if sizes[i] > cap:
                text = truncate_text(message_text(items[i]), cap, counter, keep_facts=keep_facts)
                out[i] = items[i].model_copy(update={"content": text})
        if sum(counter.count_message(m) for m in out) <= max_tokens:
            return out
        cap = int(cap * 0.85) - 1
        if cap < 0:
            break
    return None


def _water_level(sizes: list[int], allowed: int) -> int:
    """Largest cap with ``sum(min(s, cap)) <= allowed``."""
    if sum(sizes) <= allowed:
        return max(sizes, default=0)
    lo, hi = 0, max(sizes)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(s, mid) for s in sizes) <= allowed:
            lo = mid
        else:
            hi = mid - 1
    return lo
