"""Summaries of old history segments: extractive (no LM) or written by any chat model.

A segment is rendered as a compact transcript (:func:`render_transcript`: one line per
message, tool calls as ``name({...args})``, tool outputs reduced to their facts), then
summarized by a :class:`Summarizer`:

* :class:`ExtractiveSummarizer` keeps whole lines by importance (facts, decisions,
  preferences, the user's words) up to the token target. No model, microseconds.
* :class:`ChatModelSummarizer` asks a LangChain chat model (default: the local SmolLM2 through
  :class:`~langchain_tokenopt.llms.LocalChatModel`) and then **checks** that the ids and
  numbers of the segment survive, appending the missing ones as a ``Facts:`` line. If the
  model fails it logs and falls back to the extractive summary (fail open).

:class:`SummaryCache` memoizes summaries by the content of what was summarized, so a segment
or a group of summaries is summarized once across turns.

Example:
    .. code-block:: python

        text = render_transcript(messages)
        ExtractiveSummarizer().summarize(text, max_tokens=120, counter=TokenCounter())
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from langchain_tokenopt.context._memo import active_memo, count_text, count_texts, memo
from langchain_tokenopt.context.facts import (
    DECISION_RE,
    PREFERENCE_RE,
    extract_facts,
    message_facts,
    message_text,
    ranked_facts,
    text_facts,
    tool_call_text,
)
from langchain_tokenopt.context.summary_cache import EXTRACTIVE_NAMESPACE, SummaryCache
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "ChatModelSummarizer",
    "ExtractiveSummarizer",
    "SummaryCache",
    "Summarizer",
    "ensure_facts",
    "render_digest",
    "render_transcript",
    "shrink_lines",
]

logger = logging.getLogger(__name__)

_TOOL_FACTS = 16


def render_transcript(messages: Sequence[BaseMessage], *, tool_facts: int = _TOOL_FACTS) -> str:
    """Render messages as compact transcript lines for summarization.

    Tool calls keep their full arguments (they are the ids later turns need); tool outputs
    are reduced to at most ``tool_facts`` of their fact-like strings.
    """
    parts = [
        memo(f"line:{tool_facts}", m, lambda m=m: _render([m], tool_facts))  # type: ignore[misc]
        for m in messages
    ]
    return "\n".join(p for p in parts if p)


def render_digest(messages: Sequence[BaseMessage]) -> str:
    """Render the cheap digest of old messages: the user's lines and the tool calls only.

    Used for history far behind the window (see ``HierarchicalSummary.detail_tokens``): it
    keeps the user's words and the ids / values the agent acted on (the call arguments)
    without reading assistant prose or tool outputs.
    """
    parts = [memo("digest", m, lambda m=m: _digest_one(m)) for m in messages]  # type: ignore[misc]
    return "\n".join(p for p in parts if p)


def _digest_one(msg: BaseMessage) -> str:
    if isinstance(msg, HumanMessage):
        lines: list[str] = []
        _render_one(msg, _TOOL_FACTS, lines)
        return "\n".join(lines)
    if isinstance(msg, AIMessage) and (msg.tool_calls or msg.invalid_tool_calls):
        return "\n".join(f"Called {c}" for c in tool_call_text(msg).splitlines())
    return ""


def line_facts(line: str) -> tuple[str, ...]:
    """Facts of a transcript line: known from its message when it was rendered, else scanned.

    What rendering noted lives in the active optimizer's memo (see ``_memo``).
    """
    known = active_memo().table("line-facts").get(line)
    return known if known is not None else tuple(extract_facts(line))


def _note_facts(line: str, facts: Sequence[str]) -> None:
    """Remember a line's facts (a subset of its message's facts, which were scanned once)."""
    active_memo().remember("line-facts", line, tuple(f for f in facts if f in line))


def _render(messages: Sequence[BaseMessage], tool_facts: int) -> str:
    lines: list[str] = []
    for msg in messages:
        _render_one(msg, tool_facts, lines)
    return "\n".join(lines)


def _render_one(msg: BaseMessage, tool_facts: int, lines: list[str]) -> None:
    """Append the lines of one message; remember the facts of its text and tool lines."""
    if isinstance(msg, ToolMessage):
        facts = ranked_facts(message_facts(msg), tool_facts)
        status = " error" if msg.status == "error" else ""
        shown = ", ".join(facts) if facts else _first_words(message_text(msg), 12)
        line = f"Tool {msg.name or 'result'}{status} -> {shown}"
        lines.append(line)
        active_memo().remember("line-facts", line, tuple(facts))
        return
    text = " ".join(message_text(msg, with_calls=False).split())
    if text:
        line = f"{_label(msg)}: {text}"
        lines.append(line)
        _note_facts(line, text_facts(msg))
    if isinstance(msg, AIMessage) and (msg.tool_calls or msg.invalid_tool_calls):
        lines.extend(f"Called {c}" for c in tool_call_text(msg).splitlines())


def _label(msg: BaseMessage) -> str:
    if isinstance(msg, HumanMessage):
        return "User"
    if isinstance(msg, AIMessage):
        return "Assistant"
    if isinstance(msg, SystemMessage):
        return "Note"
    return msg.type


def _first_words(text: str, n: int) -> str:
    words = text.split()
    return " ".join(words[:n]) + (" ..." if len(words) > n else "")


# Case-sensitive copies of the two marker patterns, run on the lowered line: the same matches
# (the patterns are lowercase words) at under half the cost of ``re.IGNORECASE``.
_DECISION_LOWER = re.compile(DECISION_RE.pattern)
_PREFERENCE_LOWER = re.compile(PREFERENCE_RE.pattern)


def _line_score(line: str) -> float:
    """Importance of a transcript line, memoized with the facts it was scored on."""
    facts = line_facts(line)
    memo = active_memo()
    found = memo.table("line-score").get(line)
    if found is not None and found[0] == facts:
        score: float = found[1]
        return score
    score = _score_line(line, len(facts))
    memo.remember("line-score", line, (facts, score))
    return score


def _score_line(line: str, facts: int) -> float:
    lowered = line.lower()
    score = min(facts, 4) * 1.0
    if line.startswith("Called "):
        score += 4.0
    elif line.startswith("User: "):
        score += 2.0
        if _PREFERENCE_LOWER.search(lowered):
            score += 1.5
    elif line.startswith("Summary") or line.startswith("Facts:"):
        score += 5.0
    elif line.startswith("Tool "):
        score += 1.5  # a tool output reduced to its ids: dense, and often not repeated
    elif line.startswith("Assistant: "):
        score -= 1.0  # mostly restates tool outputs and the user's words
    if _DECISION_LOWER.search(lowered):
        score += 1.0
    return score


_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")


#: Longest line of facts :func:`ensure_facts` writes (below :func:`_shorten`'s 320 chars).
_FACT_LINE_CHARS = 300


def _shorten(line: str, max_chars: int = 320) -> str:
    """Shorten a long line to its sentences that carry facts or intent (memoized)."""
    if len(line) <= max_chars or line.startswith("Called "):
        return line
    facts = line_facts(line)
    key = (line, max_chars, facts)
    memo = active_memo()
    found = memo.table("shortened").get(key)
    if found is None:
        found = memo.remember("shortened", key, _shorten_with(line, max_chars, facts))
    short: str = found
    _note_facts(short, facts)
    return short


def _shorten_with(line: str, max_chars: int, facts: tuple[str, ...]) -> str:
    prefix, sep, body = line.partition(": ")
    if not sep:  # no "Label: " (a tool line "Tool x -> ids"): the whole line is the body
        prefix, body = "", line
    keep = [
        s
        for s in _SENTENCE_RE.split(body)
        if any(f in s for f in facts) or DECISION_RE.search(s) or PREFERENCE_RE.search(s)
    ]
    short = " ".join(keep) or body
    if len(short) > max_chars:
        short = short[: max_chars - 4].rstrip() + " ..."
    return f"{prefix}: {short}" if prefix and body else short


def shrink_lines(text: str, max_tokens: int, counter: TokenCounter) -> str:
    """Keep the most important lines of ``text`` (in order) within ``max_tokens``.

    Always returns a text of at most ``max_tokens`` tokens (possibly empty).
    """
    if max_tokens <= 0:
        return ""
    raw = [line for line in text.splitlines() if line.strip()]
    # Lines are counted one by one (memoized, reused by every level of the hierarchy); the
    # whole text is counted only when its lines could fit: a newline merges with at most
    # one neighbouring token, so the text has at least sum(lines) - len(lines) tokens.
    if sum(count_texts(counter, raw)) - len(raw) <= max_tokens and (
        count_text(counter, text) <= max_tokens
    ):
        return text
    lines = [_shorten(line) for line in raw]
    costs = count_texts(counter, lines)
    order = sorted(range(len(lines)), key=lambda i: (-_line_score(lines[i]), -i))
    chosen: set[int] = set()
    used = 0
    for i in order:
        cost = costs[i] + 1
        if used + cost <= max_tokens:
            chosen.add(i)
            used += cost
    out = "\n".join(lines[i] for i in sorted(chosen))
    while out and count_text(counter, out) > max_tokens:  # newline merges can shift counts
        out = out.rsplit("\n", 1)[0] if "\n" in out else ""
    return out


def ensure_facts(summary: str, source: str, max_tokens: int, counter: TokenCounter) -> str:
    """Append the facts of ``source`` missing from ``summary`` (as many as fit).

    Facts from tool calls and user lines come first, tool outputs last.
    """
    priority: dict[str, None] = {}
    rest: dict[str, None] = {}
    for line in source.splitlines():
        target = priority if line.startswith(("Called ", "User: ", "Facts:")) else rest
        for fact in line_facts(line):
            target.setdefault(fact, None)
    facts = [f for f in [*ranked_facts(priority), *ranked_facts(rest)] if f not in summary]
    if not facts:
        return summary
    room = max_tokens - count_text(counter, summary) - 4
    kept: list[str] = []
    used = 2
    for fact, size in zip(facts, count_texts(counter, facts), strict=True):
        cost = size + 1
        if used + cost > room:
            continue
        kept.append(fact)
        used += cost
    if not kept:
        return summary
    # Lines short enough that a later fit never cuts one in the middle (``_shorten``):
    # each line of facts is kept or left whole.
    lines: list[list[str]] = [[]]
    width = 0
    for fact in kept:
        if lines[-1] and width + len(fact) + 2 > _FACT_LINE_CHARS:
            lines.append([])
            width = 0
            used += 3  # the next line's "Facts:" label
        lines[-1].append(fact)
        width += len(fact) + 2
    while lines and used > room:  # the labels did not fit: the last line's facts go
        used -= sum(count_texts(counter, lines[-1])) + len(lines[-1]) + 3
        lines.pop()
    block = "\n".join(f"Facts: {', '.join(line)}" for line in lines)
    return f"{summary}\n{block}".strip()


@runtime_checkable
class Summarizer(Protocol):
    """Turns a transcript (or earlier summaries) into a shorter text."""

    @property
    def cache_key(self) -> str:
        """Identifies the summarizer and its settings in :class:`SummaryCache` keys."""
        ...

    def summarize(self, text: str, *, max_tokens: int, counter: TokenCounter) -> str:
        """Return a summary of ``text`` of at most ``max_tokens`` tokens."""
        ...


class ExtractiveSummarizer:
    """Keep the most informative transcript lines; needs no language model.

    Lines are ranked by the facts they carry (ids, numbers, dates), tool-call arguments,
    the user's own words, preferences and decisions; the chosen lines stay in order, and the
    facts of dropped lines are appended while room remains.

    Example:
        .. code-block:: python

            ExtractiveSummarizer().summarize(transcript, max_tokens=100, counter=TokenCounter())
    """

    @property
    def cache_key(self) -> str:
        """Cache namespace of this summarizer."""
        return EXTRACTIVE_NAMESPACE

    def summarize(self, text: str, *, max_tokens: int, counter: TokenCounter) -> str:
        """Return the most important lines of ``text`` within ``max_tokens``."""
        body = shrink_lines(text, max(0, max_tokens - 24), counter)
        if body == text:  # nothing left out, so no fact is missing: the text is its summary
            return text
        out = ensure_facts(body, text, max_tokens, counter)
        return shrink_lines(out, max_tokens, counter)


_PROMPT = (
    "Summarize this conversation between a user and an assistant in at most {words} words. "
    "Keep every id, number, date, name and decision exactly as written.\n\n{text}\n\nSummary:"
)


class ChatModelSummarizer:
    """Summaries written by a LangChain chat model, with a fact-survival check.

    Args:
        model: Any ``BaseChatModel``; ``None`` uses the local SmolLM2
            (:class:`~langchain_tokenopt.llms.LocalChatModel`, loaded on first use).
        max_input_tokens: The transcript given to the model is cut to this many tokens.
        fallback: Used when the model fails (fail open).

    Example:
        .. code-block:: python

            summarizer = ChatModelSummarizer()  # local SmolLM2, offline
            summarizer.summarize(transcript, max_tokens=120, counter=TokenCounter())
    """

    def __init__(
        self,
        model: BaseChatModel | None = None,
        *,
        max_input_tokens: int = 768,
        fallback: Summarizer | None = None,
    ) -> None:
        if not isinstance(max_input_tokens, int) or max_input_tokens < 32:
            msg = f"max_input_tokens must be an int >= 32, got {max_input_tokens!r}"
            raise TokenOptConfigError(msg)
        self._model = model
        self.max_input_tokens = max_input_tokens
        self.fallback: Summarizer = fallback or ExtractiveSummarizer()
        self.calls = 0
        """Number of model calls made (summaries served from a cache do not count)."""
        self._lock = threading.Lock()

    @property
    def model(self) -> BaseChatModel:
        """The chat model (the local SmolLM2 when none was given)."""
        with self._lock:
            if self._model is None:
                from langchain_tokenopt.llms import LocalChatModel

                self._model = LocalChatModel()
            return self._model

    @property
    def cache_key(self) -> str:
        """Cache namespace: model class and name."""
        model = self._model
        name = getattr(model, "model_name", None) or getattr(model, "model", None) or ""
        return f"chat-v1:{type(model).__name__ if model else 'LocalChatModel'}:{name}"

    def summarize(self, text: str, *, max_tokens: int, counter: TokenCounter) -> str:
        """Ask the model for a summary, then restore missing facts and enforce the limit."""
        source = shrink_lines(text, self.max_input_tokens, counter)
        words = max(10, int(max_tokens * 0.6))
        try:
            reply = self.model.invoke(
                _PROMPT.format(words=words, text=source), max_tokens=max_tokens
            )
            self.calls += 1
            summary = " ".join(message_text(reply, with_calls=False).split())
        except Exception:
            logger.warning("summary model failed; using the extractive summary", exc_info=True)
            return self.fallback.summarize(text, max_tokens=max_tokens, counter=counter)
        if not summary:
            return self.fallback.summarize(text, max_tokens=max_tokens, counter=counter)
        summary = shrink_lines(summary, max(1, max_tokens // 2), counter)
        if counter.count(summary) > max_tokens // 2:
            summary = _cut_tokens(summary, max_tokens // 2, counter)
        return shrink_lines(ensure_facts(summary, text, max_tokens, counter), max_tokens, counter)


def _cut_tokens(text: str, max_tokens: int, counter: TokenCounter) -> str:
    words = text.split()
    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if counter.count(" ".join(words[:mid])) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])
