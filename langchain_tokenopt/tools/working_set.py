"""A thread's tool working set, and the task the next model call serves.

The tools bound in one conversation form a *working set*: tools join it when the retriever
picks them, when ``find_tools`` loads them or when the model calls them, and they stay bound
on every later call, so a confirmation ("yes, go ahead") or the next step of a tool loop
never finds the tool it needs unbound. New tools are appended, so the bound list changes as
little as possible from call to call (and a provider's prompt cache keeps its prefix). Above
a token cap the least recently used tools leave first; tools in use by the current task
never do.

The set is a plain JSON-able value kept in the agent state (the graph's and the
middleware's), so it survives a checkpoint and a process restart:
:meth:`ToolWorkingSet.to_state` / :meth:`ToolWorkingSet.from_state`.

:func:`task_context` reads what the next call is about from the conversation: the newest
human turn (joined to the open task's earlier turns, those since the agent's newest tool
result, or to the one before when it is a short confirmation or follow-up), the assistant's
latest words and its most recent tool calls.

Example:
    .. code-block:: python

        from langchain_tokenopt.tools.working_set import ToolWorkingSet, task_context

        ws = ToolWorkingSet.from_state(state.get("tool_working_set"))
        ctx = task_context(state["messages"])
        ctx.query, ctx.follow_up, ctx.context_texts
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from langchain_tokenopt._content import text_blocks

__all__ = [
    "WORKING_SET_KEY",
    "TaskContext",
    "ToolWorkingSet",
    "is_follow_up",
    "is_reply",
    "task_context",
]

#: The agent-state key the graph and the middleware keep the working set under.
WORKING_SET_KEY = "tool_working_set"

_FORMAT = 1

# Short replies that continue the open task rather than start a new one. Matched on the
# whole (lower-cased, punctuation-stripped) message, so "yes, cancel it" is a follow-up but
# "yes, and also book a hotel in Rome for two nights" is judged by its length.
_CONFIRMATION = re.compile(
    r"^(?:(?:yes|yeah|yep|yup|sure|ok|okay|alright|right|correct|exactly|confirmed?|agreed|"
    r"no|nope|not really|please|thanks|thank you|great|perfect|fine|good|sounds good|"
    r"go ahead|proceed|do it|that's right|that is right|that's correct|that is correct|"
    r"that works|that's fine|that's it|let's do it|i confirm|i agree|"
    r"the first one|the second one|the third one|the last one|both|all of them|"
    r"neither|none|never mind)\b[\s,.!]*)+"
)
_FOLLOW_UP_START = re.compile(
    r"^(?:and|also|what about|how about|and what about|same for|then|but|or|what if)\b"
)
_FOLLOW_UP_WORDS = 8
_CONFIRMATION_WORDS = 12


def is_follow_up(text: str) -> bool:
    """Return True for a short confirmation or follow-up that continues the open task.

    Example:
        .. code-block:: python

            is_follow_up("Yes, please proceed.")  # True
            is_follow_up("and the boots?")  # True
            is_follow_up("Cancel my reservation ABC123.")  # False
    """
    lowered = " ".join(text.lower().split())
    words = lowered.split()
    if not words:
        return True
    if len(words) <= _CONFIRMATION_WORDS and _CONFIRMATION.match(lowered):
        rest = _CONFIRMATION.sub("", lowered, count=1).split()
        return len(rest) <= 6
    return len(words) <= _FOLLOW_UP_WORDS and bool(_FOLLOW_UP_START.match(lowered))


# A reply that turns the task elsewhere ("no, cancel it instead") or adds a request ("sure,
# and also book a hotel") is not a plain reply (see :func:`is_reply`).
_REDIRECT_START = re.compile(r"^(?:no|nope|not really|neither|none|never mind|please)\b")


def is_reply(text: str) -> bool:
    """Return True for the user's reply to the agent: a confirmation or a short answer.

    "Yes, please go ahead.", "Sure, my user id is mia_li_3668.", "Thanks, talk soon!" reply;
    a message that opens with a negation or a bare "please", or whose words after the
    confirmation start a new request ("sure, and also book a hotel"), does not: it may
    turn the task to something the bound tools do not do.

    Example:
        .. code-block:: python

            [is_reply(t) for t in ("Sure! My user ID is mia_li_3668.", "Sure, also book a hotel.")]
            # [True, False]
    """
    lowered = " ".join(text.lower().split())
    if not is_follow_up(lowered) or _REDIRECT_START.match(lowered):
        return False
    if not _CONFIRMATION.match(lowered):
        return False
    rest = _CONFIRMATION.sub("", lowered, count=1)
    return not _FOLLOW_UP_START.match(rest)


def message_text(message: BaseMessage) -> str:
    """The text blocks of a message's content, joined (tool calls and images left out)."""
    content = message.content
    return content if isinstance(content, str) else " ".join(text_blocks(content)[0])


