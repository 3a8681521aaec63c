"""``ToolSelector``: the tools to bind for this user turn, stable inside the tool loop.

How a selection is made (pure functions of the conversation, so the same messages always
give the same tools, also after a checkpoint restore):

1. The **turn** is the last ``HumanMessage``; its id (or a hash of its position and text)
   keys a small cache, so every step of the tool loop reuses the first decision.
2. The :class:`~langchain_tokenopt.tools.QueryClassifier` decides whether a tool is needed;
   if so the retriever's top ``k`` are the **base** set (named tools first).
3. Each ``find_tools(query)`` call the model made in this turn **loads** that query's top
   ``find_tools_k`` tools (the meta-tool itself is bound whenever the catalog has more).
4. Tools the model **called** in the last ``carry_turns`` turns are **carried** over, so the
   bound set (and the provider's prompt cache) changes little from turn to turn.
5. A **cap** (``max_tools``) keeps, in priority order: ``always_include``, named tools, tools
   already called in this turn, tools loaded in this turn (newest first), base tools by
   score, carried tools (most recent first). What falls off is reported as ``evicted``.
   The bound order is stable: always-included, base, carried, loaded, then ``find_tools``.

When nothing is selected the :class:`~langchain_tokenopt.tools.ToolSelection` has no tools
and :meth:`ToolSelection.bind` leaves the model unbound (providers reject ``tools=[]``).
Token accounting (bound vs whole catalog) is on the selection and is dispatched as the
``tokenopt_tool_selection`` custom callback event when a ``config`` is passed.

Example:
    .. code-block:: python

        from langchain_tokenopt import ToolSelector

        selector = ToolSelector.from_tools(tools, k=5, max_tools=10)

        def call_model(state, config):
            selection = selector.select(state["messages"], config=config)
            return {"messages": [selection.bind(llm).invoke(state["messages"])]}
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from langchain_tokenopt.errors import TokenOptConfigError, ToolSelectionError
from langchain_tokenopt.tokens import TOOLS_ARRAY_OVERHEAD, TokenCounter, get_token_counter
from langchain_tokenopt.tools.classifier import QueryClassifier
from langchain_tokenopt.tools.index import RankResult
from langchain_tokenopt.tools.records import QueryDecision, ToolSelection
from langchain_tokenopt.tools.retriever import ToolHit, ToolRetriever

logger = logging.getLogger(__name__)

__all__ = ["FIND_TOOLS_NAME", "ToolSelector"]

#: Name of the meta-tool the model calls to load more tools.
FIND_TOOLS_NAME = "find_tools"
EVENT_NAME = "tokenopt_tool_selection"
_TURN_CACHE_SIZE = 256


class _FindToolsInput(BaseModel):
    query: str = Field(description="What the needed tool should do, in a few words.")


@dataclass(frozen=True)
class _Turn:
    turn_id: str
    query: str
    find_queries: tuple[str, ...]
    carried: tuple[str, ...]
    called: tuple[str, ...] = ()


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return " ".join(parts)


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
    query = _text(human).strip()
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
        max_tools: Cap on bound catalog tools (``find_tools`` not counted).
        find_tools: Bind the ``find_tools`` meta-tool so the model can load more tools.
        find_tools_k: Tools loaded per ``find_tools`` call.
        find_tools_on_abstain: Bind ``find_tools`` even when the classifier abstains.
        carry_turns: Tools called within this many previous user turns stay bound.
        counter: Token counter for the accounting (default: the gpt-4o encoding).

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
        max_tools: int = 12,
        find_tools: bool = True,
        find_tools_k: int = 3,
        find_tools_on_abstain: bool = True,
        carry_turns: int = 2,
        counter: TokenCounter | None = None,
    ) -> None:
        if not isinstance(retriever, ToolRetriever):
            msg = f"retriever must be a ToolRetriever, got {type(retriever).__name__}"
            raise TokenOptConfigError(msg)
        for label, value, low in (
            ("k", k, 1),
            ("max_tools", max_tools, 1),
            ("find_tools_k", find_tools_k, 1),
            ("carry_turns", carry_turns, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                msg = f"{label} must be an int >= {low}, got {value!r}"
                raise TokenOptConfigError(msg)
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
        self.counter = counter or get_token_counter("gpt-4o")
        self._turns: OrderedDict[str, tuple[QueryDecision, list[ToolHit]]] = OrderedDict()
        self._finds: OrderedDict[str, list[ToolHit]] = OrderedDict()
        self._lock = threading.Lock()
        self._tool_tokens: dict[str, int] = {}
        self._catalog_tokens: int | None = None
        self.find_tools_tool: BaseTool = StructuredTool.from_function(
            func=self._find_tools,
            coroutine=self._afind_tools,
            name=FIND_TOOLS_NAME,
            description=(
                "Search the tool catalog for tools not yet available. Describe the capability "
                "you need; the matching tools become callable on your next step."
            ),
            args_schema=_FindToolsInput,
        )

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
        with self._lock:
            self._finds[query] = hits
            while len(self._finds) > _TURN_CACHE_SIZE:
                self._finds.popitem(last=False)
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
    def _decide(
        self, turn: _Turn, result: RankResult | None
    ) -> tuple[QueryDecision, list[ToolHit]]:
        decision = self.classifier.decide(turn.query, result)
        hits = self.retriever.hits(result, self.k) if decision.needs_tool else []
        return decision, hits

    def _assemble(
        self,
        turn: _Turn,
        decision: QueryDecision,
        base: list[ToolHit],
        loaded: list[list[ToolHit]],
    ) -> ToolSelection:
        index = self.retriever.index
        scores: dict[str, float] = {}
        for s, score, _ in base:
            scores[s.name] = score
        loaded_names: list[str] = []
        for hits in loaded:
            for s, score, _ in hits:
                scores.setdefault(s.name, score)
                if s.name not in loaded_names:
                    loaded_names.append(s.name)
        base_names = [s.name for s, _, _ in base]
        forced = [s.name for s, _, f in base if f]
        carried = [] if decision.needs_tool is False and not loaded_names else list(turn.carried)
        always = list(decision.always_include)
        in_use = [n for n in turn.called if n in base_names or n in loaded_names]
        priority = [
            *always,
            *forced,
            *in_use,
            *reversed(loaded_names),
            *base_names,
            *carried,
        ]
        keep: list[str] = []
        evicted: list[str] = []
        for name in dict.fromkeys(priority):
            if len(keep) < self.max_tools:
                keep.append(name)
            else:
                evicted.append(name)
        kept = set(keep)
        order = [
            n for n in dict.fromkeys([*always, *base_names, *carried, *loaded_names]) if n in kept
        ]
        tools = [index.specs[index.position[n]].source for n in order]
        names = list(order)
        wants_find = decision.needs_tool or self.find_tools_on_abstain or bool(loaded_names)
        if self.find_tools_enabled and len(order) < len(index.specs) and wants_find:
            tools.append(self.find_tools_tool)
            names.append(FIND_TOOLS_NAME)
        bound = 0
        if tools:
            bound = TOOLS_ARRAY_OVERHEAD + sum(
                self._count(t, n) for t, n in zip(tools, names, strict=True)
            )
        return ToolSelection(
            tools=tools,
            names=names,
            scores={n: scores[n] for n in order if n in scores},
            abstained=not decision.needs_tool,
            confidence=decision.confidence,
            categories=list(decision.categories),
            forced=[n for n in forced if n in kept],
            loaded=[n for n in loaded_names if n in kept],
            carried=[n for n in carried if n in kept and n not in base_names],
            evicted=evicted,
            turn_id=turn.turn_id,
            bound_tokens=bound,
            catalog_tokens=self.catalog_tokens,
        )

    def _cached_turn(self, turn: _Turn) -> tuple[QueryDecision, list[ToolHit]] | None:
        key = f"{turn.turn_id}\x00{turn.query}"
        with self._lock:
            hit = self._turns.get(key)
            if hit is not None:
                self._turns.move_to_end(key)
            return hit

    def _store_turn(self, turn: _Turn, value: tuple[QueryDecision, list[ToolHit]]) -> None:
        key = f"{turn.turn_id}\x00{turn.query}"
        with self._lock:
            self._turns[key] = value
            while len(self._turns) > _TURN_CACHE_SIZE:
                self._turns.popitem(last=False)

    def _fallback(self, turn: _Turn, exc: Exception) -> ToolSelection:
        logger.warning("tool selection failed, binding the whole catalog: %s", exc, exc_info=True)
        specs = self.retriever.specs
        return ToolSelection(
            tools=[s.source for s in specs],
            names=[s.name for s in specs],
            turn_id=turn.turn_id,
            bound_tokens=self.catalog_tokens,
            catalog_tokens=self.catalog_tokens,
        )

    # ------------------------------------------------------------------ api
    def select(self, conversation: Any, *, config: RunnableConfig | None = None) -> ToolSelection:
        """Select the tools for the conversation's current user turn.

        Args:
            conversation: Messages, a state dict with ``messages``, or one user string.
            config: Runnable config; when given, the selection is dispatched as the
                ``tokenopt_tool_selection`` custom event to its callbacks.

        Raises:
            ToolSelectionError: ``conversation`` is not messages / state / str.
        """
        messages = _messages(conversation)
        turn = parse_turn(
            messages, catalog=self.retriever.index.position, carry_turns=self.carry_turns
        )
        try:
            cached = self._cached_turn(turn)
            if cached is None:
                cached = self._decide(turn, self.retriever.rank(turn.query) if turn.query else None)
                self._store_turn(turn, cached)
            loaded = []
            for q in turn.find_queries:
                hits = self._finds.get(q)
                if hits is None:
                    hits = self._find_hits(q, self.retriever.rank(q))
                loaded.append(hits)
            selection = self._assemble(turn, cached[0], cached[1], loaded)
        except Exception as exc:  # fail open: never break the user's agent
            selection = self._fallback(turn, exc)
        self._dispatch(selection, config)
        return selection

    async def aselect(
        self, conversation: Any, *, config: RunnableConfig | None = None
    ) -> ToolSelection:
        """Async :meth:`select` (embedding runs off the event loop)."""
        messages = _messages(conversation)
        turn = parse_turn(
            messages, catalog=self.retriever.index.position, carry_turns=self.carry_turns
        )
        try:
            cached = self._cached_turn(turn)
            if cached is None:
                result = await self.retriever.arank(turn.query) if turn.query else None
                cached = self._decide(turn, result)
                self._store_turn(turn, cached)
            loaded = []
            for q in turn.find_queries:
                hits = self._finds.get(q)
                if hits is None:
                    hits = self._find_hits(q, await self.retriever.arank(q))
                loaded.append(hits)
            selection = self._assemble(turn, cached[0], cached[1], loaded)
        except Exception as exc:  # fail open: never break the user's agent
            selection = self._fallback(turn, exc)
        await self._adispatch(selection, config)
        return selection

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
