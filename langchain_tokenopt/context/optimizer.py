"""``ContextOptimizer``: fit a message history into a token budget without breaking it.

Pipeline (each step runs only while the history is still over budget):

1. split the history into atomic units (:mod:`.units`); the leading system messages, the
   newest human turn and the newest unit are protected;
2. the configured strategies, cheapest first (default: :class:`MaskToolOutputs`, then
   :class:`HierarchicalSummary` with the extractive summarizer, which includes the sliding
   window); a strategy that fails is logged and skipped (fail open);
3. drop the least important unprotected units (:class:`MessageClassifier`), keeping the
   conversation's start on a human turn; then drop the summary;
4. truncate inside the newest unit's tool outputs with a marker;
5. if it still does not fit: :class:`~langchain_tokenopt.errors.BudgetExceededError`;
6. the result is validated (:func:`validate_history`); an invalid result raises
   :class:`~langchain_tokenopt.errors.InvalidHistoryError` instead of being returned.

Example:
    .. code-block:: python

        from langchain_tokenopt import ContextOptimizer

        optimizer = ContextOptimizer(max_tokens=4000, model="gpt-4o")
        chain = optimizer | chat_model
        chain.invoke(messages)
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    convert_to_messages,
)
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableConfig

from langchain_tokenopt.context._memo import ContextMemo
from langchain_tokenopt.context.classifier import MessageClassifier
from langchain_tokenopt.context.facts import message_facts, ranked_facts, tool_call_text
from langchain_tokenopt.context.strategies.base import (
    SUMMARY_ID_PREFIX,
    ContextStrategy,
    Plan,
    Slot,
)
from langchain_tokenopt.context.strategies.mask import MaskToolOutputs
from langchain_tokenopt.context.strategies.summary import HierarchicalSummary
from langchain_tokenopt.context.summarize import shrink_lines
from langchain_tokenopt.context.truncate import truncate_tool_results
from langchain_tokenopt.context.units import Unit, repair_history, split_units
from langchain_tokenopt.context.validate import find_problems
from langchain_tokenopt.errors import (
    BudgetExceededError,
    InvalidHistoryError,
    TokenOptConfigError,
)
from langchain_tokenopt.tokens import REPLY_PRIMING, TokenCounter, get_token_counter

__all__ = ["ContextOptimizer", "ContextResult"]

logger = logging.getLogger(__name__)

OptimizerInput = Sequence[BaseMessage] | PromptValue


@dataclass(frozen=True)
class ContextResult:
    """What :meth:`ContextOptimizer.optimize` produced."""

    messages: list[BaseMessage]
    """The optimized, validated history."""
    tokens_after: int
    """Tokens of :attr:`messages`."""
    budget: int
    """Tokens available for messages (``max_tokens`` minus tools and reserve)."""
    steps: tuple[str, ...]
    """What was done, in order (empty when the input already fitted)."""
    elapsed_ms: float
    """Wall time of the call."""
    _before: int | Callable[[], int] = field(repr=False, compare=False)

    @property
    def tokens_before(self) -> int:
        """Tokens of the input (reply priming included, tools excluded).

        On a long history the call itself never counts the oldest messages (it only has to
        know the input is over budget); they are then counted on first access.
        """
        if callable(self._before):
            object.__setattr__(self, "_before", self._before())
        assert isinstance(self._before, int)
        return self._before


class ContextOptimizer(Runnable[OptimizerInput, list[BaseMessage]]):
    """Fit a chat history into ``max_tokens``, cheapest method first, never invalid.

    Args:
        max_tokens: Budget for the request's messages (plus ``tools`` and ``reserve_tokens``).
        model: Model name that picks the tokenizer (see :class:`TokenCounter`).
        counter: A ready :class:`TokenCounter` (overrides ``model``).
        strategies: Steps tried in order while over budget. Default:
            ``[MaskToolOutputs(), HierarchicalSummary()]`` (extractive summary, no LM).
            Pass ``[SlidingWindow()]`` for a plain window, or add :class:`CompressProse`.
        classifier: Ranks units for the last-resort drop; default word-overlap relevance
            (no model). Give ``MessageClassifier(embeddings=LocalEmbeddings())`` for embeddings.
        tools: Tool schemas sent with the request; their tokens are taken from the budget.
        reserve_tokens: Tokens kept free (for example for the reply).
        repair_input: Repair an invalid input (drop orphan results, remove unanswered calls)
            instead of raising :class:`InvalidHistoryError`.
        memo: Where per-message work (token counts, facts, transcript lines) is remembered
            across calls; a new bounded one by default. Owned by this optimizer and shared
            with its :meth:`with_max_tokens` copies; :meth:`clear_caches` empties it.

    Example:
        .. code-block:: python

            optimizer = ContextOptimizer(max_tokens=3000, model="gpt-4o")
            short = optimizer.invoke(messages)  # valid, <= 3000 tokens, system + last human kept
    """

    def __init__(
        self,
        *,
        max_tokens: int,
        model: str | None = None,
        counter: TokenCounter | None = None,
        strategies: Sequence[ContextStrategy] | None = None,
        classifier: MessageClassifier | None = None,
        tools: Sequence[Any] = (),
        reserve_tokens: int = 0,
        repair_input: bool = True,
        memo: ContextMemo | None = None,
    ) -> None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            msg = f"max_tokens must be a positive int, got {max_tokens!r}"
            raise TokenOptConfigError(msg)
        if not isinstance(reserve_tokens, int) or reserve_tokens < 0:
            msg = f"reserve_tokens must be an int >= 0, got {reserve_tokens!r}"
            raise TokenOptConfigError(msg)
        if counter is not None and not isinstance(counter, TokenCounter):
            msg = f"counter must be a TokenCounter, got {type(counter).__name__}"
            raise TokenOptConfigError(msg)
        steps = list(strategies) if strategies is not None else None
        for step in steps or []:
            if not isinstance(step, ContextStrategy):
                msg = f"strategies must implement apply(plan), got {type(step).__name__}"
                raise TokenOptConfigError(msg)
        if classifier is not None and not isinstance(classifier, MessageClassifier):
            msg = f"classifier must be a MessageClassifier, got {type(classifier).__name__}"
            raise TokenOptConfigError(msg)
        self.max_tokens = max_tokens
        self.counter = counter if counter is not None else get_token_counter(model)
        self.strategies: list[ContextStrategy] = (
            steps if steps is not None else [MaskToolOutputs(), HierarchicalSummary()]
        )
        self.classifier = classifier if classifier is not None else MessageClassifier()
        self.tools = list(tools)
        self.reserve_tokens = reserve_tokens
        self.repair_input = repair_input
        self.budget = max_tokens - reserve_tokens - self.counter.count_tools(self.tools)
        self._siblings: dict[int, ContextOptimizer] = {}
        # Per-message work (counts, facts, transcript lines) is remembered here, for this
        # optimizer and the copies of :meth:`with_max_tokens` only.
        self.memo = memo if memo is not None else ContextMemo()
        if self.budget < 1:
            msg = (
                f"tools ({self.counter.count_tools(self.tools)} tokens) and reserve_tokens "
                f"({reserve_tokens}) leave no room in max_tokens={max_tokens}"
            )
            raise TokenOptConfigError(msg)

    def with_max_tokens(self, max_tokens: int) -> ContextOptimizer:
        """A copy with another budget (same counter, strategies, classifier and tools).

        The copies are kept, so a thread compacting again and again builds one.
        """
        if max_tokens == self.max_tokens:
            return self
        found = self._siblings.get(max_tokens)
        if found is None:
            found = ContextOptimizer(
                max_tokens=max_tokens,
                counter=self.counter,
                strategies=self.strategies,
                classifier=self.classifier,
                tools=self.tools,
                reserve_tokens=self.reserve_tokens,
                repair_input=self.repair_input,
                memo=self.memo,
            )
            self._siblings[max_tokens] = found
        return found

    def __repr__(self) -> str:
        names = ", ".join(type(s).__name__ for s in self.strategies)
        return f"ContextOptimizer(max_tokens={self.max_tokens}, strategies=[{names}])"

    # ------------------------------------------------------------------ Runnable
    def invoke(
        self, input: OptimizerInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[BaseMessage]:
        """Return the optimized history (see :meth:`optimize`)."""
        return self._call_with_config(
            lambda messages: self.optimize(messages).messages, input, config, run_type="chain"
        )

    async def ainvoke(
        self, input: OptimizerInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[BaseMessage]:
        """Async :meth:`invoke`; the work runs in a thread (a model summary may be slow)."""
        return await self._acall_with_config(
            lambda messages: asyncio.to_thread(lambda: self.optimize(messages).messages),
            input,
            config,
            run_type="chain",
        )

    # ------------------------------------------------------------------ memo
    def clear_caches(self) -> None:
        """Forget the memoized per-message work (for cold-start measurements and tests)."""
        self.memo.clear()

    def count_tokens(self, messages: Sequence[BaseMessage]) -> int:
        """Tokens of ``messages`` (reply priming included), memoized per message."""
        return self.memo.count_messages(self.counter, messages)

    # ------------------------------------------------------------------ core
    def optimize(self, messages: OptimizerInput) -> ContextResult:
        """Fit ``messages`` into the budget and report what was done.

        Raises:
            InvalidHistoryError: the input is invalid and ``repair_input`` is False.
            BudgetExceededError: the system messages, the newest human turn and the newest
                unit (truncated inside) do not fit.
        """
        with self.memo.active():
            return self._optimize(messages)

    def _optimize(self, messages: OptimizerInput) -> ContextResult:
        start = time.perf_counter()
        items = _as_messages(messages)
        steps: list[str] = []
        units = split_units(items)
        if _broken(units):
            if not self.repair_input:
                raise InvalidHistoryError(
                    find_problems(items, require_human_first=False, system_first=False)
                )
            items, notes = repair_history(items)
            units = split_units(items)
            logger.warning("repaired an invalid input history: %s", "; ".join(notes))
            steps.extend(f"input repair: {n}" for n in notes)
        rules = _rules_of(items)
        counts = self._count_newest(items)
        before: int | Callable[[], int]
        if counts and counts[0] < 0:  # over budget for sure; the oldest are counted on demand
            memo, counter, originals = self.memo, self.counter, items
            before = lambda: memo.count_messages(counter, originals)  # noqa: E731
        else:
            before = REPLY_PRIMING + sum(counts) if items else 0
            if before <= self.budget:
                return self._result(items, before, before, steps, start)
        plan = self._plan(items, units, counts, rules["require_human_first"])
        for strategy in self.strategies:
            if plan.fits:
                break
            try:
                strategy.apply(plan)
            except Exception:
                logger.warning(
                    "strategy %s failed; skipped", type(strategy).__name__, exc_info=True
                )
        if not plan.fits:
            self._drop_by_importance(plan)
        if not plan.fits and plan.summary:
            plan.set_summary([])
            plan.notes.append("dropped the summary")
        if not plan.fits:
            self._truncate_newest(plan)
        steps.extend(plan.notes)
        if not plan.fits:
            msg = (
                f"cannot fit the history into {self.budget} tokens: the system messages, the "
                f"newest human turn and the newest unit need {plan.total} tokens even after "
                "truncating inside the newest unit's tool outputs"
            )
            raise BudgetExceededError(msg)
        out = plan.render()
        problems = find_problems(out, **rules)
        if problems:  # a bug, never an invalid history handed to a provider
            raise InvalidHistoryError(problems)
        after = self.memo.count_messages(self.counter, out)
        if after > self.budget:
            msg = f"optimized history has {after} tokens for a budget of {self.budget}"
            raise BudgetExceededError(msg)
        return self._result(out, before, after, steps, start)

    async def aoptimize(self, messages: OptimizerInput) -> ContextResult:
        """Async :meth:`optimize` (runs in a thread)."""
        return await asyncio.to_thread(self.optimize, messages)

    # ------------------------------------------------------------------ helpers
    def _result(
        self,
        messages: list[BaseMessage],
        before: int | Callable[[], int],
        after: int,
        steps: list[str],
        start: float,
    ) -> ContextResult:
        return ContextResult(
            messages=messages,
            tokens_after=after,
            budget=self.budget,
            steps=tuple(steps),
            elapsed_ms=_ms(start),
            _before=before,
        )

    def _count_newest(self, items: list[BaseMessage]) -> list[int]:
        """Token counts, newest first, until the history is surely over budget.

        Counting stops once the newest messages alone exceed the budget even with every
        tool output masked to its shortest placeholder; the older ones are left at ``-1``
        (counted later only if a strategy reads them). Short histories are counted whole.
        """
        counts = [-1] * len(items)
        need = self.budget - REPLY_PRIMING
        floor = 0  # a lower bound of the newest messages' tokens after masking
        end = len(items)
        step = 32
        while end > 0:
            lo = max(0, end - step)
            chunk = self.memo.count_each(self.counter, items[lo:end])
            counts[lo:end] = chunk
            for msg, n in zip(items[lo:end], chunk, strict=True):
                floor += min(n, _MASKED_FLOOR) if isinstance(msg, ToolMessage) else n
            end = lo
            if floor > need:
                break
            # Next chunk: about what the rate so far says is still missing, plus a margin.
            per_message = max(floor, 1) / (len(items) - end)
            step = int((need - floor) / per_message * 1.1) + 8
        return counts

    def _plan(
        self,
        items: list[BaseMessage],
        all_units: list[Unit],
        all_counts: list[int],
        require_human_first: bool,
    ) -> Plan:
        n_system = 0
        while n_system < len(items) and isinstance(items[n_system], SystemMessage):
            n_system += 1
        units = all_units[n_system:]  # each leading system message is a unit of its own
        counts = all_counts[n_system:]
        slots: list[Slot] = []
        offset = 0
        for pos, unit in enumerate(units):
            size = len(unit.messages)
            part = counts[offset : offset + size]
            known = min(part) >= 0
            slots.append(
                Slot(
                    unit, list(unit.messages), sum(part) if known else 0, pos, _uncounted=not known
                )
            )
            offset += size
        if slots:
            slots[-1].protected = True
        human = [s for s in slots if isinstance(s.unit.head, HumanMessage)]
        query = ""
        if human:
            # The newest human turn and everything after it (the tool loop the next call
            # continues) stay verbatim: the next step reads these results.
            for slot in slots[human[-1].position :]:
                slot.protected = True
            query = human[-1].unit.head.text
        # Summaries written on earlier turns (state rewritten with RemoveMessage) are ours to
        # fold into the next summary or drop; real system messages are always kept.
        system = [m for m in items[:n_system] if not _is_summary(m)]
        summary = [m for m in items[:n_system] if _is_summary(m)]
        return Plan(
            system=system,
            slots=slots,
            budget=self.budget,
            counter=self.counter,
            query=query,
            require_human_first=require_human_first,
            summary=summary,
            memo=self.memo,
        )

    def _drop_by_importance(self, plan: Plan) -> None:
        candidates = [s for s in plan.slots if s.kept and not s.protected]
        if not candidates:
            return
        messages = [s.messages[0] for s in candidates]
        scores = self.classifier.score(messages, query=plan.query or None)
        order = sorted(range(len(candidates)), key=lambda i: scores[i].score)
        dropped = 0
        for i in order:
            if plan.fits:
                break
            if candidates[i].kept:
                plan.drop(candidates[i])
                dropped += 1
            dropped += _fix_start(plan)
        if dropped:
            plan.notes.append(f"dropped {dropped} low-importance unit(s)")

    def _truncate_newest(self, plan: Plan) -> None:
        """Cut inside the current tool loop's results: the older ones first, the newest last.

        A cut result keeps its head and tail, and the marker lists the identifiers of the
        cut part. The older results of the loop share the room the newest unit leaves, in
        proportion to their sizes; only if that is not enough is the newest unit cut too.
        """
        loop = [
            s
            for s in plan.slots
            if s.kept and s.protected and s.unit.kind == "tool_exchange" and s.tokens > 0
        ]
        newest = plan.slots[-1]
        older = [s for s in loop if s is not newest]
        human = max((s.position for s in plan.slots if s.is_human and s.kept), default=-1)
        # what the last resort may drop: the loop's units between the human turn and the
        # newest unit (tool exchanges and the assistant's words), oldest first
        between = [
            s
            for s in plan.slots
            if s.kept and s.protected and s.position > human and s is not newest
        ]
        dropped: list[Slot] = []
        # A cut result keeps its ids only with some room: where the loop's steps would get
        # less than _MIN_STEP_TOKENS each, its oldest steps go whole into the note instead.
        while len(older) > 1 and older[0] in between:
            size = sum(s.tokens for s in older)
            if plan.budget - (plan.total - size) >= _MIN_STEP_TOKENS * len(older):
                break
            slot = older.pop(0)
            between.remove(slot)
            slot.protected = False
            plan.drop(slot)
            dropped.append(slot)
        if older:
            size = sum(s.tokens for s in older)
            room = plan.budget - (plan.total - size)
            if room > 0:
                for slot in older:
                    share = room * slot.tokens // size
                    cut = truncate_tool_results(slot.messages, share, plan.counter, keep_facts=True)
                    if cut is not None:
                        plan.replace(slot, cut)
                plan.notes.append("truncated inside the current tool loop's older outputs")
        for slot in between:  # last resort: the loop's oldest units, whole
            if plan.fits:
                break
            slot.protected = False
            plan.drop(slot)
            dropped.append(slot)
        if dropped:
            plan.notes.append(f"dropped {len(dropped)} older unit(s) of the current tool loop")
            if _note_dropped_steps(plan, dropped, [s for s in between if s.kept]):
                plan.notes.append("kept the dropped steps' calls and ids in a note")
        if plan.fits or newest not in loop:
            return
        allowed = plan.budget - (plan.total - newest.tokens)
        cut = truncate_tool_results(newest.messages, allowed, plan.counter, keep_facts=True)
        if cut is not None:
            plan.replace(newest, cut)
            plan.notes.append("truncated inside the newest unit's tool outputs")


#: First line of the note that keeps the calls and ids of a tool loop's dropped steps.
LOOP_NOTE_HEADER = "Earlier steps of the current turn (their outputs were cut for space)"
_LOOP_NOTE_MIN = 24  # tokens below which a note is not worth writing
_MIN_STEP_TOKENS = 80  # a step of the loop cut to less (call and result) keeps no ids
#: Room the note gets before it is fitted: the next oldest steps of the loop are dropped into
#: it until it has this much (or all it needs). A step's call and ids take ~20-40 tokens in
#: the note against ~100-250 as a cut result.
_LOOP_NOTE_ROOM = 480
_LOOP_NOTE_EXTRA_DROPS = 8


def _note_dropped_steps(plan: Plan, dropped: list[Slot], remaining: list[Slot]) -> bool:
    """Keep the calls and identifiers of the current loop's dropped steps in a short note.

    The loop's next call often passes on an id one of those steps returned (a reservation's
    flight numbers, a payment id); without the note they are gone. The note is a summary
    message (after the system prompt) of the dropped steps' tool calls with their arguments
    and each result's identifiers, fitted to the room left; while that room is short of what
    the note needs (up to :data:`_LOOP_NOTE_ROOM`), the next oldest steps of the loop are
    dropped into it too (a few at most).
    """
    for _ in range(_LOOP_NOTE_EXTRA_DROPS + 1):
        room = plan.budget - plan.total - _SUMMARY_MESSAGE_OVERHEAD
        source = _step_lines(dropped)
        want = min(plan.count([SystemMessage(source)]), _LOOP_NOTE_ROOM)
        if room >= max(want, _LOOP_NOTE_MIN) or (room >= _LOOP_NOTE_MIN and not remaining):
            text = shrink_lines(source, room, plan.counter)
            if text:
                ids = "|".join(str(m.id or "") for s in dropped for m in s.unit.messages)
                digest = hashlib.blake2b(ids.encode(), digest_size=8).hexdigest()
                note = SystemMessage(
                    content=f"{LOOP_NOTE_HEADER}:\n{text}", id=f"{SUMMARY_ID_PREFIX}loop-{digest}"
                )
                if plan.total + plan.count([note]) <= plan.budget:
                    plan.set_summary([*plan.summary, note])
                    return True
        if not remaining:
            return False
        slot = remaining.pop(0)
        slot.protected = False
        plan.drop(slot)
        dropped.append(slot)
    return False


_SUMMARY_MESSAGE_OVERHEAD = 16  # message overhead + the note's header line
_STEP_FACTS = 10  # identifiers of one result kept in the note


def _step_lines(slots: list[Slot]) -> str:
    """One line per tool call of ``slots``: ``name({args}) -> ids of its result``."""
    lines: list[str] = []
    for slot in slots:
        results = {m.tool_call_id: m for m in slot.unit.messages if isinstance(m, ToolMessage)}
        for message in slot.unit.messages:
            if not isinstance(message, AIMessage):
                continue
            calls = tool_call_text(message).splitlines()
            for call, line in zip(message.tool_calls, calls, strict=False):
                result = results.get(str(call.get("id")))
                facts = ranked_facts(message_facts(result), _STEP_FACTS) if result else []
                if facts:
                    line = f"{line} -> {', '.join(facts)}"
                elif not call.get("args"):
                    continue
                lines.append(line)
    return "\n".join(lines)


# A masked tool output still costs its message overhead and placeholder head (>= 13 tokens).
_MASKED_FLOOR = 10


def _broken(units: list[Unit]) -> bool:
    """Fast structural check on units (same verdict as ``find_problems`` on pairing)."""
    for unit in units:
        if unit.kind == "other" and isinstance(unit.head, ToolMessage):
            return True  # orphan, duplicate or unknown answer
        if unit.kind == "tool_exchange":
            head = unit.head
            assert isinstance(head, AIMessage)
            for tool_call in head.tool_calls:
                if not tool_call.get("id") or tool_call["id"] not in unit.answered:
                    return True
    return False


def _is_summary(message: BaseMessage) -> bool:
    return isinstance(message.id, str) and message.id.startswith(SUMMARY_ID_PREFIX)


def _fix_start(plan: Plan) -> int:
    """Drop unprotected non-human units at the start of the kept conversation."""
    if not plan.require_human_first:
        return 0
    dropped = 0
    for slot in plan.slots:
        if not slot.kept:
            continue
        if slot.is_human or slot.protected:
            break
        plan.drop(slot)
        dropped += 1
    return dropped


def _rules_of(items: list[BaseMessage]) -> dict[str, bool]:
    """Role-order rules the output must keep: those the input already satisfies."""
    first = next((m for m in items if not isinstance(m, SystemMessage)), None)
    started = False
    late_system = False
    for m in items:
        if isinstance(m, SystemMessage):
            late_system = late_system or started
        else:
            started = True
    return {
        "require_human_first": first is None or isinstance(first, HumanMessage),
        "system_first": not late_system,
    }


def _as_messages(messages: OptimizerInput) -> list[BaseMessage]:
    if isinstance(messages, PromptValue):
        return messages.to_messages()
    if isinstance(messages, BaseMessage | str | bytes) or not isinstance(messages, Iterable):
        msg = (
            "ContextOptimizer takes a list of messages or a PromptValue, "
            f"got {type(messages).__name__}"
        )
        raise TokenOptConfigError(msg)
    return convert_to_messages(list(messages))


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
