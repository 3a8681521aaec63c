"""Per-message memoization (token counts, facts, transcript lines, masked copies).

An agent sends almost the same history every turn, so per-message work is done once. Values
are keyed by the message's *content* (type, id, name, text, tool calls / tool-call id), so a
thread restored from a checkpoint (new message objects, same messages) hits the memos of the
earlier turns. Values are also remembered per message *object* (checked by identity and
content length), so the same object again costs one dictionary read. Messages with block
(list) content are keyed by identity only. Bounded: the oldest half is dropped when full.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from langchain_tokenopt.tokens import REPLY_PRIMING, TokenCounter

__all__ = [
    "clear_caches",
    "count_each",
    "count_message",
    "count_messages",
    "count_text",
    "count_texts",
    "memo",
    "message_key",
]

T = TypeVar("T")
_MAX_ENTRIES = 100_000
_cache: dict[tuple[Any, ...], Any] = {}
_keys: dict[int, tuple[BaseMessage, int, tuple[Any, ...]]] = {}
_by_object: dict[tuple[str, int], tuple[BaseMessage, int, Any]] = {}
_serial = itertools.count()
_MISSING = object()
_lock = threading.Lock()


def _shape(msg: BaseMessage) -> int:
    content = msg.content
    return len(content) if type(content) is str else -1


def _calls_fingerprint(msg: AIMessage) -> tuple[int, int]:
    # repr is several times cheaper than json.dumps; a different key order only costs a miss.
    calls: list[tuple[Any, ...]] = [
        (c.get("id"), c.get("name"), c.get("args")) for c in msg.tool_calls
    ]
    calls += [(c.get("id"), c.get("name"), c.get("args")) for c in msg.invalid_tool_calls]
    text = repr(calls)
    return len(text), hash(text)


def _content_key(msg: BaseMessage) -> tuple[Any, ...]:
    content = msg.content
    if type(content) is not str:
        return ("object", next(_serial))  # block content: this object only
    fields = msg.__dict__  # plain reads: a missing pydantic attribute raises and is slow
    key: tuple[Any, ...] = (
        type(msg).__name__,
        fields.get("id"),
        fields.get("name"),
        fields.get("role"),
        len(content),
        hash(content),
    )
    if isinstance(msg, AIMessage) and (msg.tool_calls or msg.invalid_tool_calls):
        key += _calls_fingerprint(msg)
    elif isinstance(msg, ToolMessage):
        key += (msg.tool_call_id, msg.status)
    return key


def message_key(msg: BaseMessage) -> tuple[Any, ...]:
    """Return the content key of ``msg`` (equal for equal messages, even across copies)."""
    content = msg.content
    shape = len(content) if type(content) is str else -1
    hit = _keys.get(id(msg))  # dict reads and writes are atomic in CPython: no lock here
    if hit is not None and hit[0] is msg and hit[1] == shape:
        return hit[2]
    key = _content_key(msg)
    _keys[id(msg)] = (msg, shape, key)
    if len(_keys) > _MAX_ENTRIES:
        _bound(_keys)
    return key


def _bound(table: dict[Any, Any]) -> None:
    with _lock:
        if len(table) > _MAX_ENTRIES:  # drop the oldest half (insertion order)
            for old in list(table)[: _MAX_ENTRIES // 2]:
                table.pop(old, None)


def memo(tag: str, msg: BaseMessage, compute: Callable[[], T]) -> T:
    """Return ``compute()`` for ``msg``, computed once per message content and tag."""
    content = msg.content
    shape = len(content) if type(content) is str else -1
    slot = (tag, id(msg))
    fast = _by_object.get(slot)  # the same object again: one dict read
    if fast is not None and fast[0] is msg and fast[1] == shape:
        hit: T = fast[2]
        return hit
    key = (tag, message_key(msg))
    found = _cache.get(key, _MISSING)
    if found is _MISSING:
        value: T = compute()
        _cache[key] = value
        if len(_cache) > _MAX_ENTRIES:
            _bound(_cache)
    else:
        value = found
    _by_object[slot] = (msg, shape, value)
    if len(_by_object) > _MAX_ENTRIES:
        _bound(_by_object)
    return value


_COUNT_TAGS = {"o200k_base": "count:o200k_base", "cl100k_base": "count:cl100k_base"}


def count_message(counter: TokenCounter, msg: BaseMessage) -> int:
    """Return ``counter.count_message(msg)``, memoized."""
    return memo(_COUNT_TAGS[counter.encoding_name], msg, lambda: counter.count_message(msg))


def count_each(counter: TokenCounter, messages: Sequence[BaseMessage]) -> list[int]:
    """Return ``count_message`` of every message, memoized; new ones counted in one batch."""
    tag = _COUNT_TAGS[counter.encoding_name]
    out: list[int] = []
    slow: list[int] = []  # not seen as this object: looked up (or counted) by content
    get = _by_object.get
    for i, msg in enumerate(messages):
        fast = get((tag, id(msg)))
        if fast is not None and fast[0] is msg and fast[1] == _shape(msg):
            out.append(fast[2])
        else:
            out.append(-1)
            slow.append(i)
    if not slow:
        return out
    keys = {i: (tag, message_key(messages[i])) for i in slow}
    todo = [i for i in slow if _cache.get(keys[i], -1) < 0]
    fresh = dict(zip(todo, counter.count_each([messages[i] for i in todo]), strict=True))
    for i in slow:
        n = fresh[i] if i in fresh else _cache[keys[i]]
        out[i] = n
        _cache[keys[i]] = n
        _by_object[(tag, id(messages[i]))] = (messages[i], _shape(messages[i]), n)
    if len(_cache) > _MAX_ENTRIES:
        _bound(_cache)
    if len(_by_object) > _MAX_ENTRIES:
        _bound(_by_object)
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
        _keys.clear()
        _by_object.clear()
        _text_counts.clear()
    summarize.clear_line_facts()
    for fn in (facts._scan, facts.fact_rank, *summarize.LINE_CACHES, *summary.FIT_CACHES):
        fn.cache_clear()
