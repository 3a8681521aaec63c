"""Run the demo workload through the optimized LangGraph agent and measure every step.

The same runner drives ``make demo`` (``examples/demo.py``), ``tokenopt demo`` and
``python -m bench e2e``: each question of the workload is asked in its own conversation
thread (the conversation of the long history starts with that history), as its tenant
and user, through :func:`~langchain_tokenopt.build_optimized_agent` with the local SmolLM2.
The agent calls the tools each question needs when the graph binds them
(:mod:`~examples.tokenopt_demo.tool_loop`; SmolLM2 writes the answers), the workload's
read-only tools are declared cacheable, and every store the response cache makes is
counted. Token figures come from the monitor's records, so they are the ones
``tokenopt stats`` shows; next-call sufficiency from what each model call received
(:mod:`~examples.tokenopt_demo.sufficiency`).

Example:
    .. code-block:: python

        from examples.tokenopt_demo import load_workload
        from examples.tokenopt_demo.agent_run import run_workload

        report = run_workload(load_workload(), limit=10)
        report.hit_rate, report.mean_tokens_before, report.mean_tokens_after
        report.sufficiency.sufficient, report.stored_after_uncacheable_tool
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.graph.factory import DEFAULT_TOOL_MARGIN

from .sufficiency import (
    QuestionSufficiency,
    SufficiencySummary,
    question_sufficiency,
)
from .tool_loop import FIND_TOOLS, CallLog, request_text
from .workload import Workload, WorkloadQuestion

__all__ = [
    "demo_threads",
    "DEMO_CONTEXT_BUDGET",
    "DEMO_MAX_NEW_TOKENS",
    "DEMO_MAX_SENTENCES",
    "DEMO_PRICE_AS",
    "DEMO_SYSTEM_BUDGET",
    "DemoAgent",
    "DemoReport",
    "QuestionResult",
    "build_demo_agent",
    "run_workload",
]

#: Tokens SmolLM2 may generate per answer (greedy). Decoding dominates a miss (about 0.05 s a
#: token on a free core, 0.17 s on a busy one), so answers also end after
#: :data:`DEMO_MAX_SENTENCES` complete sentence(s): short, and never cut mid-word.
DEMO_MAX_NEW_TOKENS = 40
#: Complete sentences per answer (``LocalChatModel(max_sentences=...)``).
DEMO_MAX_SENTENCES = 1
#: History budget. On the 46k-token support thread the context optimizer keeps 9 of its 11
#: ids at 1,200 tokens and 0-1 at 600-900 (``python -m bench e2e`` prints this).
DEMO_CONTEXT_BUDGET = 1200
#: System-prompt budget: the always-on essentials (195 tokens) plus the sentences of the other
#: modules that answer the question (:func:`~examples.tokenopt_demo.prompt.demo_prompt`,
#: :class:`~langchain_tokenopt.graph.system_prompt.ModuleFitter`). ``python -m bench e2e``
#: prints the answer sentences and hard rules kept at 250-500 tokens.
DEMO_SYSTEM_BUDGET = 350
#: The hosted model the demo's local SmolLM2 runs are priced as, in the monitor's records
#: (``TokenOptCallbackHandler(price_as=...)``: ``tokenopt stats`` and the dashboard) and in
#: the report's cost row (:func:`~examples.tokenopt_demo.report.estimate_cost`).
DEMO_PRICE_AS = "gpt-4o"


@dataclass(frozen=True)
class QuestionResult:
    """What happened to one question of the workload."""

    question: WorkloadQuestion
    """The question as the workload states it (kind, expected hit, tenant ...)."""
    answer: str
    """The agent's final answer text."""
    cache_hit: bool
    """Whether the response cache answered."""
    cache_layer: str | None
    """``exact`` or ``semantic`` for a hit."""
    latency_ms: float
    """End-to-end wall time of ``graph.invoke`` for this question."""
    tokens_unoptimized: int
    """Tokens the turn's model calls would have sent without any optimizer (each call's
    whole system prompt + history + tool catalog, summed); for a hit, the one request."""
    tokens_sent: int
    """Tokens sent to the model over the turn, same tokenizer (0 for a cache hit)."""
    steps: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    """Per optimizer step: (tokens before, tokens after, latency ms), summed over the turn."""
    tools_bound: list[str] = field(default_factory=list)
    """Tools bound on the turn's model call."""
    system_prompt: str = ""
    """The system prompt sent on the turn's model call (empty for a cache hit)."""
    model_calls: int = 0
    """Model calls of the turn (a tool loop makes several; 0 for a hit)."""
    first_call: tuple[int, int] = (0, 0)
    """(unoptimized, sent) tokens of the turn's first model call ((0, 0) for a hit)."""
    tools_called: tuple[str, ...] = ()
    """Tools the agent called in this turn, in order (``find_tools`` included)."""
    stored: int = 0
    """Answers the response cache stored during this turn (its own update counter)."""
    entries_added: int = 0
    """Entries the cache's backend gained during this turn (its entry count)."""
    sufficiency: QuestionSufficiency | None = None
    """Next-call sufficiency of a miss that needs tools, else ``None``."""
    after_tool_turns: bool = False
    """The thread held tool calls before this question. The cache's ``standalone`` history
    policy then keeps the conversation in the entry's scope, so a repeat asked in another
    conversation, or later in this one, cannot hit it."""


