"""Per-message memoization (token counts, facts, transcript lines).

An agent sends almost the same history every turn, so per-message work is done once. Values
are keyed by the message object's identity plus its shape (content length, number of tool
calls), and the entry holds a reference to the message so the identity cannot be reused by
another object while the entry lives. Bounded (the oldest half is dropped when full).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from langchain_core.messages import BaseMessage

from langchain_tokenopt.tokens import REPLY_PRIMING, TokenCounter

__all__ = [
    "clear_caches",
    "count_each",
    "count_message",
    "count_messages",
    "count_text",
    "count_texts",
    "memo",
]

T = TypeVar("T")
_MAX_ENTRIES = 100_000
_cache: dict[tuple[Any, ...], tuple[BaseMessage, Any]] = {}
_lock = threading.Lock()


def _shape(msg: BaseMessage) -> int:
    content = msg.content
    return len(content) if type(content) is str else -1


def memo(tag: str, msg: BaseMessage, compute: Callable[[], T]) -> T:
    """Return ``compute()`` for ``msg``, computed once per message object and tag."""
    key = (tag, id(msg), _shape(msg))
    hit = _cache.get(key)  # a dict read is atomic in CPython; no lock on the hot path
    if hit is not None and hit[0] is msg:
        value: T = hit[1]
        return value
    value = compute()
    with _lock:
        _cache[key] = (msg, value)
        if len(_cache) > _MAX_ENTRIES:  # drop the oldest half (insertion order)
            for old in list(_cache)[: _MAX_ENTRIES // 2]:
                _cache.pop(old, None)
    return value


_COUNT_TAGS = {"o200k_base": "count:o200k_base", "cl100k_base": "count:cl100k_base"}


def count_message(counter: TokenCounter, msg: BaseMessage) -> int:
    """Return ``counter.count_message(msg)``, memoized."""
    return memo(_COUNT_TAGS[counter.encoding_name], msg, lambda: counter.count_message(msg))


def count_each(counter: TokenCounter, messages: Sequence[BaseMessage]) -> list[int]:
    """Return ``count_message`` of every message, memoized; new ones counted in one batch."""
    tag = _COUNT_TAGS[counter.encoding_name]
    out: list[int] = []
    todo: list[int] = []
    for i, msg in enumerate(messages):
        hit = _cache.get((tag, id(msg), _shape(msg)))
        if hit is not None and hit[0] is msg:
            out.append(hit[1])
        else:
            out.append(-1)
            todo.append(i)
    if todo:
        fresh = counter.count_each([messages[i] for i in todo])
        for i, n in zip(todo, fresh, strict=True):
            out[i] = memo(tag, messages[i], lambda n=n: n)  # type: ignore[misc]
    return out


def count_messages(counter: TokenCounter, messages: Sequence[BaseMessage]) -> int:
    """Return ``counter.count_messages(messages)``, memoized per message."""
    if not messages:
        return 0
    return REPLY_PRIMING + sum(count_each(counter, messages))


def get_token_counter_for(encoding: str) -> TokenCounter:
    """Shared counter for an encoding name."""
    return _counters.setdefault(encoding, TokenCounter(encoding=encoding))


_counters: dict[str, TokenCounter] = {}
_MAX_TEXTS = 65_536
_MAX_TEXT_CHARS = 16_384
_text_counts: dict[str, dict[str, int]] = {}


def count_texts(counter: TokenCounter, texts: Sequence[str]) -> list[int]:
    """Count strings, memoized by text; the ones not seen before are counted in one batch.

    Summaries and transcript lines are counted again on every turn; this makes a repeat a
    dictionary lookup.
    """
    cache = _text_counts.setdefault(counter.encoding_name, {})
    out = [cache.get(t, -1) for t in texts]
    todo = [i for i, n in enumerate(out) if n < 0]
    if todo:
        fresh = counter.count_batch([texts[i] for i in todo])
        with _lock:
            for i, n in zip(todo, fresh, strict=True):
                out[i] = n
                if len(texts[i]) <= _MAX_TEXT_CHARS:
                    cache[texts[i]] = n
            if len(cache) > _MAX_TEXTS:  # drop the oldest half (insertion order)
                for old in list(cache)[: _MAX_TEXTS // 2]:
                    cache.pop(old, None)
    return out


def count_text(counter: TokenCounter, text: str) -> int:
    """Count one string, memoized like :func:`count_texts`."""
    return count_texts(counter, [text])[0]


def clear_caches() -> None:
    """Forget every memoized value (for cold-start measurements and tests)."""
    from langchain_tokenopt.context import facts, summarize
    from langchain_tokenopt.context.strategies import summary

    with _lock:
        _cache.clear()
        _text_counts.clear()
    for fn in (facts._scan, facts.fact_rank, *summarize.LINE_CACHES, *summary.FIT_CACHES):
        fn.cache_clear()
