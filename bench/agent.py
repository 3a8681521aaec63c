"""Agent-loop benchmark: is the optimized request still enough for the agent's next tool call?

At every point where the recorded agent made a tool call, the history before that call is
replayed through each method, and a scripted chat model records the request it receives
(system text, messages, bound tools). A point is **sufficient** when the gold tool is bound and
every gold argument value that the full request holds is still in the optimized request.

Data (``../shared/datasets/conversations``, ``--data DIR``; split by ``sha1(key) % 5``):
* tau-bench airline, every trial of each task (key ``task_id``, so a task's trials stay in
  one split; ``--first-trial`` keeps trial 0 only); 14 tools written in
  ``bench/agent_catalogs.py`` (the data has no schemas) + 250 BFCL distractors (seed 0);
* ToolTalk (key ``conversation_id``); 28 APIs written there + 250 BFCL distractors.
Settings: ``plain`` (each trajectory alone) and ``long`` (the same trajectory preceded by at
least 25k tokens of other tasks of the same split, its own system prompt once at the start;
the test split is small, so the filler cycles through the other tasks' trajectories, all
trials for tau-bench, with fresh message and tool-call ids). Points are the tool calls of the
measured trajectory only.

Methods, same run: ``none`` (full request, every tool), ``trim_messages`` (LangChain's,
``strategy="last"``, ``TRIM_TOKENS`` + system, every tool), ``topk_last_user`` (every message,
``ToolRetriever`` top 5 for the newest human message: what langgraph-bigtool's search sees),
``ours_graph`` (``build_optimized_agent(..., cache=False, monitor=False)``),
``ours_middleware`` (``create_agent`` + ``TokenOptMiddleware(cache=False)``) and the graph in
its prefix-stable mode, compacting at the share the provider's cache prices set
(``compaction_share``): ``ours_prefix`` for Anthropic's (0.36), ``ours_prefix_openai`` for
OpenAI's (0.59); each sequence is priced for every model, and the figures to quote are each
run's own provider's. The agents are
built once per (catalog, system prompt) and warmed up on a throw-away question; the
``tool_working_set`` state key is carried from one point to the next of a thread when the
agent's output state has it.

Every model call of the measured trajectory is replayed (each AI message: the optimizer runs
on every call of an agent loop); the calls that made a tool call are the scored **points**,
the calls that answered in words count for tokens, cost and latency only. The scripted model
answers ``"ok"`` on those, and on a point when the gold tool is bound; otherwise, when
``find_tools`` is bound, it calls it with the gold tool's first description sentence and
records on the next call whether the gold tool is then bound (``recovered``, one extra model
call). Metrics: tool_bound, recovered, args_kept (gold string / number values, >= 2 chars,
case and whitespace folded, that the task's own conversation holds (system prompt and the
measured trajectory; in the long setting not the filler of other tasks) and the optimized
request keeps, in its messages or as an ``enum`` value of a bound tool's schema),
sufficient, sufficient_with_find, tokens per call (``TokenCounter("gpt-4o")``: messages +
bound tools, the full request is full system + full history + the whole catalog), and
optimizer ms per model call (invoke wall time minus the scripted model's own time, divided
by the model calls of that invoke) beside the tokenizer pass over the full request timed on
the same point.

Run (from the repo root; 28 s measured on the shared 2-core machine for the test split, both
datasets and settings, 102 points x 5 methods; the dev split, 994 points, took 273 s):

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python -m bench agent

Options: ``--split dev|test`` (default test), ``--quick`` (2 threads per dataset),
``--only tau|tooltalk``, ``--methods``, ``--settings``, ``--context-budget``, ``--no-toolkits``,
``--first-trial``, ``--out FILE`` (default ``<results>/agent_bench.json``, ``--results DIR``
default ``bench/results``; the plot goes beside it, ``.png``). The JSON holds every per-point
failure (dataset, setting, thread, point, gold tool, failed checks, bound tools, the newest human
message and the last messages before the call). Latency percentiles come from
:func:`bench.common.percentile` (linear interpolation).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import re
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    ToolCall,
    ToolMessage,
    trim_messages,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.graph.state import CompiledStateGraph
from pydantic import ConfigDict
from rich.console import Console
from rich.table import Table

from bench.agent_catalogs import (
    TAU_AIRLINE_TOOLS,
    TOOLTALK_TOOLS,
    description_of,
    tool_name,
    with_distractors,
    with_toolkits,
)
from bench.common import DATASETS, percentile, results_option, write_json
from bench.context import is_test, load_tau, load_tooltalk, long_threads, text_of
from bench.tools.data import load_bfcl
from examples.tokenopt_demo.tool_loop import first_sentence
from langchain_tokenopt import ToolRetriever, build_optimized_agent
from langchain_tokenopt.embeddings import OnnxEmbeddings, get_default_query_embeddings
from langchain_tokenopt.graph.defaults import DEFAULT_CONTEXT_BUDGET
from langchain_tokenopt.graph.prefix import Provider, compaction_share
from langchain_tokenopt.monitoring import (
    MemoryMetricsStore,
    RequestShape,
    TokenOptCallbackHandler,
    price_thread,
)
from langchain_tokenopt.tokens import TokenCounter

__all__ = ["METHODS", "SETTINGS", "register", "run"]

console = Console(width=200)
METHODS = (
    "none",
    "trim_messages",
    "topk_last_user",
    "ours_graph",
    "ours_middleware",
    "ours_prefix",
    "ours_prefix_openai",
)
#: The provider whose cache prices set each prefix-stable run's compaction share
#: (``compaction_share``): the request sequences differ, so each is priced for its own.
PREFIX_RUNS: dict[str, Provider] = {"ours_prefix": "anthropic", "ours_prefix_openai": "openai"}
#: Models the request sequences are priced for, with their provider's caching rules.
PRICED = (("claude-sonnet-4-5", "anthropic"), ("gpt-4o", "openai"), ("gpt-4.1", "openai"))
#: Seconds between two model calls of a thread in the cost replay (inside every lifetime).
CALL_GAP_S = 30.0
SETTINGS = ("plain", "long")
LONG_PREFIX_TOKENS = 25_000
TRIM_TOKENS = DEFAULT_CONTEXT_BUDGET  # the same history budget as ours
TOPK = 5
FIND_TOOLS = "find_tools"
WORKING_SET = "tool_working_set"
#: Agent-state keys carried from one point of a thread to the next (what a checkpointer keeps).
CARRIED = (WORKING_SET, "prefix")


# ---------------------------------------------------------------------- fail-open watch
class OptimizerErrors(logging.Handler):
    """Counts the warnings our optimizers log when a step fails open, per method."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.method = ""
        self.counts: Counter[str] = Counter()
        self.messages: dict[str, Counter[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[self.method] += 1
        text = record.getMessage().splitlines()[0][:200]
        self.messages.setdefault(self.method, Counter())[text] += 1


# ---------------------------------------------------------------------- the scripted model
class Script:
    """What the scripted model must do at the current point, and what it saw."""

    def __init__(self) -> None:
        self.reset("", "")

    def reset(self, gold: str, query: str) -> None:
        self.gold, self.query = gold, query
        self.calls: list[dict[str, Any]] = []
        self.model_s = 0.0


class ScriptedChatModel(BaseChatModel):
    """A chat model that records each request and plays the script (see the module docstring)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_name: str = "gpt-4o"
    script: Any = None
    bound: tuple[Any, ...] = ()

    @property
    def _llm_type(self) -> str:
        return "scripted-agent-bench"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        return self.model_copy(update={"bound": tuple(tools)})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        start = time.perf_counter()
        script: Script = self.script
        names = [_name(t) for t in self.bound]
        script.calls.append({"messages": list(messages), "tools": list(self.bound), "names": names})
        if (
            script.gold
            and len(script.calls) == 1
            and script.gold not in names
            and FIND_TOOLS in names
        ):
            call = ToolCall(
                id=f"call_{uuid.uuid4().hex[:12]}", name=FIND_TOOLS, args={"query": script.query}
            )
            reply = AIMessage("", tool_calls=[call])
        else:
            reply = AIMessage("ok")
        script.model_s += time.perf_counter() - start
        return ChatResult(generations=[ChatGeneration(message=reply)])


def _name(tool: Any) -> str:
    if isinstance(tool, dict):
        return tool_name(tool)
    return str(getattr(tool, "name", getattr(tool, "__name__", "")))


def executable(catalog: list[dict[str, Any]]) -> list[BaseTool]:
    """Each schema as a ``StructuredTool`` returning ``"ok"`` (``create_agent`` needs tools)."""

    def ok(**_: Any) -> str:
        return "ok"

    out: list[BaseTool] = []
    for tool in catalog:
        fn = tool["function"]
        made = StructuredTool.from_function(
            func=ok,
            name=fn["name"],
            description=fn.get("description") or fn["name"],
            args_schema=fn["parameters"],
        )
        if tool.get("namespace"):
            made.metadata = {"namespace": tool["namespace"]}
        out.append(made)
    return out


# ---------------------------------------------------------------------- data
def with_ids(messages: list[BaseMessage], prefix: str) -> list[BaseMessage]:
    """Copies with ids unique in one thread (tool-call ids too, so repeated filler stays valid)."""
    out: list[BaseMessage] = []
    for i, m in enumerate(messages):
        update: dict[str, Any] = {"id": f"{prefix}-{i}"}
        if isinstance(m, AIMessage) and m.tool_calls:
            update["tool_calls"] = [{**c, "id": f"{prefix}-{c['id']}"} for c in m.tool_calls]
        elif isinstance(m, ToolMessage):
            update["tool_call_id"] = f"{prefix}-{m.tool_call_id}"
        out.append(m.model_copy(update=update))
    return out


def load_threads(
    data: Path, dataset: str, split: str, *, first_trial: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return ``(measured items, filler items)`` of the split (filler: tau-bench all trials)."""
    want_test = split == "test"
    if dataset == "tau":
        every = [i for i in load_tau(data) if i["test"] == want_test]
        for item in every:
            task, trial = item["id"].rsplit("-", 2)[1:]
            item["key"], item["trial"] = task, int(trial)
            assert is_test(task) == want_test
        return [i for i in every if i["trial"] == 0 or not first_trial], every
    items = [i for i in load_tooltalk(data) if i["test"] == want_test]
    for item in items:
        item["key"] = item["id"]
    return items, items


def long_thread(
    item: dict[str, Any], filler: list[dict[str, Any]], counter: TokenCounter
) -> list[BaseMessage]:
    """The item's system prompt, >= 25k tokens of other tasks, then the item's trajectory."""
    others = [f for f in filler if f["key"] != item["key"]]
    start = next((j for j, f in enumerate(others) if f["id"] > item["id"]), 0)
    ordered = others[start:] + others[:start]
    system = item["messages"][0]
    pieces, rep = [], 0
    tokens = counter.count_messages([system])  # the same sum as ``long_threads``
    while tokens < LONG_PREFIX_TOKENS:  # the test split is small: cycle with fresh ids
        for f in ordered:
            body = with_ids(f["messages"][1:], f"r{rep}-{f['id']}")
            pieces.append({"id": f["id"], "messages": [system, *body], "facts": []})
            tokens += counter.count_messages(body) - 3
            if tokens >= LONG_PREFIX_TOKENS:
                break
        rep += 1
    prefix = long_threads(pieces, counter, LONG_PREFIX_TOKENS)[0]["messages"]
    return prefix + item["messages"][1:]


def calls_of(messages: list[BaseMessage], first: int) -> list[int]:
    """Indices (>= first) of every AI message: each is one model call of the agent loop."""
    return [i for i, m in enumerate(messages[first:], start=first) if isinstance(m, AIMessage)]


def points_of(messages: list[BaseMessage], first: int) -> list[int]:
    """Indices (>= first) of the AI messages that made a tool call."""
    return [
        i
        for i, m in enumerate(messages[first:], start=first)
        if isinstance(m, AIMessage) and m.tool_calls
    ]


# ---------------------------------------------------------------------- metrics
def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower())


def gold_values(value: Any) -> list[list[str]]:
    """Each gold value as its accepted spellings (strings, numbers; no bools, >= 2 chars)."""
    out: list[list[str]] = []
    if isinstance(value, dict):
        for v in value.values():
            out.extend(gold_values(v))
    elif isinstance(value, list):
        for v in value:
            out.extend(gold_values(v))
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int | float):
        if float(value).is_integer():
            forms = [str(int(value)), f"{int(value)}.0"]
        else:
            forms = [repr(float(value))]
        if len(forms[0]) >= 2:
            out.append(forms)
    elif isinstance(value, str) and len(value.strip()) >= 2:
        out.append([_fold(value.strip())])
    return out