@dataclass(frozen=True)
class TaskContext:
    """What the next model call is about, read from the conversation."""

    query: str
    """The retrieval query of the turn: the newest human message, prefixed by the open
    task's earlier human turns (those since the newest tool result: the first and the two
    newest), or by the turn before when it is a short follow-up."""
    follow_up: bool
    """The newest human message is a confirmation or short follow-up."""
    context_texts: tuple[str, ...]
    """Further retrieval queries: the assistant's latest words, its recent tool calls (name
    and arguments) and the latest tool result's opening, newest first."""
    turn: int
    """Number of human messages so far (the index of the current user turn, from 1)."""
    recent_calls: Mapping[str, int] = field(default_factory=dict)
    """Tools called anywhere in the conversation, with the user turn of their last call."""
    newest: str = ""
    """The newest human message alone (the query joins earlier turns to it)."""
    task_turns: int = 0
    """Earlier human turns of the open task (since the agent's newest tool result); 0 when
    the newest turn starts it."""
    parts: tuple[str, ...] = ()
    """The human turns that :attr:`query` joins, in order (empty when it is one turn, or
    was cut to ``max_query_chars``): what the query's vector can be made of."""
    reply: bool = False
    """The newest human message replies to the agent (:func:`is_reply`): a confirmation or
    a short answer to its question, not a new request."""


#: Characters of one context text that are ranked.
_CONTEXT_CHARS = 240
#: Words of a tool call or result that are ranked (see :func:`_query_words`).
_CONTEXT_WORDS = 32
#: What separates the words of a JSON payload (punctuation, underscores, whitespace).
_JSON_SPLIT = re.compile(r"[\s\"'{}\[\](),:;=_/.|-]+")


def _query_words(text: str, *, limit: int = _CONTEXT_WORDS) -> str:
    """The words of a tool call or result that say what it is about, for ranking tools.

    Keys and word values are kept; ids, codes, amounts and dates (anything with a digit)
    and JSON punctuation are not: they match no tool description, and the encoder would
    spend most of its time on their word pieces.

    Example:
        .. code-block:: python

            _query_words('get_reservation_details {"reservation_id": "UM3OG5"}')
            # 'get reservation details reservation id'
    """
    words = [w for w in _JSON_SPLIT.split(text) if w and not any(c.isdigit() for c in w)]
    return " ".join(words[:limit])


#: Tool calls of the assistant read for the context query.
_RECENT_CALLS = 2
#: Earlier human turns of the open task joined to the query.
_OPEN_TURNS = 3