@dataclass(frozen=True)
class DemoReport:
    """The whole run: per-question results and the aggregates the demo prints."""

    results: list[QuestionResult]
    """One entry per question, in workload order."""
    seconds: float
    """Wall time of the whole run."""
    metrics_path: Path | None
    """SQLite metrics file the monitor wrote (for ``tokenopt stats --db``)."""
    cacheable_tools: Mapping[str, float] = field(default_factory=dict)
    """The tools declared cacheable in this run (``build_optimized_agent(cacheable_tools=)``)."""
    cache_entries: int = 0
    """Entries in the run's cache file at the end of the run."""
    prepare_seconds: float = 0.0
    """Wall time of building the agent and loading its models before the first question
    (any one-time asset build included); not part of :attr:`seconds`."""

    @property
    def hit_rate(self) -> float:
        """Share of questions answered by the cache."""
        return sum(r.cache_hit for r in self.results) / max(1, len(self.results))

    @property
    def achievable_hit_rate(self) -> float:
        """Share of questions the workload marks as true repeats / paraphrases."""
        return sum(r.question.expect_cache_hit for r in self.results) / max(1, len(self.results))

    @property
    def false_hits(self) -> int:
        """Hits on questions that must miss (another tenant, another conversation, new)."""
        return sum(r.cache_hit and not r.question.expect_cache_hit for r in self.results)

    @property
    def missed_hits(self) -> int:
        """True repeats / paraphrases that the cache did not answer."""
        return sum(r.question.expect_cache_hit and not r.cache_hit for r in self.results)

    @property
    def mean_tokens_before(self) -> float:
        """Mean unoptimized request tokens per question."""
        return statistics.fmean(r.tokens_unoptimized for r in self.results) if self.results else 0.0

    @property
    def mean_tokens_after(self) -> float:
        """Mean tokens sent per question (cache hits count 0)."""
        return statistics.fmean(r.tokens_sent for r in self.results) if self.results else 0.0

    @property
    def model_calls(self) -> int:
        """Model calls over the run."""
        return sum(r.model_calls for r in self.results)

    @property
    def stored_after_uncacheable_tool(self) -> list[str]:
        """Questions stored although their turn called a tool not declared cacheable.

        Read from the cache's own update counter and entry count; must be empty.
        """
        return [
            r.question.id
            for r in self.results
            if (r.stored or r.entries_added)
            and any(t != FIND_TOOLS and t not in self.cacheable_tools for t in r.tools_called)
        ]

    @property
    def stored_after_cacheable_tools(self) -> list[str]:
        """Questions whose turn called only cacheable tools and was stored (with their TTL)."""
        return [
            r.question.id
            for r in self.results
            if r.stored
            and any(t != FIND_TOOLS for t in r.tools_called)
            and all(t == FIND_TOOLS or t in self.cacheable_tools for t in r.tools_called)
        ]

    @property
    def stored_without_needed_tool(self) -> list[str]:
        """Stored misses whose question needs a non-cacheable tool the turn never called.

        The agent could not reach the tool (not bound, not found) and answered in words; the
        store rule sees no tool call, so such an answer is stored.
        """
        return [
            r.question.id
            for r in self.misses()
            if r.stored
            and any(
                t not in self.cacheable_tools and t not in r.tools_called
                for t in r.question.expected_tools
            )
        ]

    @property
    def not_stored_after_tools(self) -> list[str]:
        """Misses whose turn called a tool that is not cacheable, and that were not stored."""
        return [
            r.question.id
            for r in self.misses()
            if not r.stored
            and any(t != FIND_TOOLS and t not in self.cacheable_tools for t in r.tools_called)
        ]

    @property
    def missed_after_tool_turns(self) -> list[str]:
        """Missed hits whose own or original's thread held tool calls before it was asked."""
        asked = {r.question.id: r for r in self.results}
        return [
            r.question.id
            for r in self.results
            if r.question.expect_cache_hit
            and not r.cache_hit
            and (
                r.after_tool_turns
                or (r.question.repeats in asked and asked[r.question.repeats].after_tool_turns)
            )
        ]

    @property
    def sufficiency(self) -> SufficiencySummary:
        """Next-call sufficiency over the misses that need tools."""
        return SufficiencySummary.of([r.sufficiency for r in self.misses() if r.sufficiency])

    def misses(self) -> list[QuestionResult]:
        """Results that went to the model."""
        return [r for r in self.results if not r.cache_hit]

    def hits(self) -> list[QuestionResult]:
        """Results the cache answered."""
        return [r for r in self.results if r.cache_hit]