def request_text(messages: Sequence[BaseMessage]) -> str:
    return _fold(text_of(list(messages)))


def enum_values(schema: Any) -> list[str]:
    """The ``enum`` strings of a tool schema, at any depth (``cabin``: ``basic_economy``...).

    A bound tool's schema is part of the request: a value the model picks from its enum
    ("Basic Economy" said, ``basic_economy`` sent) is not lost with the message it was
    spelled in.
    """
    out: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "enum" and isinstance(value, list):
                out.extend(_fold(v) for v in value if isinstance(v, str))
            else:
                out.extend(enum_values(value))
    elif isinstance(schema, list):
        for value in schema:
            out.extend(enum_values(value))
    return out


# ---------------------------------------------------------------------- the methods
class StepTimes(TokenOptCallbackHandler):
    """Adds up the optimizer steps' own latency (what the graph and middleware report)."""

    def __init__(self) -> None:
        super().__init__(store=MemoryMetricsStore())
        self.ms = 0.0

    def record_step(self, request_id: str, event: Any) -> None:
        self.ms += float(event.latency_ms)


class Harness:
    """One catalog: its agents (built once per system prompt) and its retriever."""

    def __init__(
        self,
        catalog: list[dict[str, Any]],
        counter: TokenCounter,
        context_budget: int = DEFAULT_CONTEXT_BUDGET,
        *,
        errors: OptimizerErrors,
    ) -> None:
        self.catalog = catalog
        self.errors = errors
        self.context_budget = context_budget
        self.by_name = {tool_name(t): t for t in catalog}
        self.counter = counter
        self.catalog_tokens = counter.count_tools(catalog)
        self.tools = executable(catalog)
        self.script = Script()
        self.model = ScriptedChatModel(script=self.script)
        start = time.perf_counter()
        self.retriever = ToolRetriever(tools=catalog)
        self.retriever.invoke("warm up the retriever", k=TOPK)
        self.build_s = {"retriever": time.perf_counter() - start}
        self._agents: dict[tuple[str, str], Any] = {}
        self.steps = StepTimes()
        self.steps_ms = 0.0

    def forget_agents(self) -> None:
        """Drop the built agents and every cache of what they saw; the next build afresh."""
        self._agents.clear()
        self.forget_vectors()
        gc.collect()

    @staticmethod
    def forget_vectors() -> None:
        """Empty the process-wide query embedder's kept vectors (shared by every agent)."""
        embedder = get_default_query_embeddings()
        if isinstance(embedder, OnnxEmbeddings):
            embedder.forget()

    def agent(self, method: str, system: str) -> Any:
        key = (method, system)
        if key not in self._agents:
            from langchain.agents import create_agent

            from langchain_tokenopt.graph.middleware import TokenOptMiddleware

            start = time.perf_counter()
            agent: CompiledStateGraph[Any, Any, Any, Any]
            if method == "ours_graph" or method in PREFIX_RUNS:
                agent = build_optimized_agent(
                    self.model,
                    tools=self.catalog,
                    system_prompt=system,
                    cache=False,
                    monitor=False,
                    context_budget=self.context_budget,
                    prefix_stable=method in PREFIX_RUNS,
                    compact_to=(
                        compaction_share(PREFIX_RUNS[method]) if method in PREFIX_RUNS else None
                    ),
                ).compile()
            else:
                agent = create_agent(
                    self.model,
                    tools=self.tools,
                    system_prompt=system,
                    middleware=[
                        TokenOptMiddleware(cache=False, context_budget=self.context_budget)
                    ],
                )
            self.script.reset("__warmup__", "warm up")  # builds lazy parts, warms the paths
            agent.invoke({"messages": [HumanMessage("Hello, can you help me with something?")]})
            # The build's garbage is collected with the build (as ``timeit`` keeps the
            # collector out of timed code): a full collection of it would otherwise land in
            # the next timed call (ToolTalk builds an agent per conversation's system prompt).
            gc.collect()
            self.build_s.setdefault(method, 0.0)
            self.build_s[method] += time.perf_counter() - start
            self._agents[key] = agent
        return self._agents[key]

    def count(self, messages: Sequence[BaseMessage], tools: Sequence[Any]) -> int:
        schemas = [self.by_name.get(_name(t), t) for t in tools]
        return self.counter.count_messages(messages) + (
            self.counter.count_tools(schemas) if schemas else 0
        )

    def run(
        self, method: str, history: list[BaseMessage], state: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], float]:
        """Return (recorded model calls, optimizer seconds per call)."""
        system = history[0]
        if method == "none":
            return [{"messages": history, "tools": self.catalog, "names": list(self.by_name)}], 0.0
        if method == "trim_messages":
            sys_tokens = self.counter.count_messages([system])
            start = time.perf_counter()
            kept = trim_messages(
                history,
                strategy="last",
                include_system=True,
                start_on="human",
                token_counter=self.counter.count_messages,
                max_tokens=TRIM_TOKENS + sys_tokens,
            )
            took = time.perf_counter() - start
            return [{"messages": kept, "tools": self.catalog, "names": list(self.by_name)}], took
        if method == "topk_last_user":
            human = next((m for m in reversed(history) if isinstance(m, HumanMessage)), None)
            start = time.perf_counter()
            docs = self.retriever.invoke(human.text if human is not None else "", k=TOPK)
            took = time.perf_counter() - start
            names = [d.metadata["name"] for d in docs]
            tools = [self.by_name[n] for n in names]
            return [{"messages": history, "tools": tools, "names": names}], took
        agent = self.agent(method, str(system.content))
        inputs: dict[str, Any] = {"messages": history[1:]}
        for key in CARRIED:
            if state.get(key) is not None:
                inputs[key] = state[key]
        self.steps.ms = 0.0
        # The process's embedder keeps the newest vectors for every agent in it; the methods
        # replay the same history one after the other, so each call starts without them (an
        # agent's own caches, which hold only what it saw, stay).
        self.forget_vectors()
        start = time.perf_counter()
        out = agent.invoke(inputs, {"callbacks": [self.steps]})
        wall = time.perf_counter() - start
        for key in CARRIED:
            if isinstance(out, dict) and out.get(key) is not None:
                state[key] = out[key]
        calls = list(self.script.calls)
        self.steps_ms = self.steps.ms / max(1, len(calls))
        return calls, (wall - self.script.model_s) / max(1, len(calls))