def task_context(messages: Sequence[BaseMessage], *, max_query_chars: int = 4000) -> TaskContext:
    """Read the open task from a conversation (pure: same messages, same context)."""
    human_positions = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    turn = len(human_positions)
    recent: dict[str, int] = {}
    turn_of = 0
    for m in messages:
        if isinstance(m, HumanMessage):
            turn_of += 1
        elif isinstance(m, AIMessage):
            for call in m.tool_calls:
                recent[str(call.get("name"))] = turn_of
    if not human_positions:
        return TaskContext("", False, (), 0, recent)
    last = human_positions[-1]
    newest = message_text(messages[last]).strip()
    follow = is_follow_up(newest)
    # The open task's earlier turns: the human turns since the agent last acted (its newest
    # tool result). Until it calls a tool, the user is still stating the request ("cancel my
    # flight" ... "I don't remember my user id" ... "please don't transfer me").
    acted = max(
        (i for i, m in enumerate(messages[:last]) if isinstance(m, ToolMessage)), default=-1
    )
    open_turns = [
        text
        for i in human_positions[:-1]
        if i > acted and (text := message_text(messages[i]).strip())
    ]
    # the turn that states the request, then the newest ones (answers to the agent's questions)
    earlier_turns = open_turns[:1] + open_turns[1:][-(_OPEN_TURNS - 1) :]
    if follow and not earlier_turns:
        for i in reversed(human_positions[:-1]):
            earlier = message_text(messages[i]).strip()
            if earlier and not is_follow_up(earlier):
                earlier_turns = [earlier]
                break
    query = newest[:max_query_chars]
    parts: tuple[str, ...] = ()
    if earlier_turns and len(query) < max_query_chars:  # earlier turns fill what is left
        joined = "\n".join([*earlier_turns, query])
        query = joined[-max_query_chars:]
        parts = (*earlier_turns, newest) if len(joined) <= max_query_chars else ()
    contexts: list[str] = []
    calls_seen = 0
    result_seen = False
    ai_text_seen = False
    for m in reversed(messages):
        if isinstance(m, ToolMessage) and not result_seen:
            result_seen = True
            body = _query_words(message_text(m)[: _CONTEXT_CHARS * 4])
            if body:
                contexts.append(body)
        elif isinstance(m, AIMessage):
            if m.tool_calls and calls_seen < _RECENT_CALLS:
                for c in m.tool_calls[:_RECENT_CALLS]:
                    args = json.dumps(c.get("args") or {}, ensure_ascii=False, default=str)
                    contexts.append(_query_words(f"{c.get('name')} {args}"[: _CONTEXT_CHARS * 4]))
                calls_seen += 1
            words = message_text(m).strip()
            if words and not ai_text_seen:
                ai_text_seen = True
                contexts.append(words[:_CONTEXT_CHARS])
        if calls_seen >= _RECENT_CALLS and ai_text_seen and result_seen:
            break
    return TaskContext(
        query=query,
        follow_up=follow,
        context_texts=tuple(dict.fromkeys(t for t in contexts if t)),
        turn=turn,
        recent_calls=recent,
        newest=newest[:max_query_chars],
        task_turns=len(open_turns),
        parts=parts,
        reply=is_reply(newest),
    )


@dataclass(frozen=True)
class ToolWorkingSet:
    """The catalog tools bound in one thread, oldest first, with when each was last used.

    Example:
        .. code-block:: python

            ws = ToolWorkingSet.from_state(None)  # empty: a fresh thread
            ws = ws.touch(["get_weather"], turn=1)
            ws.names  # ("get_weather",)
            state_value = ws.to_state()
    """

    names: tuple[str, ...] = ()
    """Bound catalog tools in bind order (new tools are appended)."""
    last_used: Mapping[str, int] = field(default_factory=dict)
    """User turn (1-based) at which each tool was last picked, loaded or called."""

    @property
    def is_empty(self) -> bool:
        """True for a fresh thread (nothing bound yet)."""
        return not self.names

    def touch(self, names: Sequence[str], *, turn: int) -> ToolWorkingSet:
        """Return the set with ``names`` appended (when new) and marked used at ``turn``."""
        order = list(self.names)
        used = dict(self.last_used)
        for name in names:
            if name not in order:
                order.append(name)
            used[name] = max(turn, used.get(name, 0))
        return ToolWorkingSet(tuple(order), used)

    def without(self, names: Sequence[str]) -> ToolWorkingSet:
        """Return the set without ``names`` (evicted tools)."""
        gone = set(names)
        return ToolWorkingSet(
            tuple(n for n in self.names if n not in gone),
            {k: v for k, v in self.last_used.items() if k not in gone},
        )

    def to_state(self) -> dict[str, Any]:
        """A JSON-able value for the agent state (checkpointers serialize it as is)."""
        return {
            "format": _FORMAT,
            "names": list(self.names),
            "last_used": {n: int(self.last_used.get(n, 0)) for n in self.names},
        }

    @classmethod
    def from_state(cls, value: Any) -> ToolWorkingSet:
        """Read a state value back; anything unreadable gives an empty set (fail open)."""
        if isinstance(value, ToolWorkingSet):
            return value
        if not isinstance(value, Mapping) or value.get("format") != _FORMAT:
            return cls()
        names = value.get("names")
        used = value.get("last_used")
        if not isinstance(names, list) or not isinstance(used, Mapping):
            return cls()
        clean = tuple(dict.fromkeys(n for n in names if isinstance(n, str) and n))
        turns = {
            n: int(t)
            for n, t in used.items()
            if n in clean and isinstance(t, int) and not isinstance(t, bool)
        }
        return cls(clean, turns)
