"""``ToolSelector``: the tools to bind for each model call of a thread, from its working set.

The bound tools of a conversation form a *working set*
(:class:`~langchain_tokenopt.tools.working_set.ToolWorkingSet`), kept in the agent state by
the graph and the middleware and passed back on every call:

1. The **task** is read from the conversation (:func:`task_context`): the newest human
   message, joined to the open task's earlier turns (those since the agent's newest tool
   result) or, for a short confirmation or follow-up ("yes, go ahead", "and the boots?"),
   to the one before; its ranking is memoized per user turn.
2. At a **fresh start** (empty working set, no tool call yet, the newest turn opens the
   task) the :class:`~langchain_tokenopt.tools.QueryClassifier` may abstain: only
   ``find_tools`` is bound. Once a working set exists, nothing is withheld.
3. The retriever's top ``k`` for the task join the set, plus the top ``context_k`` for the
   assistant's latest words, its recent tool calls and the latest tool result (what the
   next step of a tool loop needs), plus the members of a confident pick's **group** (the
   ``groups=`` mapping, or a shared namespace / dotted prefix), at most ``group_cap``. A
   group two of whose tools lead a ranking (or one clause's ranking) together joins too,
   however low each one's own score, unless the set already holds one of its tools.
4. Each ``find_tools(query)`` call the model made in this turn **loads** that query's top
   ``find_tools_k`` tools into the set (the meta-tool is bound whenever the catalog has more).
5. New tools are **appended** (``find_tools`` comes first, so the tools bound before a new
   one stay the request's cacheable prefix); the set never shrinks while its tools are in
   use (called in this turn or the last ``carry_turns``, loaded, named). Above
   ``max_tools`` tools or ``max_tool_tokens`` schema tokens, the least recently used of the
   others leave first (reported as ``evicted``). Once a set exists, a new pick of the turn
   joins only when it ranks above the set's own tools (``add_above_set``).

Without a stored working set (``working_set=None``) the set is rebuilt from the tools called
in the recent turns, so the selection is still a pure function of the messages.
When nothing is selected the :class:`~langchain_tokenopt.tools.ToolSelection` has no tools
and :meth:`ToolSelection.bind` leaves the model unbound (providers reject ``tools=[]``).
Token accounting (bound vs whole catalog) is on the selection and is dispatched as the
``tokenopt_tool_selection`` custom callback event when a ``config`` is passed.

Example:
    .. code-block:: python

        from langchain_tokenopt import ToolSelector

        selector = ToolSelector.from_tools(tools, k=5)

        def call_model(state, config):
            selection = selector.select(
                state["messages"], working_set=state.get("tool_working_set"), config=config
            )
            reply = selection.bind(llm).invoke(state["messages"])
            return {"messages": [reply], "tool_working_set": selection.working_set}
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from langchain_tokenopt._checks import check_min_ints
from langchain_tokenopt.errors import TokenOptConfigError, ToolSelectionError
from langchain_tokenopt.tokens import TOOLS_ARRAY_OVERHEAD, TokenCounter, get_token_counter
from langchain_tokenopt.tools.classifier import QueryClassifier
from langchain_tokenopt.tools.index import RankResult
from langchain_tokenopt.tools.records import QueryDecision, ToolSelection
from langchain_tokenopt.tools.retriever import ToolHit, ToolRetriever
from langchain_tokenopt.tools.working_set import (
    TaskContext,
    ToolWorkingSet,
    message_text,
    task_context,
)

logger = logging.getLogger(__name__)

V = TypeVar("V")

__all__ = ["DEFAULT_MAX_TOOL_TOKENS", "FIND_TOOLS_NAME", "ToolSelector", "make_find_tools_tool"]

#: Default token cap of a thread's working set (the bound tools' schemas). Sized with
#: ``python -m bench agent`` on the dev split.
DEFAULT_MAX_TOOL_TOKENS = 4000

#: Name of the meta-tool the model calls to load more tools.
FIND_TOOLS_NAME = "find_tools"
EVENT_NAME = "tokenopt_tool_selection"
_TURN_CACHE_SIZE = 256
#: Tools of the turn's ranking kept to order a group's members.
_GROUP_ORDER = 64
#: Context texts (assistant words, recent calls, latest result) ranked per call.
_CONTEXT_QUERIES = 3
#: Score a clause's runner-up needs to join with its best tool (see ``clause_picks``).
_CLAUSE_RUNNER_UP_SCORE = 0.03
#: Leading tools of a ranking (or of one clause) in which two of one group name the group
#: the query is about, however low each one's own score (see ``_consensus_picks``).
_CONSENSUS_TOP = 5
#: Summed score those tools need: in a small catalog every group has tools up there.
_CONSENSUS_MIN_SCORE = 0.05
#: Smallest catalog where leading together is a signal (the top five of ten tools is not).
_CONSENSUS_MIN_CATALOG = 4 * _CONSENSUS_TOP


class _FindToolsInput(BaseModel):
    query: str = Field(description="What the needed tool should do, in a few words.")


@dataclass(frozen=True)
class _Turn:
    turn_id: str
    query: str
    find_queries: tuple[str, ...]
    carried: tuple[str, ...]
    called: tuple[str, ...] = ()


def _messages(conversation: Any) -> list[BaseMessage]:
    if isinstance(conversation, str):
        return [HumanMessage(conversation)]
    if isinstance(conversation, Mapping):
        conversation = conversation.get("messages")
    if isinstance(conversation, BaseMessage):
        return [conversation]
    if not isinstance(conversation, Sequence) or not all(
        isinstance(m, BaseMessage) for m in conversation
    ):
        msg = "select() takes a list of BaseMessage, a state dict with 'messages', or a str"
        raise ToolSelectionError(msg)
    return list(conversation)


def make_find_tools_tool(
    func: Callable[[str], str], coroutine: Callable[[str], Awaitable[str]]
) -> BaseTool:
    """Build the ``find_tools`` meta-tool around a search function (``query -> text``).

    Example:
        .. code-block:: python

            tool = make_find_tools_tool(selector._find_tools, selector._afind_tools)
    """
    return StructuredTool.from_function(
        func=func,
        coroutine=coroutine,
        name=FIND_TOOLS_NAME,
        description=(
            "Search the tool catalog for tools not yet available. Describe the capability "
            "you need; the matching tools become callable on your next step."
        ),
        args_schema=_FindToolsInput,
    )


@dataclass(frozen=True)
class _Query:
    """One request of the selection flow: the arguments of ``retriever.rank``.

    A context text (the assistant's words, a call or a tool result) is ranked whole
    (``decompose=False``): it gives two picks at most, and split into clauses a JSON result
    would cost several embeddings for them. A query that joins a conversation's turns passes
    them as ``parts`` (its vector is made of theirs).
    """

    text: str
    decompose: bool | None = None  # None: the retriever's own setting
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Ranked:
    """The memoized ranking of one user turn's query."""

    decision: QueryDecision
    hits: list[ToolHit]
    order: tuple[str, ...]
    alone: _Ranked | None = None
    """The newest human turn ranked alone, when the query joins earlier turns to it."""
    clauses: tuple[tuple[ToolHit, ...], ...] = ()
    """Each clause's own best tools, for a multi-intent query (best first)."""
    lead: tuple[ToolHit, ...] = ()
    """The ranking's leading :data:`_CONSENSUS_TOP` tools, whatever ``k`` is."""


def _tool_groups(
    retriever: ToolRetriever, groups: Mapping[str, Sequence[str]] | None
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Groups of tools that belong together: the user's mapping, else shared namespaces.

    A tool the user put in a group belongs to that group only; the other tools are grouped
    by their namespace (explicit, an MCP server / toolkit name, or a shared dotted prefix).
    """
    catalog = retriever.index.position
    members: dict[str, list[str]] = {}
    group_of: dict[str, str] = {}
    if groups is not None:
        if not isinstance(groups, Mapping):
            msg = f"groups must map a group name to tool names, got {type(groups).__name__}"
            raise TokenOptConfigError(msg)
        for group, names in groups.items():
            if isinstance(names, str) or not isinstance(names, Sequence):
                msg = f"groups[{group!r}] must be a list of tool names, got {names!r}"
                raise TokenOptConfigError(msg)
            unknown = [n for n in names if n not in catalog]
            if unknown:
                msg = f"groups[{group!r}] names tools not in the catalog: {unknown}"
                raise TokenOptConfigError(msg)
            key = f"group:{group}"
            for name in names:
                if name not in group_of:
                    group_of[name] = key
                    members.setdefault(key, []).append(name)
    for spec in retriever.specs:
        if spec.name not in group_of and spec.namespace:
            key = f"namespace:{spec.namespace}"
            group_of[spec.name] = key
            members.setdefault(key, []).append(spec.name)
    singles = [k for k, v in members.items() if len(v) < 2]
    for key in singles:
        for name in members.pop(key):
            group_of.pop(name, None)
    return members, group_of


def _within_margin(hits: list[ToolHit], margin: float | None) -> list[ToolHit]:
    """Keep the hits within ``margin`` of the best score (named tools always)."""
    if margin is None or not hits:
        return list(hits)
    floor = max(score for _, score, _ in hits) - margin
    return [h for h in hits if h[2] or h[1] >= floor]


def _turn_id(messages: Sequence[BaseMessage], selector: ToolSelector) -> str:
    catalog = selector.retriever.index.position
    try:
        return parse_turn(messages, catalog=catalog, carry_turns=0).turn_id
    except Exception:  # noqa: BLE001 - only an id for the fallback's record
        return ""


class _SelectionRun:
    """One selection flow being driven: the next query to rank, then the selection.

    ``select`` and ``aselect`` share it; only how they rank differs. A failure in the flow
    or in a ranking fails open: the selection binds the whole catalog.
    """

    def __init__(
        self,
        selector: ToolSelector,
        messages: list[BaseMessage],
        working_set: Any,
        margin: float | None,
    ) -> None:
        self.messages, self.selector = messages, selector
        self.flow = selector._flow(messages, working_set, margin)
        self.selection: ToolSelection
        self._result: RankResult | None = None
        self._done = False

    def next(self) -> _Query | None:
        """The next query to rank; ``None`` once the selection is made."""
        if self._done:
            return None
        try:
            request = self.flow.send(self._result)
            return request if isinstance(request, _Query) else _Query(request)
        except StopIteration as stop:
            self._finish(stop.value)
        except Exception as exc:  # fail open: never break the user's agent
            self.failed(exc)
        return None

    def ranked(self, result: RankResult | None) -> None:
        """The ranking of the last query, sent into the flow next."""
        self._result = result

    def failed(self, exc: Exception) -> None:
        """Bind the whole catalog (the flow is dropped)."""
        self._finish(self.selector._fallback(_turn_id(self.messages, self.selector), exc))

    def _finish(self, selection: ToolSelection) -> None:
        self.selection, self._done = selection, True


def parse_turn(
    messages: Sequence[BaseMessage], *, catalog: Mapping[str, int], carry_turns: int
) -> _Turn:
    """Find the current user turn, its ``find_tools`` queries and recently called tools."""
    last = -1
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            last = i
            break
    if last < 0:
        return _Turn("", "", (), ())
    human = messages[last]
    query = message_text(human).strip()
    turn_id = (
        human.id
        or hashlib.sha1(f"{last}\x00{query}".encode("utf-8", "surrogatepass")).hexdigest()[:16]
    )
    finds: list[str] = []
    called: dict[str, None] = {}
    for m in messages[last + 1 :]:
        if isinstance(m, AIMessage):
            for call in m.tool_calls:
                if call.get("name") in catalog:
                    called.setdefault(str(call.get("name")), None)
                if call.get("name") == FIND_TOOLS_NAME:
                    q = str((call.get("args") or {}).get("query", "")).strip()
                    if q:
                        finds.append(q)
    carried: dict[str, None] = {}
    turns_back = 0
    for i in range(last - 1, -1, -1):
        m = messages[i]
        if isinstance(m, HumanMessage):
            turns_back += 1
            if turns_back >= carry_turns:
                break
        elif isinstance(m, AIMessage):
            for call in reversed(m.tool_calls):
                name = call.get("name")
                if name in catalog:
                    carried.setdefault(name, None)
    # bound the ranking and classification work on a pathological (10 MB) turn
    return _Turn(turn_id, query[:4000], tuple(finds), tuple(carried), tuple(called))


class ToolSelector:
    """Choose the tools to bind for each user turn (what a LangGraph node calls).

    Args:
        retriever: The catalog's retriever.
        classifier: Abstention / namespace classifier (default: one over ``retriever``).
        k: Tools retrieved for a turn that needs tools.
        max_tools: Cap on the working set's tools (``find_tools`` not counted).
        find_tools: Bind the ``find_tools`` meta-tool so the model can load more tools.
        find_tools_k: Tools loaded per ``find_tools`` call.
        find_tools_on_abstain: Bind ``find_tools`` even when the classifier abstains.
        carry_turns: Tools called within this many previous user turns are in use (never
            evicted; without a stored working set, they are what is carried over).
        counter: Token counter for the accounting (default: the gpt-4o encoding).
        max_tool_tokens: Cap on the working set's schema tokens; above it the least
            recently used tools not in use leave first.
        context_k: Tools taken from each context text (the assistant's latest words, its
            recent tool calls, the latest tool result) once a working set exists.
        context_min_score: Retrieval score a context pick needs.
        bind_score: At a fresh start, tools are bound despite the classifier's abstention
            when the best one scores at least this (``> 1`` trusts the classifier alone).
            The scores are the reranker's probabilities that a tool is needed, and the two
            errors cost unlike amounts: binding a few tools that turn out idle costs a few
            hundred tokens once, while withholding a needed one costs the agent a whole
            model call (``find_tools``). So a tool bound at odds well below even is worth it;
            0.3 (lowered from 0.5) won back, on the ToolTalk dev split, "What's the calendar
            look like for today and tomorrow?" (``QueryCalendar``, scored between 0.3 and
            0.5), and chit-chat ("hi!", "thanks") still scores far below it.
        add_min_score: Retrieval score a new pick of the turn's query needs to join a
            working set that already exists (named tools always join): each change of the
            bound tools rewrites the provider's cached prefix.
        add_above_set: Once a working set exists, a new pick of the turn's query joins only
            when it ranks above every tool of the set for that query (the set's own tools
            already answer what ranks below them); named tools always join. A group the
            call's picks bring (starting the set or joining it) counts as the set's: a pick
            outside it ranked below the group's best tool does not join (on the tau-bench
            and ToolTalk dev splits, such picks were distractors that stayed bound for the
            whole task); another request of the message still brings its tool as a clause
            pick.
        groups: ``{group: [tool names]}`` of tools that belong together; tools outside it
            are grouped by namespace (explicit, or a shared dotted prefix).
        group_cap: Most group members one call brings in with a confident pick.
        group_min_score: Summed retrieval score of one group's picks that brings the group
            (two picks of a group always do). The default (a pick within the margin, even a
            weak one, brings its toolkit) was chosen with ``python -m bench agent`` on the
            ToolTalk dev split: small toolkits' tools are needed together (``ModifyEvent``
            after ``QueryCalendar``), and the retriever often ranks only one of them.
        clause_picks: Tools each clause of a multi-intent message ("set an alarm ... and
            mark the reminders as complete") brings on its own, when the clause's best tool
            scores at least ``clause_min_score``; 0 turns clause picks off.
        clause_min_score: Score a clause's best tool needs for the clause to bring tools
            (0.2: below it, on the tau-bench dev split, clauses such as "I understand" only
            brought distractors that broke the cached prefix).
        reply_picks: Rank a reply to the agent (a confirmation or a short answer, see
            :func:`~langchain_tokenopt.tools.working_set.is_reply`) on its own too once a
            working set exists. Off by default: such a reply is ranked joined to its task's
            request only, since alone its words ("my user id is ...", "use my gift card")
            match other tasks' tools, which then stay bound for the rest of the task.

    Example:
        .. code-block:: python

            selector = ToolSelector.from_tools(tools, always_include=["get_time"])
            sel = selector.select([HumanMessage("what's the weather in Oslo?")])
            sel.names, sel.abstained, sel.bound_tokens, sel.catalog_tokens
    """

    def __init__(
        self,
        *,
        retriever: ToolRetriever,
        classifier: QueryClassifier | None = None,
        k: int = 5,
        max_tools: int = 32,
        find_tools: bool = True,
        find_tools_k: int = 3,
        find_tools_on_abstain: bool = True,
        carry_turns: int = 2,
        counter: TokenCounter | None = None,
        max_tool_tokens: int = DEFAULT_MAX_TOOL_TOKENS,
        context_k: int = 2,
        context_min_score: float = 0.7,
        add_min_score: float = 0.0,
        add_above_set: bool = True,
        bind_score: float = 0.3,
        groups: Mapping[str, Sequence[str]] | None = None,
        group_cap: int = 16,
        group_min_score: float = 0.03,
        clause_picks: int = 2,
        clause_min_score: float = 0.2,
        reply_picks: bool = False,
    ) -> None:
        if not isinstance(retriever, ToolRetriever):
            msg = f"retriever must be a ToolRetriever, got {type(retriever).__name__}"
            raise TokenOptConfigError(msg)
        check_min_ints(
            ("k", k, 1),
            ("max_tools", max_tools, 1),
            ("find_tools_k", find_tools_k, 1),
            ("carry_turns", carry_turns, 0),
            ("max_tool_tokens", max_tool_tokens, 1),
            ("context_k", context_k, 0),
            ("group_cap", group_cap, 0),
            ("clause_picks", clause_picks, 0),
        )
        if k > max_tools:
            msg = f"k ({k}) cannot exceed max_tools ({max_tools})"
            raise TokenOptConfigError(msg)
        if FIND_TOOLS_NAME in retriever.index.position and find_tools:
            msg = f"the catalog already has a tool named {FIND_TOOLS_NAME!r}; pass find_tools=False"
            raise TokenOptConfigError(msg)
        self.retriever = retriever
        self.classifier = classifier or QueryClassifier(retriever=retriever)
        if self.classifier.retriever is not retriever:
            msg = "the classifier must use the same retriever as the selector"
            raise TokenOptConfigError(msg)
        if len(self.classifier.always_include) > max_tools:
            msg = f"always_include has more tools than max_tools ({max_tools})"
            raise TokenOptConfigError(msg)
        self.k = k
        self.max_tools = max_tools
        self.find_tools_enabled = find_tools
        self.find_tools_k = find_tools_k
        self.find_tools_on_abstain = find_tools_on_abstain
        self.carry_turns = carry_turns
        self.max_tool_tokens = max_tool_tokens
        self.context_k = context_k
        for label, score in (
            ("context_min_score", context_min_score),
            ("add_min_score", add_min_score),
            ("bind_score", bind_score),
            ("group_min_score", group_min_score),
            ("clause_min_score", clause_min_score),
        ):
            if isinstance(score, bool) or not isinstance(score, int | float) or score != score:
                msg = f"{label} must be a number, got {score!r}"
                raise TokenOptConfigError(msg)
        self.context_min_score = float(context_min_score)
        self.add_min_score = float(add_min_score)
        if not isinstance(add_above_set, bool):
            msg = f"add_above_set must be a bool, got {add_above_set!r}"
            raise TokenOptConfigError(msg)
        self.add_above_set = add_above_set
        if not isinstance(reply_picks, bool):
            msg = f"reply_picks must be a bool, got {reply_picks!r}"
            raise TokenOptConfigError(msg)
        self.reply_picks = reply_picks
        self.bind_score = float(bind_score)
        self.group_cap = group_cap
        self.group_min_score = float(group_min_score)
        self.clause_picks = clause_picks
        self.clause_min_score = float(clause_min_score)
        self._groups, self._group_of = _tool_groups(retriever, groups)
        self.counter = counter or get_token_counter("gpt-4o")
        self._turns: OrderedDict[str, _Ranked] = OrderedDict()
        self._finds: OrderedDict[str, list[ToolHit]] = OrderedDict()
        self._contexts: OrderedDict[str, list[ToolHit]] = OrderedDict()
        self._lock = threading.Lock()
        self._tool_tokens: dict[str, int] = {}
        self._catalog_tokens: int | None = None
        self.find_tools_tool: BaseTool = make_find_tools_tool(self._find_tools, self._afind_tools)

    @classmethod
    def from_tools(
        cls,
        tools: Sequence[Any],
        *,
        always_include: Sequence[str] = (),
        retriever_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> ToolSelector:
        """Build retriever, classifier and selector from a catalog in one call."""
        retriever = ToolRetriever(tools=list(tools), **dict(retriever_kwargs or {}))
        classifier = QueryClassifier(retriever=retriever, always_include=always_include)
        return cls(retriever=retriever, classifier=classifier, **kwargs)

    # ------------------------------------------------------------------ find_tools
    def _find_text(self, query: str, hits: list[ToolHit]) -> str:
        if not hits:
            return f"No tools match {query!r}."
        lines = [f"- {s.name}: {s.description[:200]}" for s, _, _ in hits]
        return "These tools are now available:\n" + "\n".join(lines)

    def _find_tools(self, query: str) -> str:
        return self._find_text(query, self._find_hits(query, self.retriever.rank(query)))

    async def _afind_tools(self, query: str) -> str:
        return self._find_text(query, self._find_hits(query, await self.retriever.arank(query)))

    def _find_hits(self, query: str, result: RankResult | None) -> list[ToolHit]:
        hits = self.retriever.hits(result, self.find_tools_k)
        self._keep(self._finds, query, hits)
        return hits

    # ------------------------------------------------------------------ tokens
    def _count(self, tool: Any, name: str) -> int:
        cached = self._tool_tokens.get(name)
        if cached is None:
            cached = self.counter.count_tool(tool)
            self._tool_tokens[name] = cached
        return cached

    @property
    def catalog_tokens(self) -> int:
        """Tokens of the whole catalog sent as one ``tools`` array."""
        if self._catalog_tokens is None:
            specs = self.retriever.specs
            total = sum(self._count(s.schema, s.name) for s in specs)
            self._catalog_tokens = TOOLS_ARRAY_OVERHEAD + total
        return self._catalog_tokens

    # ------------------------------------------------------------------ assembly
    def _kept(self, table: OrderedDict[str, V], key: str) -> V | None:
        """``table[key]`` (a bounded LRU of this selector's) or None."""
        with self._lock:
            hit = table.get(key)
            if hit is not None:
                table.move_to_end(key)
            return hit

    def _keep(self, table: OrderedDict[str, V], key: str, value: V) -> None:
        with self._lock:
            table[key] = value
            while len(table) > _TURN_CACHE_SIZE:
                table.popitem(last=False)

    def _fallback(self, turn_id: str, exc: Exception) -> ToolSelection:
        logger.warning("tool selection failed, binding the whole catalog: %s", exc, exc_info=True)
        specs = self.retriever.specs
        return ToolSelection(
            tools=[s.source for s in specs],
            names=[s.name for s in specs],
            turn_id=turn_id,
            bound_tokens=self.catalog_tokens,
            catalog_tokens=self.catalog_tokens,
        )

    # ------------------------------------------------------------------ one flow, two drivers
    def _previous(self, working_set: Any, turn: _Turn, ctx: TaskContext) -> ToolWorkingSet:
        """The working set before this call: from the state, or rebuilt from the messages."""
        catalog = self.retriever.index.position
        if working_set is not None:
            prev = ToolWorkingSet.from_state(working_set)
            return prev.without([n for n in prev.names if n not in catalog])
        # No state (a caller that keeps none): tools called in the recent turns, oldest first.
        prev = ToolWorkingSet()
        for name in reversed(turn.carried):
            prev = prev.touch([name], turn=ctx.recent_calls.get(name, 0))
        return prev

    def _flow(
        self, messages: list[BaseMessage], working_set: Any, margin: float | None
    ) -> Generator[str | _Query, RankResult | None, ToolSelection]:
        """The selection as a generator of retrieval queries (sync and async drive it)."""
        catalog = self.retriever.index.position
        turn = parse_turn(messages, catalog=catalog, carry_turns=self.carry_turns)
        ctx = task_context(messages)
        prev = self._previous(working_set, turn, ctx)
        always_bound = set(self.classifier.always_include)
        started = any(n not in always_bound for n in prev.names)
        # A fresh start: nothing bound yet, and the newest turn opens the task (the user's
        # answers to the agent's questions continue it: "log me in" ... "justinkool" ...).
        fresh = not started and not turn.called and not turn.find_queries and not ctx.task_turns
        # A reply to the agent ("Sure, my user id is ...", "Yes, please go ahead") is read
        # with its task only: alone, its words match tools of other tasks (a user id, a
        # payment), which would join the working set for the rest of the task.
        read_alone = not (started and ctx.reply and not self.reply_picks)
        key = f"{turn.turn_id}\x00{ctx.query}\x00{read_alone}"
        ranked = self._kept(self._turns, key)
        if ranked is None:
            rankings: list[_Ranked] = []
            # The joined query adds the open task's context; the newest turn alone keeps its
            # own signal (earlier turns must not push its tool out of the picks).
            queries = (ctx.query, ctx.newest) if read_alone else (ctx.query,)
            for text in dict.fromkeys(t for t in queries if t):
                # the joined query's vector is made of its turns' (each embedded once)
                result = yield _Query(text, parts=ctx.parts) if text == ctx.query else text
                order = self.retriever.hits(result, _GROUP_ORDER)
                rankings.append(
                    _Ranked(
                        self.classifier.decide(text, result),
                        self.retriever.hits(result, self.k),
                        tuple(s.name for s, _, _ in order),
                        clauses=tuple(tuple(c) for c in self.retriever.clause_hits(result)),
                        lead=tuple(order[:_CONSENSUS_TOP]),
                    )
                )
            if not rankings:
                rankings.append(_Ranked(self.classifier.decide("", None), [], ()))
            ranked = rankings[0]
            if len(rankings) > 1:
                ranked = replace(ranked, alone=rankings[1])
            self._keep(self._turns, key, ranked)
        decision = ranked.decision
        views = [ranked] if ranked.alone is None else [ranked, ranked.alone]
        if (
            not decision.needs_tool
            and ranked.alone is not None
            and ranked.alone.decision.needs_tool
        ):
            decision = ranked.alone.decision
        # Abstain only at a fresh start (a working set or an open tool loop keeps its tools),
        # and only when no tool matches well: binding a likely tool costs a few hundred
        # tokens, withholding a needed one costs the agent a step.
        best = max((score for v in views for _, score, _ in v.hits), default=0.0)
        needs = decision.needs_tool or not fresh or best >= self.bind_score
        scores: dict[str, float] = {}
        base: list[ToolHit] = []
        if needs:
            within = [(v, hit) for v in views for hit in self._base_hits(v, margin, prev, started)]
            # Each request of a multi-intent message brings its own best tool, even when
            # another request's tools lead the ranking ("set an alarm ... and mark the
            # reminders as complete").
            extra = [hit for v in views[-1:] for hit in self._clause_picks(v, prev)]
            extra += [
                hit
                for v in views
                for hits in (v.lead, *v.clauses)
                for hit in self._consensus_picks(hits, prev)
            ]
            if self.add_above_set:
                within = self._outranked_by_group(within, extra, prev)
            seen: set[str] = set()
            for hit in [*(h for _, h in within), *extra]:
                if hit[0].name not in seen:
                    seen.add(hit[0].name)
                    base.append(hit)
        picks = [s.name for s, _, _ in base]
        for s, score, _ in base:
            scores[s.name] = score
        if needs and not fresh and self.context_k:
            for text in ctx.context_texts[:_CONTEXT_QUERIES]:
                # a tool loop ranks the same texts again (the assistant's words, the calls):
                # their picks are kept per text
                context_hits = self._kept(self._contexts, text)
                if context_hits is None:
                    ranked_text = yield _Query(text, decompose=False)  # ranked whole
                    context_hits = self.retriever.hits(ranked_text, self.context_k)
                    self._keep(self._contexts, text, context_hits)
                for s, score, _ in context_hits:
                    if score >= self.context_min_score and s.name not in picks:
                        picks.append(s.name)
                        scores.setdefault(s.name, score)
        loaded: list[str] = []
        for q in turn.find_queries:
            found = self._kept(self._finds, q)
            if found is None:
                found = self._find_hits(q, (yield q))
            for s, score, _ in found:
                scores.setdefault(s.name, score)
                if s.name not in loaded:
                    loaded.append(s.name)
        mates = self._group_mates(picks, scores, prev, ranked.order)
        forced = [s.name for s, _, f in base if f]
        always = list(decision.always_include)
        called = [n for n in turn.called if n in catalog]
        new = [*always, *forced, *picks, *mates, *loaded, *called]
        ws = prev.touch(list(dict.fromkeys(new if needs or loaded else always)), turn=ctx.turn)
        protected = {*always, *forced, *loaded, *called}
        protected.update(n for n, t in ctx.recent_calls.items() if t >= ctx.turn - self.carry_turns)
        ws, evicted = self._evict(ws, protected, set(picks))
        return self._selection(
            ws, prev, turn.turn_id, decision, needs, scores, forced, loaded, evicted
        )

    def _base_hits(
        self, ranked: _Ranked, margin: float | None, prev: ToolWorkingSet, started: bool
    ) -> list[ToolHit]:
        """The picks of one ranking of the turn that join the working set."""
        base = _within_margin(ranked.hits, margin)
        if not started or not base:
            return base
        # A working set exists: the best pick and confident ones join it (named ones
        # always); each change rewrites the provider's cached prefix.
        base = [h for i, h in enumerate(base) if i == 0 or h[2] or h[1] >= self.add_min_score]
        if self.add_above_set:
            # A new pick the set's own tools outrank adds nothing the set lacks for this
            # query: only the picks ranked above the set's best-ranked tool join.
            cut = next((i for i, n in enumerate(ranked.order) if n in prev.names), None)
            if cut is not None:
                position = {n: i for i, n in enumerate(ranked.order)}
                base = [
                    h
                    for h in base
                    if h[2] or h[0].name in prev.names or position.get(h[0].name, 0) < cut
                ]
        return base

    def _outranked_by_group(
        self,
        within: list[tuple[_Ranked, ToolHit]],
        extra: Sequence[ToolHit],
        prev: ToolWorkingSet,
    ) -> list[tuple[_Ranked, ToolHit]]:
        """Drop the picks that a group this call brings outranks.

        A group this call's picks bring (:meth:`_picked_groups`) joins the working set, or
        starts it.
        A pick of another group, or of none, that its ranking puts below the brought group's
        best-ranked tool adds nothing the group lacks for the query, and it would stay bound
        for the whole task: it is dropped, as :meth:`_base_hits` drops a pick that the set's
        own tools outrank. A request of the message that asks for another tool brings it as
        a clause pick (``clause_min_score``). ``within`` pairs each pick within the margin
        with the ranking it comes from; ``extra`` (clause and consensus picks) is kept whole
        and counts towards the groups.
        """
        score: dict[str, float] = {}
        for hit in [*(h for _, h in within), *extra]:
            score.setdefault(hit[0].name, hit[1])
        brought = self._picked_groups(score, score)
        if not brought:
            return within
        members = {m for g in brought for m in self._groups[g]}
        cuts: dict[int, tuple[dict[str, int], int]] = {}  # per ranking: positions, cut
        kept: list[tuple[_Ranked, ToolHit]] = []
        for view, hit in within:
            name = hit[0].name
            if hit[2] or name in prev.names or name in members:
                kept.append((view, hit))
                continue
            if id(view) not in cuts:
                position = {n: i for i, n in enumerate(view.order)}
                # the brought groups' best rank here (a group absent from it cuts nothing)
                cut = min((position[m] for m in members if m in position), default=len(position))
                cuts[id(view)] = (position, cut)
            position, cut = cuts[id(view)]
            if position.get(name, -1) < cut:  # a pick beyond the ranking's order is kept
                kept.append((view, hit))
        return kept

    def _clause_picks(self, ranked: _Ranked, prev: ToolWorkingSet) -> list[ToolHit]:
        """The tools each clause of a multi-intent message asks for on its own.

        A clause whose best tool scores at least ``clause_min_score`` brings its best tools,
        up to ``clause_picks`` (a runner-up needs :data:`_CLAUSE_RUNNER_UP_SCORE`: two tools
        often do the same job under different names). A clause whose best tools include one
        of the working set is answered by the set: nothing ranked below that tool joins (as
        with ``add_above_set``), so the bound tools, a cached prefix, stay as they are.
        """
        out: list[ToolHit] = []
        for hits in ranked.clauses:
            if not hits or hits[0][1] < self.clause_min_score:
                continue
            for hit in hits[: self.clause_picks]:
                if hit[0].name in prev.names or hit[1] < _CLAUSE_RUNNER_UP_SCORE:
                    break
                out.append(hit)
        return out

    def _consensus_picks(self, hits: Sequence[ToolHit], prev: ToolWorkingSet) -> list[ToolHit]:
        """Tools of a group that leads a ranking together, each with a low score.

        When two of the leading :data:`_CONSENSUS_TOP` tools belong to one group ("set a
        reminder to call my dad": ``CompleteReminder``, ``AddReminder``, ``GetReminders``,
        each below 0.1), the group is what the query is about even though no single tool
        stands out: they join the picks, and their group follows
        (:meth:`_group_mates`). A group the working set already holds adds nothing, and
        neither does one in a catalog too small for leading together to mean anything
        (:data:`_CONSENSUS_MIN_CATALOG`) or whose tools' scores add up to less than
        :data:`_CONSENSUS_MIN_SCORE`.
        """
        if not self.group_cap or len(self.retriever.index.specs) < _CONSENSUS_MIN_CATALOG:
            return []
        members: dict[str, list[ToolHit]] = {}
        for hit in hits[:_CONSENSUS_TOP]:
            group = self._group_of.get(hit[0].name)
            if group is not None:
                members.setdefault(group, []).append(hit)
        out: list[ToolHit] = []
        for group, group_hits in members.items():
            if len(group_hits) < 2 or sum(h[1] for h in group_hits) < _CONSENSUS_MIN_SCORE:
                continue
            if any(m in prev.names for m in self._groups[group]):
                continue
            out.extend(group_hits)
        return out

    def _picked_groups(self, picks: Iterable[str], scores: Mapping[str, float]) -> dict[str, float]:
        """The groups these picks bring, with their summed scores ({} when groups are off).

        A group is picked when two of the picks belong to it, or when their scores add up to
        ``group_min_score``.
        """
        if not self.group_cap:
            return {}
        weight: dict[str, float] = {}
        count: dict[str, int] = {}
        for name in picks:
            group = self._group_of.get(name)
            if group is not None:
                weight[group] = weight.get(group, 0.0) + scores.get(name, 0.0)
                count[group] = count.get(group, 0) + 1
        return {g: w for g, w in weight.items() if count[g] >= 2 or w >= self.group_min_score}

    def _group_mates(
        self,
        picks: list[str],
        scores: Mapping[str, float],
        prev: ToolWorkingSet,
        order: tuple[str, ...],
    ) -> list[str]:
        """Members of the groups the picks bring, best ranked first, at most ``group_cap``."""
        rank = {n: i for i, n in enumerate(order)}
        picked = self._picked_groups(picks, scores)
        mates: list[str] = []
        for group in sorted(picked, key=lambda g: -picked[g]):
            members = [
                m
                for m in self._groups[group]
                if m not in picks and m not in prev.names and m not in mates
            ]
            members.sort(key=lambda m: rank.get(m, len(rank)))
            mates.extend(members[: self.group_cap - len(mates)])
            if len(mates) >= self.group_cap:
                break
        return mates

    def _evict(
        self, ws: ToolWorkingSet, protected: set[str], picked: set[str]
    ) -> tuple[ToolWorkingSet, list[str]]:
        """Drop least recently used tools while over ``max_tools`` or ``max_tool_tokens``."""
        index = self.retriever.index

        def tokens(names: Sequence[str]) -> int:
            return sum(self._count(index.specs[index.position[n]].schema, n) for n in names)

        evicted: list[str] = []
        names = list(ws.names)
        total = tokens(names)
        while len(names) > self.max_tools or total > self.max_tool_tokens:
            candidates = [n for n in names if n not in protected]
            if not candidates:
                break
            position = {n: i for i, n in enumerate(names)}
            victim = min(
                candidates,
                key=lambda n: (ws.last_used.get(n, 0), n in picked, position[n]),
            )
            names.remove(victim)
            evicted.append(victim)
            total -= tokens([victim])
        return (ws.without(evicted) if evicted else ws), evicted

    def _cheaper_whole(self, ws: ToolWorkingSet) -> bool:
        """Whether the tools not in ``ws`` cost no more tokens than ``find_tools`` itself."""
        index = self.retriever.index
        bound = sum(self._count(index.specs[index.position[n]].schema, n) for n in ws.names)
        rest = self.catalog_tokens - TOOLS_ARRAY_OVERHEAD - bound  # O(bound), not O(catalog)
        return rest <= self._count(self.find_tools_tool, FIND_TOOLS_NAME)

    def _selection(
        self,
        ws: ToolWorkingSet,
        prev: ToolWorkingSet,
        turn_id: str,
        decision: QueryDecision,
        needs: bool,
        scores: Mapping[str, float],
        forced: list[str],
        loaded: list[str],
        evicted: list[str],
    ) -> ToolSelection:
        index = self.retriever.index
        wants_find = needs or self.find_tools_on_abstain or bool(loaded)
        with_find = self.find_tools_enabled and len(ws.names) < len(index.specs) and wants_find
        if with_find and needs and self._cheaper_whole(ws):
            # A small catalog: binding the rest costs no more than the meta-tool would.
            latest = max(ws.last_used.values(), default=0)
            ws = ws.touch([s.name for s in index.specs if s.name not in ws.names], turn=latest)
            with_find = False
        order = list(ws.names)
        tools = [index.specs[index.position[n]].source for n in order]
        names = list(order)
        if with_find:
            # First, so that a tool joining the working set is appended at the end of the
            # request's tools: the bound tools before it stay a cacheable prefix.
            tools.insert(0, self.find_tools_tool)
            names.insert(0, FIND_TOOLS_NAME)
        bound = 0
        if tools:
            bound = TOOLS_ARRAY_OVERHEAD + sum(
                self._count(t, n) for t, n in zip(tools, names, strict=True)
            )
        kept = set(order)
        return ToolSelection(
            tools=tools,
            names=names,
            scores={n: scores[n] for n in order if n in scores},
            abstained=not needs,
            confidence=decision.confidence,
            categories=list(decision.categories),
            forced=[n for n in forced if n in kept],
            loaded=[n for n in loaded if n in kept],
            carried=[n for n in order if n in prev.names],
            evicted=evicted,
            turn_id=turn_id,
            bound_tokens=bound,
            catalog_tokens=self.catalog_tokens,
            working_set=ws.to_state(),
        )

    # ------------------------------------------------------------------ api
    def select(
        self,
        conversation: Any,
        *,
        working_set: Any = None,
        margin: float | None = None,
        config: RunnableConfig | None = None,
    ) -> ToolSelection:
        """Select the tools for the conversation's next model call.

        Args:
            conversation: Messages, a state dict with ``messages``, or one user string.
            working_set: The thread's working set as kept in the agent state
                (:attr:`ToolSelection.working_set` of the previous call); ``None`` rebuilds
                it from the tools called in the recent turns.
            margin: Bind only new retrieved tools within this score gap of the best one.
            config: Runnable config; when given, the selection is dispatched as the
                ``tokenopt_tool_selection`` custom event to its callbacks.

        Raises:
            ToolSelectionError: ``conversation`` is not messages / state / str.
        """
        run = _SelectionRun(self, _messages(conversation), working_set, margin)
        while (query := run.next()) is not None:
            try:
                run.ranked(
                    self.retriever.rank(query.text, decompose=query.decompose, parts=query.parts)
                )
            except Exception as exc:  # fail open: never break the user's agent
                run.failed(exc)
        self._dispatch(run.selection, config)
        return run.selection

    async def aselect(
        self,
        conversation: Any,
        *,
        working_set: Any = None,
        margin: float | None = None,
        config: RunnableConfig | None = None,
    ) -> ToolSelection:
        """Async :meth:`select` (embedding runs off the event loop)."""
        run = _SelectionRun(self, _messages(conversation), working_set, margin)
        while (query := run.next()) is not None:
            try:
                run.ranked(
                    await self.retriever.arank(
                        query.text, decompose=query.decompose, parts=query.parts
                    )
                )
            except Exception as exc:  # fail open: never break the user's agent
                run.failed(exc)
        await self._adispatch(run.selection, config)
        return run.selection

    @staticmethod
    def _dispatch(selection: ToolSelection, config: RunnableConfig | None) -> None:
        if config is None:
            return
        from langchain_core.callbacks import dispatch_custom_event

        try:
            dispatch_custom_event(EVENT_NAME, selection.event(), config=config)
        except Exception as exc:  # no parent run: nothing listens
            logger.debug("tool-selection event not dispatched: %s", exc)

    @staticmethod
    async def _adispatch(selection: ToolSelection, config: RunnableConfig | None) -> None:
        if config is None:
            return
        from langchain_core.callbacks import adispatch_custom_event

        try:
            await adispatch_custom_event(EVENT_NAME, selection.event(), config=config)
        except Exception as exc:  # no parent run: nothing listens
            logger.debug("tool-selection event not dispatched: %s", exc)