def replay(
    harness: Harness,
    method: str,
    history: list[BaseMessage],
    state: dict[str, Any],
    gold: str,
    query: str,
) -> tuple[list[dict[str, Any]], float, int]:
    """Run one model call of ``method`` on ``history``: (recorded calls, opt. s, failed steps).

    ``gold`` and ``query`` are the script (empty: the model answers in words).
    """
    if method.startswith("ours"):
        harness.agent(method, str(history[0].content))  # built (and warmed) before the reset
    harness.script.reset(gold, query)
    harness.steps_ms = 0.0
    harness.errors.method = method
    before = harness.errors.counts[method]
    calls, opt_s = harness.run(method, history, state)
    errors = harness.errors.counts[method] - before
    harness.errors.method = ""
    return calls, opt_s, errors


def measure_point(
    harness: Harness,
    method: str,
    history: list[BaseMessage],
    gold: dict[str, Any],
    state: dict[str, Any],
    own_text: str | None = None,
) -> dict[str, Any]:
    """Replay one point through ``method``; ``own_text`` is where gold values are looked for.

    ``own_text`` (default: the whole history) is the folded text of the system prompt and the
    measured task's own messages: in the long setting the filler before them is other tasks,
    whose words a value derived by the agent (``"6:30"`` read as ``18:30:00``) can match by
    chance, and no agent needs them for this task's next call.
    """
    gold_name = gold["name"]
    query = first_sentence(description_of(harness.by_name[gold_name]))
    calls, opt_s, errors = replay(harness, method, history, state, gold_name, query)
    first = calls[0]
    bound = gold_name in first["names"]
    find_bound = FIND_TOOLS in first["names"]
    recovered = (not bound) and find_bound and len(calls) > 1 and gold_name in calls[1]["names"]
    full_text = own_text if own_text is not None else request_text(history)
    sent_text = request_text(first["messages"])
    enums = {
        v for n in first["names"] if n in harness.by_name for v in enum_values(harness.by_name[n])
    }
    checked = [forms for forms in gold_values(gold["args"]) if any(f in full_text for f in forms)]
    lost = [forms[0] for forms in checked if not any(f in sent_text or f in enums for f in forms)]
    return {
        "scored": True,
        "tool_bound": bound,
        "find_bound": find_bound,
        "recovered": recovered,
        "extra_calls": max(0, len(calls) - 1),
        "args_checked": len(checked),
        "args_lost": lost,
        "args_kept": not lost,
        "sufficient": bound and not lost,
        "sufficient_with_find": (bound or recovered) and not lost,
        **call_figures(harness, first, opt_s, errors),
        "names_after_find": calls[1]["names"] if recovered or len(calls) > 1 else None,
    }


