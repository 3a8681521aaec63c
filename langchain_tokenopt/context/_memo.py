"""Per-message memoization owned by one :class:`~langchain_tokenopt.context.ContextOptimizer`.

An agent sends almost the same history every turn, so per-message work (token counts, facts,
transcript lines, masked copies) is done once. Values are keyed by the message's *content*
(type, id, name, text, tool calls / tool-call id), so a thread restored from a checkpoint
(new message objects, same messages) hits the values of the earlier turns. Values are also
remembered per message *object* (checked by identity and content length), so the same object
again costs one dictionary read; those entries hold the message, so an ``id()`` is never
reused while its entry lives. Messages with block (list) content are keyed by identity only.

Every table lives in a :class:`ContextMemo`, which an optimizer owns and hands to its plan;
nothing is remembered process-wide, and a memo is forgotten with its optimizer. Each table is
bounded: the oldest half is dropped when it is full.

The strategies, the summarizers and the fact helpers read the memo of the optimizer that is
running through :func:`active_memo` (a context variable set by ``ContextOptimizer.optimize``).
A context variable rather than an argument: the public ``Summarizer.summarize(text, ...)``
protocol has no room for it, and user strategies must not have to thread it through. Called
outside an optimizer, the helpers get a fresh, empty memo: the same results, computed anew.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, TypeVar

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from langchain_tokenopt.tokens import REPLY_PRIMING, TokenCounter

__all__ = [
    "ContextMemo",
    "active_memo",
    "count_each",
    "count_messages",
    "count_text",
    "count_texts",
    "memo",
    "message_key",
]

T = TypeVar("T")
_MISSING = object()
_serial = itertools.count()  # a counter, not a table: tells block-content messages apart


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


_COUNT_TAGS = MappingProxyType(
    {"o200k_base": "count:o200k_base", "cl100k_base": "count:cl100k_base"}
)


class ContextMemo:
    """The memoized per-message and per-line work of one optimizer (bounded tables).

    Args:
        max_entries: Entries per message table before the oldest half is dropped.
        max_texts: Entries per text table (token counts of strings, transcript lines).

    Example:
        .. code-block:: python

            memo = ContextMemo()
            memo.count_messages(TokenCounter(), messages)  # counted once per message
            memo.count_messages(TokenCounter(), messages)  # dictionary reads
    """

    def __init__(self, *, max_entries: int = 100_000, max_texts: int = 65_536) -> None:
        self.max_entries = max_entries
        self.max_texts = max_texts
        self._lock = threading.Lock()
        self._values: dict[tuple[Any, ...], Any] = {}
        self._keys: dict[int, tuple[BaseMessage, int, tuple[Any, ...]]] = {}
        self._by_object: dict[tuple[str, int], tuple[BaseMessage, int, Any]] = {}
        self._text_counts: dict[str, dict[str, int]] = {}
        self._tables: dict[str, dict[Hashable, Any]] = {}
        self._counters: dict[str, TokenCounter] = {}

    # ------------------------------------------------------------------ lifecycle
    def clear(self) -> None:
        """Forget every memoized value (for cold-start measurements and tests)."""
        with self._lock:
            self._values.clear()
            self._keys.clear()
            self._by_object.clear()
            self._text_counts.clear()
            self._tables.clear()

    def __len__(self) -> int:
        """Number of remembered values in all tables."""
        return (
            len(self._values)
            + len(self._by_object)
            + sum(len(t) for t in self._text_counts.values())
            + sum(len(t) for t in self._tables.values())
        )

    @contextmanager
    def active(self) -> Iterator[ContextMemo]:
        """Make this memo the one :func:`active_memo` returns inside the ``with`` block."""
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)

    def _bound(self, table: dict[Any, Any], limit: int) -> None:
        with self._lock:
            if len(table) > limit:  # drop the oldest half (insertion order)
                for old in list(table)[: limit // 2]:
                    table.pop(old, None)

    # ------------------------------------------------------------------ per message
    def message_key(self, msg: BaseMessage) -> tuple[Any, ...]:
        """Return the content key of ``msg`` (equal for equal messages, even across copies)."""
        content = msg.content
        shape = len(content) if type(content) is str else -1
        hit = self._keys.get(id(msg))  # dict reads and writes are atomic in CPython
        if hit is not None and hit[0] is msg and hit[1] == shape:
            return hit[2]
        key = _content_key(msg)
        self._keys[id(msg)] = (msg, shape, key)
        if len(self._keys) > self.max_entries:
            self._bound(self._keys, self.max_entries)
        return key

    def get(self, tag: str, msg: BaseMessage, compute: Callable[[], T]) -> T:
        """Return ``compute()`` for ``msg``, computed once per message content and tag."""
        content = msg.content
        shape = len(content) if type(content) is str else -1
        slot = (tag, id(msg))
        fast = self._by_object.get(slot)  # the same object again: one dict read
        if fast is not None and fast[0] is msg and fast[1] == shape:
            hit: T = fast[2]
            return hit
        key = (tag, self.message_key(msg))
        found = self._values.get(key, _MISSING)
        if found is _MISSING:
            value: T = compute()
            self._values[key] = value
            if len(self._values) > self.max_entries:
                self._bound(self._values, self.max_entries)
        else:
            value = found
        self._by_object[slot] = (msg, shape, value)
        if len(self._by_object) > self.max_entries:
            self._bound(self._by_object, self.max_entries)
        return value

    def count_each(self, counter: TokenCounter, messages: Sequence[BaseMessage]) -> list[int]:
        """Return ``counter.count_message`` of every message; new ones counted in one batch."""
        tag = _COUNT_TAGS.get(counter.encoding_name) or f"count:{counter.encoding_name}"
        by_object, values = self._by_object, self._values
        out: list[int] = []
        slow: list[int] = []  # not seen as this object: looked up (or counted) by content
        get = by_object.get
        for i, msg in enumerate(messages):
            fast = get((tag, id(msg)))
            if fast is not None and fast[0] is msg and fast[1] == _shape(msg):
                out.append(fast[2])
            else:
                out.append(-1)
                slow.append(i)
        if not slow:
            return out
        keys = {i: (tag, self.message_key(messages[i])) for i in slow}
        todo = [i for i in slow if values.get(keys[i], -1) < 0]
        fresh = dict(zip(todo, counter.count_each([messages[i] for i in todo]), strict=True))
        for i in slow:
            n = fresh[i] if i in fresh else values[keys[i]]
            out[i] = n
            values[keys[i]] = n
            by_object[(tag, id(messages[i]))] = (messages[i], _shape(messages[i]), n)
        if len(values) > self.max_entries:
            self._bound(values, self.max_entries)
        if len(by_object) > self.max_entries:
            self._bound(by_object, self.max_entries)
        return out

    def count_messages(self, counter: TokenCounter, messages: Sequence[BaseMessage]) -> int:
        """Return ``counter.count_messages(messages)``, memoized per message."""
        if not messages:
            return 0
        return REPLY_PRIMING + sum(self.count_each(counter, messages))

    # ------------------------------------------------------------------ per text
    _MAX_TEXT_CHARS = 16_384  # longer strings are counted, not remembered

    def count_texts(self, counter: TokenCounter, texts: Sequence[str]) -> list[int]:
        """Count strings, memoized by text; the ones not seen before are counted in one batch.

        Summaries and transcript lines are counted again on every turn; this makes a repeat
        a dictionary lookup.
        """
        cache = self._text_counts.setdefault(counter.encoding_name, {})
        out = [cache.get(t, -1) for t in texts]
        todo = [i for i, n in enumerate(out) if n < 0]
        if todo:
            fresh = counter.count_batch([texts[i] for i in todo])
            with self._lock:
                for i, n in zip(todo, fresh, strict=True):
                    out[i] = n
                    if len(texts[i]) <= self._MAX_TEXT_CHARS:
                        cache[texts[i]] = n
            if len(cache) > self.max_texts:
                self._bound(cache, self.max_texts)
        return out

    def count_text(self, counter: TokenCounter, text: str) -> int:
        """Count one string, memoized like :meth:`count_texts`."""
        return self.count_texts(counter, [text])[0]

    def table(self, name: str) -> dict[Hashable, Any]:
        """A named keyed table of this memo (bounded by :meth:`remember`)."""
        found = self._tables.get(name)
        if found is None:
            found = self._tables.setdefault(name, {})
        return found

    def remember(self, name: str, key: Hashable, value: T, *, limit: int | None = None) -> T:
        """Store ``value`` under ``key`` in the table ``name`` and return it.

        The table keeps at most ``limit`` entries (``max_texts`` when ``None``).
        """
        table = self.table(name)
        table[key] = value
        bound = self.max_texts if limit is None else limit
        if len(table) > bound:
            self._bound(table, bound)
        return value

    def counter_for(self, encoding: str) -> TokenCounter:
        """A token counter for an encoding name, made once per memo."""
        found = self._counters.get(encoding)
        if found is None:
            found = self._counters.setdefault(encoding, TokenCounter(encoding=encoding))
        return found


_active: ContextVar[ContextMemo | None] = ContextVar("tokenopt_context_memo", default=None)


def active_memo() -> ContextMemo:
    """The memo of the optimizer running in this context, or a fresh empty one."""
    found = _active.get()
    return found if found is not None else ContextMemo()


# Shorthands on the active memo, for the strategies and helpers.
def message_key(msg: BaseMessage) -> tuple[Any, ...]:
    """:meth:`ContextMemo.message_key` on the active memo."""
    return active_memo().message_key(msg)


def memo(tag: str, msg: BaseMessage, compute: Callable[[], T]) -> T:
    """:meth:`ContextMemo.get` on the active memo."""
    return active_memo().get(tag, msg, compute)


def count_each(counter: TokenCounter, messages: Sequence[BaseMessage]) -> list[int]:
    """:meth:`ContextMemo.count_each` on the active memo."""
    return active_memo().count_each(counter, messages)


def count_messages(counter: TokenCounter, messages: Sequence[BaseMessage]) -> int:
    """:meth:`ContextMemo.count_messages` on the active memo."""
    return active_memo().count_messages(counter, messages)


def count_texts(counter: TokenCounter, texts: Sequence[str]) -> list[int]:
    """:meth:`ContextMemo.count_texts` on the active memo."""
    return active_memo().count_texts(counter, texts)


def count_text(counter: TokenCounter, text: str) -> int:
    """:meth:`ContextMemo.count_text` on the active memo."""
    return active_memo().count_text(counter, text)
