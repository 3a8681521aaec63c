"""Per-message memoization (token counts, facts, transcript lines).

An agent sends almost the same history every turn, so per-message work is done once. Values
are keyed by the message object's identity plus its shape (content length, number of tool
calls), and the entry holds a reference to the message so the identity cannot be reused by
another object while the entry lives. Bounded (the oldest half is dropped when full).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from langchain_core.messages import BaseMessage

from langchain_tokenopt.tokens import REPLY_PRIMING, TokenCounter

__all__ = ["count_message", "count_messages", "count_texts", "memo"]

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


def count_messages(counter: TokenCounter, messages: Sequence[BaseMessage]) -> int:
    """Return ``counter.count_messages(messages)``, memoized per message."""
    if not messages:
        return 0
    return REPLY_PRIMING + sum(count_message(counter, m) for m in messages)


@lru_cache(maxsize=16_384)
def _count_text(encoding: str, text: str) -> int:
    return get_token_counter_for(encoding).count(text)


def get_token_counter_for(encoding: str) -> TokenCounter:
    """Shared counter for an encoding name."""
    return _counters.setdefault(encoding, TokenCounter(encoding=encoding))


_counters: dict[str, TokenCounter] = {}


def count_texts(counter: TokenCounter, texts: Sequence[str]) -> list[int]:
    """Count strings, memoized by text (summaries are counted again every turn)."""
    return [_count_text(counter.encoding_name, t) for t in texts]