def measure_call(
    harness: Harness, method: str, history: list[BaseMessage], state: dict[str, Any]
) -> dict[str, Any]:
    """Replay a model call that answered in words: what it sent and cost, nothing to score.

    The agent loop runs the optimizer on every model call, so every call counts for tokens,
    cost and latency; only the calls that made a tool call are scored for sufficiency.
    """
    calls, opt_s, errors = replay(harness, method, history, state, "", "")
    return {"scored": False, **call_figures(harness, calls[0], opt_s, errors)}


def call_figures(
    harness: Harness, first: dict[str, Any], opt_s: float, errors: int
) -> dict[str, Any]:
    """What a model call sent and cost: tokens, its shape for pricing, latency, tools bound."""
    return {
        "tokens_sent": harness.count(first["messages"], first["tools"]),
        "shape": request_shape(harness, first["messages"], first["tools"]),
        "opt_ms": opt_s * 1000,
        "steps_ms": harness.steps_ms,
        "optimizer_errors": errors,
        "names": first["names"],
    }


def request_shape(harness: Harness, messages: Sequence[BaseMessage], tools: Sequence[Any]) -> Any:
    """The request as the cost model sees it, breakpoints where a caching user puts them.

    Every method gets the same three breakpoints: the last tool, the system prompt and the
    newest message (what ``TokenOptMiddleware``'s prefix-stable mode and a user caching by
    hand both mark); the time is set per thread by :func:`price_rows`.
    """
    schemas = [harness.by_name.get(_name(t), t) for t in tools]
    shape = RequestShape.from_messages(list(messages), tools=schemas, counter=harness.counter)
    n_tools = len(schemas)
    marks = {len(shape.parts) - 2} if len(shape.parts) >= 2 else set()
    if n_tools:
        marks.add(n_tools - 1)
    if any(m.type == "system" for m in messages):
        marks.add(n_tools)
    return replace(shape, breakpoints=tuple(sorted(marks)))