def demo_threads() -> int:
    """Torch threads for the local model: the cores this process may use that are idle.

    On a shared machine, two torch threads competing with other processes for two cores run
    SmolLM2 about ten times slower than one thread (16 tokens after a 750-token prompt: 38 s
    against 3.5 s, measured with load average 7.7), so a busy machine gets one thread.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    return max(1, min(cores, int(cores - load + 0.5)))


@dataclass(frozen=True)
class DemoAgent:
    """The demo's compiled graph and the parts the runner reads from."""

    graph: Any
    """The compiled graph (in-memory checkpointer)."""
    monitor: Any
    """The :class:`~langchain_tokenopt.TokenOptCallbackHandler` it reports to."""
    cache: Any
    """Its :class:`~langchain_tokenopt.SemanticCache` (counters and entries are read)."""
    log: CallLog
    """What each model call received (see :mod:`~examples.tokenopt_demo.tool_loop`)."""
    writer: BaseChatModel | None = None
    """The model that writes the answers (SmolLM2 unless ``model=`` replaced it)."""

    def warm_up(self) -> None:
        """Load the writer's weights now (SmolLM2 loads them on its first answer otherwise).

        So the first question's latency is the question's, not the model load's.
        """
        from langchain_tokenopt.llms import LocalChatModel

        if isinstance(self.writer, LocalChatModel):
            from transformers.utils import logging as hf_logging

            from langchain_tokenopt._assets import load_smollm2
            from langchain_tokenopt._quiet import quiet_third_party_logs

            # transformers shows an unlabelled "Loading weights" bar for a 0.1 s load.
            bars = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()
            try:
                with quiet_third_party_logs():
                    load_smollm2(dtype=self.writer.dtype)
            finally:
                if bars:
                    hf_logging.enable_progress_bar()