def price_rows(rows: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Cost per call of each method, four ways, for each priced model.

    Each thread's requests are replayed in order, ``CALL_GAP_S`` apart, under the provider's
    caching rules (``langchain_tokenopt.monitoring.price_thread``). ``none`` priced without
    caching is what a user who does not cache pays; with caching, what one who does pays.
    """
    out: dict[str, dict[str, Any]] = {}
    for method, method_rows in rows.items():
        threads: dict[str, list[Any]] = {}
        for r in method_rows:
            threads.setdefault(r["thread"], []).append(r["shape"])
        per_model: dict[str, Any] = {}
        for model, provider in PRICED:
            usd = usd_plain = 0.0
            read = total = 0
            calls = 0
            for shapes in threads.values():
                timed = [replace(sh, at=i * CALL_GAP_S) for i, sh in enumerate(shapes)]
                cost = price_thread(timed, model=model, provider=provider)
                usd += float(cost.usd)
                usd_plain += float(cost.usd_without_caching)
                read += cost.cache_read_tokens
                total += cost.input_tokens
                calls += len(shapes)
            per_model[model] = {
                "usd_per_call_cached": usd / max(1, calls),
                "usd_per_call_uncached": usd_plain / max(1, calls),
                "prefix_reuse": read / max(1, total),
            }
        out[method] = per_model
    return out


def print_costs(title: str, costs: dict[str, dict[str, Any]]) -> None:
    """Cost per call with provider caching, as a ratio to the unoptimized cached baseline."""
    table = Table(title=title)
    table.add_column("method")
    for model, _ in PRICED:
        table.add_column(f"{model}: $/call cached (× none cached)", justify="right")
        table.add_column("prefix reuse", justify="right")
    base = costs.get("none", {})
    for method, per_model in costs.items():
        cells = [method]
        for model, _ in PRICED:
            c = per_model[model]
            ref = base.get(model, {}).get("usd_per_call_cached") or 0.0
            ratio = c["usd_per_call_cached"] / ref if ref else float("nan")
            cells.append(f"{c['usd_per_call_cached']:.4f} ({ratio:.3f}×)")
            cells.append(f"{c['prefix_reuse']:.0%}")
        table.add_row(*cells)
    if base:
        cells = ["none, no caching"]
        for model, _ in PRICED:
            c = base[model]
            ref = c["usd_per_call_cached"] or float("nan")
            cells.append(
                f"{c['usd_per_call_uncached']:.4f} ({c['usd_per_call_uncached'] / ref:.3f}×)"
            )
            cells.append("0%")
        table.add_row(*cells)
    console.print(table)


def _summary(history: list[BaseMessage], n: int = 4) -> list[str]:
    out = []
    for m in history[-n:]:
        if isinstance(m, AIMessage) and m.tool_calls:
            c = m.tool_calls[0]
            out.append(f"ai->{c['name']}({json.dumps(c['args'], ensure_ascii=False)[:80]})")
        else:
            text = " ".join(str(m.content).split())[:100]
            out.append(f"{m.type}{f'({m.name})' if m.name else ''}: {text}")
    return out


def run_dataset(
    dataset: str,
    harness: Harness,
    items: list[dict[str, Any]],
    filler: list[dict[str, Any]],
    setting: str,
    methods: Sequence[str] = METHODS,
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]], dict[str, Any]]:
    """Replay every point of ``items`` through each of ``methods`` in ``setting``."""
    rows: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    failures: list[dict[str, Any]] = []
    counter = harness.counter
    full_tokens, tokenizer_ms, prefix_tokens = [], [], []
    for item in items:
        own = with_ids(item["messages"], item["id"])
        if setting == "plain":
            thread, first = own, 1
        else:
            thread = long_thread({**item, "messages": own}, filler, counter)
            first = len(thread) - (len(own) - 1)
            prefix_tokens.append(counter.count_messages(thread[:first]))
        states: dict[str, dict[str, Any]] = {m: {} for m in methods}
        points = set(points_of(thread, first))
        p = -1
        for idx in calls_of(thread, first):
            history = thread[:idx]
            start = time.perf_counter()
            full = counter.count_messages(history) + counter.count_tools(harness.catalog)
            tokenizer_ms.append((time.perf_counter() - start) * 1000)
            full_tokens.append(full)
            if idx not in points:  # an answer in words: counted, not scored
                for method in methods:
                    row = measure_call(harness, method, history, states[method])
                    row["tokens_full"] = full
                    row["thread"] = item["id"]
                    rows[method].append(row)
                continue
            p += 1
            gold = thread[idx].tool_calls[0]  # type: ignore[attr-defined]
            human = next((m for m in reversed(history) if isinstance(m, HumanMessage)), None)
            own_text = request_text([history[0], *history[first:]])
            for method in methods:
                row = measure_point(harness, method, history, gold, states[method], own_text)
                row["tokens_full"] = full
                row["thread"] = item["id"]
                rows[method].append(row)
                if not row["sufficient"]:
                    kind = failure_kind(row, gold["name"], history, first)
                    checks = []
                    if not row["tool_bound"]:
                        checks.append(
                            "tool_not_bound"
                            + (
                                "/recovered"
                                if row["recovered"]
                                else ("/find_missed" if row["find_bound"] else "/no_find_tools")
                            )
                        )
                    if row["args_lost"]:
                        checks.append("args_lost")
                    failures.append(
                        {
                            "dataset": dataset,
                            "setting": setting,
                            "method": method,
                            "thread": item["id"],
                            "point": p,
                            "gold_tool": gold["name"],
                            "failed": checks,
                            "kind": kind,
                            "args_lost": row["args_lost"],
                            "bound": row["names"],
                            "bound_after_find": row["names_after_find"],
                            "gold_called_before_in_thread": any(
                                isinstance(m, AIMessage)
                                and any(c["name"] == gold["name"] for c in m.tool_calls)
                                for m in history[first:]
                            ),
                            "human": (human.text if human is not None else "")[:400],
                            "messages_before": len(history),
                            "last_messages": _summary(history),
                        }
                    )
    extra = {
        "tokens_full": full_tokens,
        "tokenizer_ms": tokenizer_ms,
        "prefix_tokens": prefix_tokens,
    }
    return rows, failures, extra


def aggregate(calls: list[dict[str, Any]], tokenizer_ms: list[float], method: str) -> dict:
    """Sufficiency over the scored points; tokens, tools and latency over every model call."""
    rows = [r for r in calls if r["scored"]]
    n = len(rows)
    if not n:
        return {"points": 0}

    def mean(key: str, over: list[dict[str, Any]] = rows) -> float:
        return statistics.fmean(float(r[key]) for r in over)

    out: dict[str, Any] = {
        "points": n,
        "calls": len(calls),
        "tool_bound": mean("tool_bound"),
        "recovered": mean("recovered"),
        "extra_calls": sum(r["extra_calls"] for r in rows),
        "args_kept": mean("args_kept"),
        "args_checked": sum(r["args_checked"] for r in rows),
        "sufficient": mean("sufficient"),
        "sufficient_with_find": mean("sufficient_with_find"),
        "tokens_full": mean("tokens_full", calls),
        "tokens_sent": mean("tokens_sent", calls),
        "tools_bound": statistics.fmean(len(r["names"]) for r in calls),
        "points_with_optimizer_errors": sum(1 for r in calls if r["optimizer_errors"]),
    }
    out["tokens_fewer"] = 1 - out["tokens_sent"] / out["tokens_full"]
    ms = [r["opt_ms"] for r in calls]
    if method != "none":
        out["opt_ms_p50"], out["opt_ms_p95"] = percentile(ms, 50), percentile(ms, 95)
        out["tokenizer_ms_p50"], out["tokenizer_ms_p95"] = (
            percentile(tokenizer_ms, 50),
            percentile(tokenizer_ms, 95),
        )
        out["ratio_p50"] = out["opt_ms_p50"] / out["tokenizer_ms_p50"]
        out["ratio_p95"] = out["opt_ms_p95"] / out["tokenizer_ms_p95"]
        steps = [r["steps_ms"] for r in calls]
        out["steps_ms_p50"], out["steps_ms_p95"] = percentile(steps, 50), percentile(steps, 95)
        out["steps_ratio_p50"] = out["steps_ms_p50"] / out["tokenizer_ms_p50"]
        out["steps_ratio_p95"] = out["steps_ms_p95"] / out["tokenizer_ms_p95"]
    return out


def print_table(title: str, results: dict[str, dict[str, Any]]) -> None:
    table = Table(title=title)
    for col in (
        "method",
        "points / calls",
        "tool bound",
        "recovered (+calls)",
        "args kept",
        "sufficient",
        "suff. w/ find",
        "tools bound",
        "tokens/call full → sent",
        "opt. ms p50 / p95",
        "× tokenizer p50 / p95",
        "our steps ms p50 / p95",
        "steps × tok.",
        "fail-open",
    ):
        table.add_column(col, justify="right" if col != "method" else "left")
    for method, r in results.items():
        if not r.get("points"):
            continue
        has_ms = "opt_ms_p50" in r
        table.add_row(
            method,
            f"{r['points']} / {r.get('calls', r['points'])}",
            f"{r['tool_bound']:.2f}",
            f"{r['recovered']:.2f} (+{r['extra_calls']})",
            f"{r['args_kept']:.2f}",
            f"{r['sufficient']:.2f}",
            f"{r['sufficient_with_find']:.2f}",
            f"{r['tools_bound']:.1f}",
            f"{r['tokens_full'] / 1000:.1f}k → {r['tokens_sent'] / 1000:.1f}k "
            f"(-{r['tokens_fewer']:.0%})",
            f"{r['opt_ms_p50']:.1f} / {r['opt_ms_p95']:.1f}" if has_ms else "-",
            f"{r['ratio_p50']:.1f} / {r['ratio_p95']:.1f}" if has_ms else "-",
            f"{r['steps_ms_p50']:.1f} / {r['steps_ms_p95']:.1f}"
            if has_ms and r["steps_ms_p95"]
            else "-",
            f"{r['steps_ratio_p50']:.1f} / {r['steps_ratio_p95']:.1f}"
            if has_ms and r["steps_ms_p95"]
            else "-",
            str(r["points_with_optimizer_errors"]),
        )
    console.print(table)


def failure_kind(row: dict[str, Any], gold: str, history: list[BaseMessage], first: int) -> str:
    """Why a point is not sufficient, in words an engineer can act on."""
    if row["tool_bound"]:
        return "args lost: a gold value of the history is not in the optimized request"
    last_human = max(
        (i for i, m in enumerate(history) if isinstance(m, HumanMessage)), default=len(history)
    )

    def called(messages: Sequence[BaseMessage]) -> bool:
        return any(
            isinstance(m, AIMessage) and any(c["name"] == gold for c in m.tool_calls)
            for m in messages
        )

    catalog_bound = [n for n in row["names"] if n != FIND_TOOLS]
    if not catalog_bound:
        base = "no catalog tool bound (selector abstained)"
    elif called(history[last_human:]):
        base = "not bound though already called in this user turn"
    elif called(history[first:last_human]):
        base = "not bound though called in an earlier user turn"
    else:
        base = "not bound at its first use (retrieval ranked other tools)"
    if row["recovered"]:
        how = "recovered by find_tools"
    elif row["find_bound"]:
        how = "find_tools did not load it"
    else:
        how = "find_tools not bound"
    lost = "; args also lost" if row["args_lost"] else ""
    return f"{base}; {how}{lost}"


def failure_kinds(failures: list[dict[str, Any]], top: int = 10) -> list[tuple[str, int]]:
    kinds: Counter[str] = Counter()
    for f in failures:
        if f["method"].startswith("ours"):
            kinds[f"{f['method']}: {f['kind']}"] += 1
    return kinds.most_common(top)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SETTINGS), figsize=(12, 4.8), sharey=True)
    markers = {"tau": "o", "tooltalk": "s"}
    colors = dict(zip(METHODS, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    for ax, setting in zip(axes, SETTINGS, strict=True):
        for dataset, by_setting in results.items():
            for method, r in by_setting.get(setting, {}).items():
                if not r.get("points"):
                    continue
                ax.scatter(
                    r["tokens_sent"],
                    r["sufficient_with_find"],
                    marker=markers.get(dataset, "^"),
                    color=colors[method],
                    s=60,
                    label=f"{method} ({dataset})",
                )
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(f"{setting} threads")
        ax.set_xlabel("tokens sent per call (log)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("sufficient (with find_tools)")
    handles, labels = axes[-1].get_legend_handles_labels()
    if not handles:
        handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=8)
    fig.suptitle("Next-call sufficiency vs tokens per call (o tau-bench, s ToolTalk)")
    fig.tight_layout(rect=(0, 0.12, 1, 0.95))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``agent`` to the dispatcher's subparsers."""
    ap = sub.add_parser("agent", help="the agent loop on tau-bench and ToolTalk")
    ap.add_argument("--data", type=Path, default=DATASETS)
    ap.add_argument("--split", choices=("dev", "test"), default="test")
    ap.add_argument("--quick", action="store_true", help="2 threads per dataset")
    ap.add_argument("--only", choices=("tau", "tooltalk"), default=None)
    ap.add_argument(
        "--methods", nargs="+", choices=METHODS, default=None, help="a subset (none always runs)"
    )
    ap.add_argument(
        "--settings", nargs="+", choices=SETTINGS, default=None, help="plain and/or long"
    )
    ap.add_argument(
        "--context-budget",
        type=int,
        default=DEFAULT_CONTEXT_BUDGET,
        help="history budget of ours (the agents' context_budget; default: the library's)",
    )
    ap.add_argument(
        "--no-toolkits",
        action="store_true",
        help="leave the catalog tools without their toolkit (no groups for the selector)",
    )
    ap.add_argument(
        "--first-trial", action="store_true", help="tau-bench: trial 0 of each task only"
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results JSON (default: <results>/agent_bench.json; the plot goes beside it)",
    )
    results_option(ap)
    ap.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The agent-loop bench (see the module docstring)."""
    out_path: Path = args.out or args.results / "agent_bench.json"
    methods = (
        [m for m in METHODS if m == "none" or m in args.methods] if args.methods else list(METHODS)
    )
    errors = OptimizerErrors()
    package_logger = logging.getLogger("langchain_tokenopt")
    package_logger.setLevel(logging.WARNING)
    package_logger.addHandler(errors)
    package_logger.propagate = False  # counted (and listed in the JSON), not printed
    try:
        return _run(args, out_path, methods, errors)
    finally:
        package_logger.removeHandler(errors)
        package_logger.propagate = True


def _run(
    args: argparse.Namespace, out_path: Path, methods: list[str], errors: OptimizerErrors
) -> int:
    began = time.perf_counter()
    counter = TokenCounter("gpt-4o")
    pool, _, _ = load_bfcl(args.data / "tools")
    conversations = args.data / "conversations"
    catalogs = {
        "tau": with_distractors(TAU_AIRLINE_TOOLS, pool),
        "tooltalk": with_distractors(TOOLTALK_TOOLS, pool),
    }
    if not args.no_toolkits:
        catalogs = {k: with_toolkits(v, k) for k, v in catalogs.items()}
    results: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    all_failures: list[dict[str, Any]] = []
    for dataset in ("tau", "tooltalk"):
        if args.only and dataset != args.only:
            continue
        items, filler = load_threads(
            conversations, dataset, args.split, first_trial=args.first_trial
        )
        if args.quick:
            items = items[:2]
        harness = Harness(catalogs[dataset], counter, args.context_budget, errors=errors)
        results[dataset] = {}
        meta[dataset] = {
            "threads": len(items),
            "catalog_tools": len(harness.catalog),
            "catalog_tokens": harness.catalog_tokens,
        }
        for setting in args.settings or SETTINGS:
            # Fresh agents per setting: the long setting replays the plain one's trajectories,
            # and an agent that had seen them would answer from its caches (query vectors,
            # the context memo) what a real thread computes on its first sight.
            harness.forget_agents()
            start = time.perf_counter()
            rows, failures, extra = run_dataset(dataset, harness, items, filler, setting, methods)
            all_failures.extend(failures)
            summary = {m: aggregate(rows[m], extra["tokenizer_ms"], m) for m in methods}
            costs = price_rows(rows)
            for m in methods:
                summary[m]["costs"] = costs[m]
            results[dataset][setting] = summary
            meta[dataset][setting] = {
                "seconds": round(time.perf_counter() - start, 1),
                "prefix_tokens_min": min(extra["prefix_tokens"], default=0),
            }
            print_table(
                f"{dataset} · {setting} threads · {args.split} split · {len(items)} threads, "
                f"catalog {len(harness.catalog)} tools "
                f"({harness.catalog_tokens / 1000:.1f}k tokens)",
                summary,
            )
            print_costs(
                f"{dataset} · {setting} threads · cost per call under provider prompt caching "
                f"(calls {CALL_GAP_S:.0f} s apart)",
                costs,
            )
        meta[dataset]["build_s"] = {k: round(v, 2) for k, v in harness.build_s.items()}
    kinds = failure_kinds(all_failures)
    table = Table(title="most common failure kinds of ours (both datasets and settings)")
    table.add_column("kind")
    table.add_column("points", justify="right")
    for kind, n in kinds:
        table.add_row(kind, str(n))
    console.print(table)
    seconds = time.perf_counter() - began
    if errors.counts:
        console.print(f"optimizer steps that failed open (logged warnings): {dict(errors.counts)}")
    console.print(f"run time {seconds:.0f} s")
    payload = {
        "split": args.split,
        "quick": args.quick,
        "seconds": round(seconds, 1),
        "meta": meta,
        "results": results,
        "failure_kinds": kinds,
        "optimizer_errors": {m: dict(c) for m, c in errors.messages.items()},
        "package": str(Path(sys.modules["langchain_tokenopt"].__file__ or "").parent),
        "failures": all_failures,
    }
    write_json(out_path, payload, default=str)
    plot(results, out_path.with_suffix(".png"))
    console.print(f"wrote {out_path} and {out_path.with_suffix('.png')}")
    return 0