def build_demo_agent(
    workload: Workload,
    *,
    cache_path: Path,
    metrics_path: Path | None,
    max_new_tokens: int = DEMO_MAX_NEW_TOKENS,
    max_sentences: int | None = DEMO_MAX_SENTENCES,
    context_budget: int = DEMO_CONTEXT_BUDGET,
    system_budget: int = DEMO_SYSTEM_BUDGET,
    tool_margin: float | None = DEFAULT_TOOL_MARGIN,
    num_threads: int | None = None,
    model: BaseChatModel | None = None,
    price_as: str | None = DEMO_PRICE_AS,
    build_agent: Callable[..., Any] | None = None,
) -> DemoAgent:
    """Build the demo agent for the workload with the local SmolLM2.

    The unoptimized system prompt (cache key, "before" figures) is the workload's
    :class:`~langchain_tokenopt.ModularPrompt`; what is sent is fitted to ``system_budget``
    by :func:`~examples.tokenopt_demo.prompt.demo_system_fitter`. The tools are its 131
    schemas as :func:`~examples.tokenopt_demo.tool_loop.stub_tools`, the read-only ones
    declared cacheable (``workload.cacheable_tools``). The model is
    :class:`~examples.tokenopt_demo.tool_loop.WorkloadToolModel` around SmolLM2, which
    decodes greedily, at most ``max_new_tokens`` tokens and ``max_sentences`` sentences
    (bounds a miss on two CPU cores), on ``num_threads`` torch threads (default
    :func:`demo_threads`). ``model`` replaces SmolLM2 as the writer of the answers (tests).
    The monitor prices the local model's requests as ``price_as`` (a hosted model's list
    prices; ``None`` leaves them unpriced). ``build_agent`` replaces
    :func:`~langchain_tokenopt.build_optimized_agent` as the graph factory (same arguments; the
    end-to-end bench wraps it to see the model and tools and to set ``prefix_stable``).
    """
    from langgraph.checkpoint.memory import InMemorySaver

    from langchain_tokenopt.cache import LocalBackend, SemanticCache
    from langchain_tokenopt.compression import ModularPrompt
    from langchain_tokenopt.graph import build_optimized_agent
    from langchain_tokenopt.llms import LocalChatModel
    from langchain_tokenopt.monitoring import (
        MemoryMetricsStore,
        SQLiteMetricsStore,
        TokenOptCallbackHandler,
    )
    from langchain_tokenopt.tokens import TokenCounter

    from .prompt import demo_system_fitter
    from .tool_loop import WorkloadToolModel, stub_tools

    modules = [
        {
            "name": m.name,
            "text": m.content,
            "description": m.description,
            "core": m.cache_breakpoint,
        }
        for m in workload.modules
    ]
    breakpoint_module = next((m.name for m in workload.modules if m.cache_breakpoint), None)
    # The unoptimized prompt as the workload wrote it: the cache key and the "before" figures.
    prompt = ModularPrompt(
        modules, cache_breakpoint=breakpoint_module, separator=workload.separator
    )
    store = SQLiteMetricsStore(path=metrics_path) if metrics_path else MemoryMetricsStore()
    monitor = TokenOptCallbackHandler(store=store, price_as=price_as)
    counter = TokenCounter("gpt-4o")
    # What is sent: the split prompt's essentials plus the sentences that answer the question.
    fitter = demo_system_fitter(workload, budget_tokens=system_budget, token_counter=counter)
    log = CallLog(
        descriptions={
            str(t["function"]["name"]): str(t["function"].get("description", ""))
            for t in workload.tools
        }
    )
    writer = model or LocalChatModel(
        max_new_tokens=max_new_tokens,
        max_sentences=max_sentences,
        dtype="bfloat16",
        num_threads=num_threads or demo_threads(),
        # The essentials open every system prompt: read them once, reuse their KV cache.
        reuse_prefix=True,
    )
    cache = SemanticCache(backend=LocalBackend(path=cache_path), history_policy="standalone")
    graph = (build_agent or build_optimized_agent)(
        WorkloadToolModel(inner=writer, log=log),
        stub_tools(workload),
        system_prompt=prompt,
        compressor=fitter,
        cache=cache,
        monitor=monitor,
        context_budget=context_budget,
        system_budget=system_budget,
        tool_margin=tool_margin,
        token_model="gpt-4o",
        # The workload's repeats come from other users of the same tenant (policy and
        # product questions), so answers are shared tenant-wide.
        cache_scope_by=("tenant_id",),
        # Read-only reference tools; a turn that called any other tool is never stored.
        cacheable_tools=dict(workload.cacheable_tools),
    ).compile(checkpointer=InMemorySaver())
    return DemoAgent(graph=graph, monitor=monitor, cache=cache, log=log, writer=writer)


def run_workload(
    workload: Workload,
    *,
    limit: int | None = None,
    metrics_path: Path | None = None,
    workdir: Path | None = None,
    on_result: Callable[[QuestionResult], None] | None = None,
    **agent_kwargs: Any,
) -> DemoReport:
    """Ask every question of ``workload`` through the optimized agent.

    Args:
        workload: The loaded workload.
        limit: Ask only the first ``limit`` questions.
        metrics_path: SQLite file for the monitor (in-memory store when ``None``).
        workdir: Folder for the run's cache file (when ``None``, a fresh temp folder that
            is removed when the run ends).
        on_result: Called after each question (progress bars).
        **agent_kwargs: Passed to :func:`build_demo_agent`.

    Returns:
        The :class:`DemoReport`.
    """
    if limit is not None and limit < 1:
        msg = f"limit must be a positive int or None, got {limit!r}"
        raise TokenOptConfigError(msg)
    # A folder of our own is removed after the run (the cache file lives only as long as it).
    folder = (
        Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="tokenopt-demo-"))
    )
    folder.mkdir(parents=True, exist_ok=True)
    prepare_start = time.perf_counter()
    try:
        agent = build_demo_agent(
            workload, cache_path=folder / "cache.sqlite", metrics_path=metrics_path, **agent_kwargs
        )
        agent.warm_up()
    except BaseException:
        if workdir is None:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    prepare_seconds = time.perf_counter() - prepare_start
    try:
        from langchain_tokenopt.monitoring import MemoryMetricsStore, TokenOptCallbackHandler

        # This run's own records: the monitor's store may hold earlier runs (the default SQLite
        # file does), so each question's figures come from a handler that only this run feeds.
        # It is flushed after every question: a short writer interval keeps that wait in
        # milliseconds (the default 0.5 s interval cost up to 0.5 s of wall time per question).
        tap = TokenOptCallbackHandler(store=MemoryMetricsStore(flush_interval=0.005))
        questions = list(workload.questions)[: limit or None]
        seeded: set[str] = set()
        results: list[QuestionResult] = []
        start = time.perf_counter()
        for question in questions:
            messages: list[BaseMessage] = []
            if (
                question.conversation_id == workload.history_conversation_id
                and question.conversation_id not in seeded
            ):
                messages.extend(workload.history)
            seeded.add(question.conversation_id)
            messages.append(HumanMessage(question.text))
            config = {
                "configurable": {"thread_id": f"{question.tenant_id}/{question.conversation_id}"},
                "metadata": {"tenant_id": question.tenant_id, "user_id": question.user_id},
                "callbacks": [tap],
            }
            before_ids = {r.request_id for r in tap.store.records()}
            stored_before = agent.cache.stats().updates
            entries_before = agent.cache.backend.count()
            agent.log.start(question)
            t0 = time.perf_counter()
            state = agent.graph.invoke({"messages": messages}, config)
            latency = (time.perf_counter() - t0) * 1000
            tap.store.flush()
            records = [r for r in tap.store.records() if r.request_id not in before_ids]
            result = _result(question, state, records, latency)
            calls = list(agent.log.calls)
            turn_start = _turn_start(state["messages"])
            # The unoptimized request of the turn's first call: the whole system prompt and the
            # whole conversation up to the question.
            full = (
                request_text(state["messages"][:turn_start]) + "\n" + _fold(workload.system_prompt)
            )
            result = replace(
                result,
                tools_called=tuple(
                    c["name"]
                    for m in state["messages"][turn_start:]
                    if isinstance(m, AIMessage)
                    for c in m.tool_calls
                ),
                stored=agent.cache.stats().updates - stored_before,
                entries_added=agent.cache.backend.count() - entries_before,
                sufficiency=None
                if result.cache_hit
                else question_sufficiency(question, calls, full),
                after_tool_turns=any(
                    isinstance(m, AIMessage) and m.tool_calls
                    for m in state["messages"][:turn_start]
                ),
            )
            results.append(result)
            if on_result is not None:
                on_result(result)
        agent.monitor.store.flush()
        return DemoReport(
            results=results,
            seconds=time.perf_counter() - start,
            metrics_path=metrics_path,
            cacheable_tools=dict(workload.cacheable_tools),
            cache_entries=agent.cache.backend.count(),
            prepare_seconds=prepare_seconds,
        )
    finally:
        agent.cache.close()
        if workdir is None:
            shutil.rmtree(folder, ignore_errors=True)


def _fold(text: str) -> str:
    return " ".join(text.lower().split())


def _turn_start(messages: list[BaseMessage]) -> int:
    """Index just after the newest human message (where the turn's own messages begin)."""
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return i + 1
    return 0


_SENT_STEPS = ("compression", "context", "tool_selection")


def _result(
    question: WorkloadQuestion, state: dict[str, Any], records: list[Any], latency_ms: float
) -> QuestionResult:
    turn = state.get("turn") or {}
    last = state["messages"][-1]
    answer = last.content if isinstance(last, AIMessage) and isinstance(last.content, str) else ""
    steps: dict[str, tuple[int, int, float]] = {}
    unoptimized = 0
    sent = 0
    layer = None
    calls: list[tuple[int, int]] = []
    for record in records:
        for step in record.steps:
            b, a, ms = steps.get(step.step, (0, 0, 0.0))
            steps[step.step] = (b + step.tokens_before, a + step.tokens_after, ms + step.latency_ms)
        if record.cache_hit:
            layer = record.cache_layer
            unoptimized = max(
                (s.tokens_before for s in record.steps if s.step == "cache"), default=0
            )
        elif any(s.step in _SENT_STEPS for s in record.steps):
            # One model call: what it sent and what the unoptimized agent would have sent
            # (whole system prompt, whole history, every tool), with the same tokenizer.
            calls.append(
                (
                    sum(s.tokens_before for s in record.steps if s.step in _SENT_STEPS),
                    sum(s.tokens_after for s in record.steps if s.step in _SENT_STEPS),
                )
            )
    hit = bool(turn.get("cache_hit"))
    if not hit:
        unoptimized = sum(b for b, _ in calls)
        sent = sum(a for _, a in calls)
    return QuestionResult(
        question=question,
        answer=answer,
        cache_hit=hit,
        cache_layer=layer,
        latency_ms=latency_ms,
        tokens_unoptimized=unoptimized,
        tokens_sent=0 if hit else sent,
        steps=steps,
        tools_bound=list(turn.get("tools") or []),
        system_prompt="" if hit else str(turn.get("system_prompt") or ""),
        model_calls=0 if hit else len(calls),
        first_call=calls[0] if calls and not hit else (0, 0),
    )
