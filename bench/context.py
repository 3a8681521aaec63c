"""Context-optimization benchmark: ContextOptimizer vs trim_messages, same run, same budgets.

Data (read from ../shared/datasets/conversations, or --data DIR):
* tau-bench airline (200 trajectories, OpenAI format): test split (sha1(task_id) % 5 == 0)
  and all 200 reported separately;
* ToolTalk (78 conversations) converted to LangChain messages (each API call becomes an
  AIMessage tool call + ToolMessage, then the assistant's text), test split and all;
* long threads: tau-bench trajectories concatenated (one system prompt) up to ~50k tokens.

Budgets: system + 10 / 25 / 50 % of the rest, plus "sys-1" (system alone over budget).
Metrics: invalid histories (orphan results / unanswered calls), starts mid-exchange, system
kept, newest human kept, fact retention (string args >= 5 chars of the ground-truth actions /
API requests that are present in the input and still present in the output), tokens saved,
over budget, typed errors, ms per call (a new optimizer per call, so no summary is reused).

Agent-loop latency on the long threads (one optimizer, the thread grows by one message per
call): p50 / p95 of the later calls, the cold first call (process memos cleared, fresh message
objects), the next turn of a thread restored from a checkpoint (every message deserialized),
wall and CPU time (``thread_time``, which leaves out waiting for a shared core), and the
cold-call floor (one tokenizer pass and one fact scan over the thread).

``python -m bench context middleware`` (a separate run, about 45 minutes on one core): LangChain's
``SummarizationMiddleware`` with the local SmolLM2 as its model, beside ContextOptimizer's
default and ContextOptimizer with SmolLM2 summaries, on the tau-bench test split and the long
threads, same metrics -> ``bench/results/context_bench_middleware.json``.

Run: ``python -m bench context run [--quick] [--data DIR] [--lm N]``; the agent-loop latency
alone: ``python -m bench context latency [--quick]``; SmolLM2 replays alone:
``python -m bench context lm --lm N``; the middleware run: ``python -m bench context middleware``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import re
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, cast

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    messages_from_dict,
    messages_to_dict,
    trim_messages,
)
from rich.console import Console
from rich.table import Table

from bench.common import DATASETS, percentile, results_option, write_json
from langchain_tokenopt.context import (
    ChatModelSummarizer,
    ContextMemo,
    ContextOptimizer,
    HierarchicalSummary,
    MaskToolOutputs,
    SlidingWindow,
    SummaryCache,
    find_problems,
)
from langchain_tokenopt.context.facts import extract_facts, message_text
from langchain_tokenopt.errors import BudgetExceededError, ContextError
from langchain_tokenopt.tokens import TokenCounter

console = Console(width=160)


def forget_pure_caches() -> None:
    """A cold start: each new optimizer has an empty memo; the pure fact scans forget too."""
    from langchain_tokenopt.context import facts

    facts._scan.cache_clear()
    facts.fact_rank.cache_clear()


def is_test(key: str) -> bool:
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % 5 == 0


# ---------------------------------------------------------------------- loading
def tau_messages(traj: list[dict[str, Any]]) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for m in traj:
        role = m["role"]
        if role == "system":
            out.append(SystemMessage(m["content"]))
        elif role == "user":
            out.append(HumanMessage(m["content"] or ""))
        elif role == "assistant":
            calls = [
                {
                    "id": t["id"],
                    "name": t["function"]["name"],
                    "args": json.loads(t["function"]["arguments"] or "{}"),
                }
                for t in (m.get("tool_calls") or [])
            ]
            out.append(AIMessage(m.get("content") or "", tool_calls=calls))
        elif role == "tool":
            out.append(
                ToolMessage(m["content"] or "", tool_call_id=m["tool_call_id"], name=m.get("name"))
            )
    return out


def strings_of(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_of(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_of(v)


def load_tau(data: Path) -> list[dict[str, Any]]:
    raw = json.loads((data / "tau_bench" / "gpt-4o-airline.json").read_text())
    items = []
    for rec in raw:
        facts = sorted(
            {
                s
                for a in rec["info"]["task"].get("actions", [])
                for s in strings_of(a.get("kwargs", {}))
                if len(s) >= 5
            }
        )
        items.append(
            {
                "id": f"tau-{rec['task_id']}-{rec['trial']}",
                "test": is_test(str(rec["task_id"])),
                "messages": tau_messages(rec["traj"]),
                "facts": facts,
            }
        )
    return items


def tooltalk_messages(conv: dict[str, Any]) -> tuple[list[BaseMessage], list[str]]:
    meta = conv.get("metadata", {})
    system = SystemMessage(
        "You are a personal assistant with account, alarm, calendar, email, message, reminder "
        f"and weather tools. User: {meta.get('username')}; location: {meta.get('location')}; "
        f"time: {meta.get('timestamp')}; session token: {meta.get('session_token')}."
    )
    out: list[BaseMessage] = [system]
    facts: set[str] = set()
    n = 0
    for turn in conv["conversation"]:
        if turn["role"] == "user":
            out.append(HumanMessage(turn["text"]))
            continue
        apis = turn.get("apis") or []
        for api in apis:
            n += 1
            call_id = f"tt_{conv['conversation_id'][:8]}_{n}"
            params = api["request"]["parameters"]
            facts.update(s for s in strings_of(params) if len(s) >= 5)
            out.append(
                AIMessage(
                    "",
                    tool_calls=[
                        {"id": call_id, "name": api["request"]["api_name"], "args": params}
                    ],
                )
            )
            result = api.get("exception") or api.get("response")
            out.append(
                ToolMessage(
                    json.dumps(result, ensure_ascii=False),
                    tool_call_id=call_id,
                    name=api["request"]["api_name"],
                    status="error" if api.get("exception") else "success",
                )
            )
        out.append(AIMessage(turn["text"]))
    return out, sorted(facts)


def load_tooltalk(data: Path) -> list[dict[str, Any]]:
    items = []
    for path in sorted((data / "tooltalk").glob("*/*.json")):
        conv = json.loads(path.read_text())
        messages, facts = tooltalk_messages(conv)
        items.append(
            {
                "id": f"tt-{path.stem}",
                "test": is_test(conv["conversation_id"]),
                "messages": messages,
                "facts": facts,
            }
        )
    return items


def long_threads(
    items: list[dict[str, Any]], counter: TokenCounter, target: int
) -> list[dict[str, Any]]:
    threads: list[dict[str, Any]] = []
    current: list[BaseMessage] = []
    facts: set[str] = set()
    tokens = 0
    for item in items:
        msgs = item["messages"]
        if not current:
            current = [msgs[0]]
            tokens = counter.count_messages(current)
        body = msgs[1:]
        current.extend(body)
        facts.update(item["facts"])
        tokens += counter.count_messages(body) - 3
        if tokens >= target:
            threads.append(
                {
                    "id": f"long-{len(threads)}",
                    "test": True,
                    "messages": current,
                    "facts": sorted(facts),
                }
            )
            current, facts, tokens = [], set(), 0
    return threads


# ---------------------------------------------------------------------- metrics
def text_of(messages: list[BaseMessage]) -> str:
    parts = []
    for m in messages:
        parts.append(m.text if not isinstance(m.content, str) else m.content)
        if isinstance(m, AIMessage):
            parts.extend(json.dumps(c["args"], ensure_ascii=False) for c in m.tool_calls)
            parts.extend(
                json.dumps(c["args"], ensure_ascii=False, separators=(",", ":"))
                for c in m.tool_calls
            )
    return "\n".join(parts)


_IDENTIFIER = re.compile(r"^(?=.*\d)[A-Za-z0-9_.@:/-]+$|@|^[a-z]+_[a-z0-9_]+$")


def is_identifier(fact: str) -> bool:
    """Ids, codes, emails, dates and amounts: what a later tool call passes on verbatim."""
    return bool(_IDENTIFIER.search(fact)) and " " not in fact


def measure(
    name: str,
    fn: Callable[[list[BaseMessage], int], list[BaseMessage]],
    items: list[dict[str, Any]],
    counter: TokenCounter,
    frac: float | None,
) -> dict[str, Any]:
    rows: dict[str, list[float]] = {
        k: [] for k in ("invalid", "mid", "sys", "human", "ret", "ids", "saved", "over", "ms")
    }
    errors = 0
    only_system = 0
    for item in items:
        msgs = item["messages"]
        system = [m for m in msgs if isinstance(m, SystemMessage)]
        sys_tokens = counter.count_messages(system)
        total = counter.count_messages(msgs)
        budget = sys_tokens - 1 if frac is None else sys_tokens + int((total - sys_tokens) * frac)
        t0 = time.perf_counter()
        try:
            out = fn(msgs, budget)
        except (BudgetExceededError, ContextError):
            errors += 1
            continue
        rows["ms"].append((time.perf_counter() - t0) * 1000)
        pairing = [p for p in find_problems(out, require_human_first=False, system_first=False)]
        rows["invalid"].append(1.0 if pairing else 0.0)
        first = next((m for m in out if not isinstance(m, SystemMessage)), None)
        rows["mid"].append(1.0 if isinstance(first, AIMessage | ToolMessage) else 0.0)
        out_system = [m.content for m in out if isinstance(m, SystemMessage)]
        rows["sys"].append(1.0 if all(s.content in out_system for s in system) else 0.0)
        last_human = next((m for m in reversed(msgs) if isinstance(m, HumanMessage)), None)
        rows["human"].append(
            1.0
            if last_human is None
            or any(isinstance(m, HumanMessage) and m.content == last_human.content for m in out)
            else 0.0
        )
        src = text_of(msgs)
        present = [f for f in item["facts"] if f in src]
        if present:
            dst = text_of(out)
            rows["ret"].append(sum(f in dst for f in present) / len(present))
            ids = [f for f in present if is_identifier(f)]
            if ids:
                rows["ids"].append(sum(f in dst for f in ids) / len(ids))
        after = counter.count_messages(out)
        rows["saved"].append(1 - after / total)
        rows["over"].append(1.0 if after > budget else 0.0)
        if out and all(isinstance(m, SystemMessage) for m in out):
            only_system += 1
    n_ok = len(rows["ms"])

    def mean(k: str) -> float | None:
        return round(statistics.fmean(rows[k]), 4) if rows[k] else None

    ms = sorted(rows["ms"])
    return {
        "method": name,
        "budget": "sys-1" if frac is None else f"sys+{int(frac * 100)}%",
        "n": len(items),
        "returned": n_ok,
        "typed_errors": errors,
        "invalid": int(sum(rows["invalid"])),
        "start_mid_exchange": int(sum(rows["mid"])),
        "system_kept": mean("sys"),
        "newest_human_kept": mean("human"),
        "fact_retention": mean("ret"),
        "identifier_retention": mean("ids"),
        "tokens_saved": mean("saved"),
        "over_budget": int(sum(rows["over"])),
        "only_system_returned": only_system,
        "ms_median": round(statistics.median(ms), 3) if ms else None,
        "ms_p95": round(percentile(ms, 95), 3) if ms else None,
    }


def methods(
    counter: TokenCounter,
) -> dict[str, Callable[[list[BaseMessage], int], list[BaseMessage]]]:
    # One memo for the run, as in an application whose optimizer lives across requests (a
    # new optimizer per budget here, since each history gets its own budget).
    memo = ContextMemo()

    def ours(msgs: list[BaseMessage], budget: int) -> list[BaseMessage]:
        return ContextOptimizer(max_tokens=budget, counter=counter, memo=memo).invoke(msgs)

    def ours_window(msgs: list[BaseMessage], budget: int) -> list[BaseMessage]:
        return ContextOptimizer(
            max_tokens=budget,
            counter=counter,
            strategies=[MaskToolOutputs(), SlidingWindow()],
            memo=memo,
        ).invoke(msgs)

    def trim_last(msgs: list[BaseMessage], budget: int) -> list[BaseMessage]:
        return trim_messages(
            msgs, max_tokens=budget, token_counter=counter, strategy="last", include_system=True
        )

    def trim_human(msgs: list[BaseMessage], budget: int) -> list[BaseMessage]:
        return trim_messages(
            msgs,
            max_tokens=budget,
            token_counter=counter,
            strategy="last",
            include_system=True,
            start_on="human",
        )

    return {
        "ContextOptimizer (mask+summary)": ours,
        "ContextOptimizer (mask+window)": ours_window,
        "trim_messages(last)": trim_last,
        'trim_messages(last, start_on="human")': trim_human,
    }


COLUMNS = {
    "method": "method",
    "budget": "budget",
    "n": "n",
    "typed_errors": "typed err",
    "invalid": "invalid",
    "start_mid_exchange": "mid-start",
    "system_kept": "sys kept",
    "newest_human_kept": "human kept",
    "fact_retention": "facts",
    "identifier_retention": "ids",
    "tokens_saved": "saved",
    "over_budget": "over",
    "only_system_returned": "sys only",
    "ms_median": "ms p50",
    "ms_p95": "ms p95",
}


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    table = Table(title=title, show_lines=False)
    for label in COLUMNS.values():
        table.add_column(label, overflow="fold")
    for r in rows:
        table.add_row(*["-" if r[c] is None else str(r[c]) for c in COLUMNS])
    console.print(table)


_LABELS = {
    "ms_p50": "p50 ms",
    "ms_p95": "p95 ms",
    "cpu_ms_p50": "p50 cpu",
    "cpu_ms_p95": "p95 cpu",
    "first_call_ms_median": "first ms (med)",
    "first_call_ms_max": "first ms (max)",
    "first_call_cpu_ms_median": "first cpu (med)",
    "first_call_cpu_ms_max": "first cpu (max)",
    "resumed_call_ms_max": "resumed ms (max)",
    "resumed_call_cpu_ms_max": "resumed cpu (max)",
}


def print_headline(report: dict[str, Any]) -> None:
    """One table: each set and budget, ours next to the trim_messages baselines."""
    table = Table(title="headline: fact retention (invalid histories) per set and budget")
    names = [
        "ContextOptimizer (mask+summary)",
        "ContextOptimizer (mask+window)",
        "trim_messages(last)",
        'trim_messages(last, start_on="human")',
    ]
    table.add_column("set")
    table.add_column("budget")
    for name in names:
        table.add_column(name, overflow="fold")
    for set_name, data in report["sets"].items():
        for budget in ("sys+10%", "sys+25%", "sys+50%"):
            cells = []
            for name in names:
                row = next(r for r in data["rows"] if r["method"] == name and r["budget"] == budget)
                cells.append(f"{row['fact_retention']} ({row['invalid']})")
            table.add_row(set_name, budget, *cells)
    console.print(table)


def replay_latency(
    thread: list[BaseMessage], counter: TokenCounter, frac: float, calls: int
) -> dict[str, Any]:
    """Agent-loop latency: the same optimizer called as the thread grows message by message.

    The first call is cold: every process-wide memo is cleared and the messages are fresh
    objects, as after a restart that loads a long thread from a checkpoint. The "resumed"
    call is the next turn of a thread restored from a checkpoint in a running process (all
    messages deserialized, same optimizer). Wall time and CPU time (``time.thread_time``,
    which excludes waiting for a busy core) are both given.
    """
    sys_tokens = counter.count_messages(thread[:1])
    total = counter.count_messages(thread)
    budget = sys_tokens + int((total - sys_tokens) * frac)
    forget_pure_caches()
    thread = [m.model_copy() for m in thread]
    optimizer = ContextOptimizer(max_tokens=budget, counter=counter)
    # The harness's own garbage (the memos just cleared, the previous replay's objects) is
    # collected before the clock starts, so no collection of it lands in the first call.
    gc.collect()
    wall: list[float] = []
    cpu: list[float] = []
    start = max(2, len(thread) - calls)
    for end in range(start, len(thread) + 1):
        prefix = thread[:end]
        if end < len(thread) and isinstance(thread[end], ToolMessage):
            continue  # mid tool exchange: an agent never sends this to a model
        t0, c0 = time.perf_counter(), time.thread_time()
        optimizer.optimize(prefix)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    # The next turn of a thread restored from a checkpoint: every message deserialized (new
    # objects, new strings), the same optimizer, one more message.
    restored = messages_from_dict(json.loads(json.dumps(messages_to_dict(thread))))
    restored.append(HumanMessage("Thanks. Anything else I should know?"))
    t0, c0 = time.perf_counter(), time.thread_time()
    optimizer.optimize(restored)
    resume_ms = (time.perf_counter() - t0) * 1000
    resume_cpu = (time.thread_time() - c0) * 1000
    rest, rest_cpu = (wall[1:], cpu[1:]) if len(wall) > 1 else (wall, cpu)
    return {
        "budget": f"sys+{int(frac * 100)}%",
        "thread_tokens": total,
        "calls": len(wall),
        "first_call_ms": round(wall[0], 2),
        "first_call_cpu_ms": round(cpu[0], 2),
        "resumed_call_ms": round(resume_ms, 2),
        "resumed_call_cpu_ms": round(resume_cpu, 2),
        "ms_p50": round(statistics.median(rest), 2),
        "ms_p95": round(percentile(rest, 95), 2),
        "ms_max": round(max(rest), 2),
        "cpu_ms_p50": round(statistics.median(rest_cpu), 2),
        "cpu_ms_p95": round(percentile(rest_cpu, 95), 2),
        "wall": wall[1:],
        "cpu": cpu[1:],
    }


def cold_floor(thread: list[BaseMessage], counter: TokenCounter) -> dict[str, Any]:
    """What any cold call must do at least: tokenize the thread and scan it for facts once."""
    forget_pure_caches()
    texts = [message_text(m) for m in thread]
    c0 = time.thread_time()
    counter.count_each(thread)
    tokenize = (time.thread_time() - c0) * 1000
    c0 = time.thread_time()
    for text in texts:
        extract_facts(text)
    scan = (time.thread_time() - c0) * 1000
    forget_pure_caches()
    return {
        "chars": sum(map(len, texts)),
        "tokenize_cpu_ms": round(tokenize, 2),
        "fact_scan_cpu_ms": round(scan, 2),
    }


def latency_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pool the later calls of every thread per budget; first calls reported apart."""
    out = []
    for budget in dict.fromkeys(r["budget"] for r in rows):
        group = [r for r in rows if r["budget"] == budget]
        wall = [x for r in group for x in r["wall"]]
        cpu = [x for r in group for x in r["cpu"]]
        first = [r["first_call_ms"] for r in group]
        first_cpu = [r["first_call_cpu_ms"] for r in group]
        out.append(
            {
                "budget": budget,
                "threads": len(group),
                "calls": len(wall),
                "ms_p50": round(statistics.median(wall), 2),
                "ms_p95": round(percentile(wall, 95), 2),
                "cpu_ms_p50": round(statistics.median(cpu), 2),
                "cpu_ms_p95": round(percentile(cpu, 95), 2),
                "first_call_ms_median": round(statistics.median(first), 2),
                "first_call_ms_max": round(max(first), 2),
                "first_call_cpu_ms_median": round(statistics.median(first_cpu), 2),
                "first_call_cpu_ms_max": round(max(first_cpu), 2),
                "resumed_call_ms_max": round(max(r["resumed_call_ms"] for r in group), 2),
                "resumed_call_cpu_ms_max": round(max(r["resumed_call_cpu_ms"] for r in group), 2),
            }
        )
    return out


def lm_replay(items: list[dict[str, Any]], counter: TokenCounter, n: int) -> dict[str, Any]:
    """Replay conversations turn by turn with SmolLM2 summaries; count model calls per turn.

    The summaries go to a ``SummaryCache`` backed by a SQLite file. After each conversation a
    restart is simulated (process memos cleared, a new summarizer and a new cache on the same
    file) and the last turn is optimized again: the model calls it needs and its time show
    what the file saves (without it, every summary of the thread is written again).
    """
    import tempfile

    from langchain_tokenopt.llms import LocalChatModel

    def make_step(path: Path) -> tuple[ChatModelSummarizer, SummaryCache, HierarchicalSummary]:
        summarizer = ChatModelSummarizer(LocalChatModel(num_threads=2), max_input_tokens=384)
        cache = SummaryCache(path=path)
        step = HierarchicalSummary(
            summarizer=summarizer, cache=cache, segment_units=4, segment_tokens=48
        )
        return summarizer, cache, step

    folder = tempfile.TemporaryDirectory()
    path = Path(folder.name) / "summaries.sqlite"
    summarizer, cache, step = make_step(path)
    results = []
    for item in items[:n]:
        msgs = item["messages"]
        sys_tokens = counter.count_messages(msgs[:1])
        per_turn = []
        t0 = time.perf_counter()
        last: tuple[list[BaseMessage], int, list[BaseMessage]] | None = None
        memo = ContextMemo()  # one thread, one application process
        for i, m in enumerate(msgs):
            if not isinstance(m, HumanMessage) or i < 6:
                continue
            prefix = msgs[: i + 1]
            total = counter.count_messages(prefix)
            budget = sys_tokens + int((total - sys_tokens) * 0.25)
            before = summarizer.calls
            t1 = time.perf_counter()
            out = ContextOptimizer(
                max_tokens=budget, counter=counter, strategies=[MaskToolOutputs(), step], memo=memo
            ).invoke(prefix)
            last = (prefix, budget, out)
            per_turn.append(
                {
                    "messages": len(prefix),
                    "lm_calls": summarizer.calls - before,
                    "seconds": round(time.perf_counter() - t1, 2),
                    "valid": not find_problems(out),
                    "within_budget": counter.count_messages(out) <= budget,
                }
            )
        restart: dict[str, Any] = {}
        if last is not None:
            prefix, budget, out = last
            forget_pure_caches()
            fresh, fresh_cache, fresh_step = make_step(path)
            t1 = time.perf_counter()
            again = ContextOptimizer(
                max_tokens=budget, counter=counter, strategies=[MaskToolOutputs(), fresh_step]
            ).invoke([m.model_copy() for m in prefix])
            restart = {
                "lm_calls": fresh.calls,
                "ms": round((time.perf_counter() - t1) * 1000, 1),
                "summaries_from_file": fresh_cache.hits,
                "same_output": again == out,
            }
            fresh_cache.close()
        results.append(
            {
                "id": item["id"],
                "turns": len(per_turn),
                "lm_calls": sum(t["lm_calls"] for t in per_turn),
                "seconds": round(time.perf_counter() - t0, 1),
                "per_turn": per_turn,
                "restart_last_turn": restart,
            }
        )
    cache.close()
    folder.cleanup()
    return {"replays": results, "cache_hits": cache.hits, "cache_misses": cache.misses}


def middleware_methods(
    counter: TokenCounter,
) -> dict[str, Callable[[list[BaseMessage], int], list[BaseMessage]]]:
    """LangChain's own summarization beside ours, every summary written by the local SmolLM2.

    ``SummarizationMiddleware`` (langchain 1.x) works on the agent state's messages, which in
    ``create_agent`` do not hold the system prompt: it gets the non-system messages and the
    budget left after the system prompt (``trigger``), keeps the newest messages within that
    room minus the summary's share (``keep``), and summarizes the older ones (its own prompt;
    at most the newest 4,000 tokens of them, its default) into one human message. The summary's
    share is a quarter of the room, 32 to 256 tokens, and is also the model's
    ``max_new_tokens``; the model reads up to 8,192 tokens. Every count uses the same
    tokenizer as ours. "ContextOptimizer (SmolLM2 summaries)" uses the model summarizer of
    ``--lm``.
    """
    from langchain.agents.middleware import AgentState, SummarizationMiddleware
    from langchain_core.messages import AnyMessage, MessageLikeRepresentation, convert_to_messages
    from langgraph.runtime import Runtime

    from langchain_tokenopt.llms import LocalChatModel

    def count(messages: Iterable[MessageLikeRepresentation]) -> int:
        return counter(convert_to_messages(messages))

    def middleware(msgs: list[BaseMessage], budget: int) -> list[BaseMessage]:
        system = [m for m in msgs if isinstance(m, SystemMessage)]
        rest = [m.model_copy() for m in msgs if not isinstance(m, SystemMessage)]
        room = budget - counter.count_messages(system)
        share = min(256, max(32, room // 4))
        step = SummarizationMiddleware(
            model=LocalChatModel(num_threads=1, max_input_tokens=8192, max_new_tokens=share),
            trigger=("tokens", room),
            keep=("tokens", max(1, room - share - 24)),
            token_counter=count,
        )
        state: AgentState[Any] = {"messages": cast("list[AnyMessage]", rest)}
        update = step.before_model(state, Runtime())
        if update is None:
            return [*system, *rest]
        return [*system, *update["messages"][1:]]  # [0] is RemoveMessage(REMOVE_ALL_MESSAGES)

    summarizer = ChatModelSummarizer(LocalChatModel(num_threads=1), max_input_tokens=384)
    memo = ContextMemo()  # one application process for the run

    def ours_lm(msgs: list[BaseMessage], budget: int) -> list[BaseMessage]:
        # A new summary cache per call: every row pays for its own summaries (across the turns
        # of one thread the cache would be reused; see --lm).
        step = HierarchicalSummary(
            summarizer=summarizer, cache=SummaryCache(), segment_units=4, segment_tokens=48
        )
        return ContextOptimizer(
            max_tokens=budget, counter=counter, strategies=[MaskToolOutputs(), step], memo=memo
        ).invoke(msgs)

    def ours(msgs: list[BaseMessage], budget: int) -> list[BaseMessage]:
        return ContextOptimizer(max_tokens=budget, counter=counter, memo=memo).invoke(msgs)

    return {
        "ContextOptimizer (default, no LM)": ours,
        "ContextOptimizer (SmolLM2 summaries)": ours_lm,
        "SummarizationMiddleware (SmolLM2)": middleware,
    }


def middleware_run(
    sets: dict[str, list[dict[str, Any]]],
    counter: TokenCounter,
    report: dict[str, Any],
    *,
    quick: bool,
    results: Path,
) -> None:
    """``python -m bench context middleware``: tau-bench test split and long threads, 3 budgets."""
    fns = middleware_methods(counter)
    chosen = [name for name in sets if "test split" in name and "tau" in name]
    chosen += [name for name in sets if name.startswith("long threads")]
    for set_name in chosen:
        items = sets[set_name][:2] if quick else sets[set_name]
        rows = []
        for frac in (0.10, 0.25, 0.50):
            for name, fn in fns.items():
                if name.startswith("ContextOptimizer (SmolLM2") and set_name.startswith("long"):
                    continue  # hundreds of segment summaries per 50k-token thread
                rows.append(measure(name, fn, items, counter, frac))
                console.print(rows[-1])
        print_table(f"{set_name}: {len(items)} histories, SmolLM2 summaries", rows)
        report["sets"][set_name] = {"n": len(items), "rows": rows}
    name = "context_bench_middleware" + ("_quick" if quick else "")
    out = write_json(results / f"{name}.json", report)
    console.print(f"wrote {out}")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DATASETS / "conversations")
    parser.add_argument(
        "--quick", action="store_true", help="small run (first 40 tau, 20 ToolTalk)"
    )
    parser.add_argument("--long-tokens", type=int, default=50_000)
    results_option(parser)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``context`` and its subcommands to the dispatcher's subparsers."""
    context = sub.add_parser("context", help="history optimization vs trim_messages, latency")
    cmds = context.add_subparsers(dest="subcommand", required=True, metavar="<subcommand>")
    p = cmds.add_parser("run", help="tables on every set and budget, then agent-loop latency")
    _common(p)
    p.add_argument("--lm", type=int, default=0, help="also replay N test conversations (SmolLM2)")
    p.set_defaults(func=run, skip_main=False, middleware=False)
    p = cmds.add_parser("latency", help="only the agent-loop latency on the long threads")
    _common(p)
    p.set_defaults(func=run, skip_main=True, middleware=False, lm=0)
    p = cmds.add_parser("lm", help="only replay N test conversations with SmolLM2 summaries")
    _common(p)
    p.add_argument("--lm", type=int, required=True, help="conversations to replay")
    p.set_defaults(func=run, skip_main=True, middleware=False)
    p = cmds.add_parser("middleware", help="LangChain's SummarizationMiddleware beside ours")
    _common(p)
    p.set_defaults(func=run, skip_main=False, middleware=True, lm=0)


def run(args: argparse.Namespace) -> None:
    """The context bench; ``args.skip_main`` / ``args.middleware`` pick the part."""
    counter = TokenCounter("gpt-4o")
    tau = load_tau(args.data)
    tooltalk = load_tooltalk(args.data)
    if args.quick:
        tau, tooltalk = tau[:40], tooltalk[:20]
    longs = long_threads(sorted(tau, key=lambda x: x["id"]), counter, args.long_tokens)
    if args.quick:
        longs = longs[:1]
    # The harness holds every data set in memory (hundreds of thousands of objects); move
    # them out of the collector's reach so a full collection of *its* heap does not land
    # inside a timed call. Objects the optimizer creates are still collected as usual.
    gc.collect()
    gc.freeze()
    sets = {
        "tau-bench airline, test split": [x for x in tau if x["test"]],
        "tau-bench airline, all": tau,
        "ToolTalk, test split": [x for x in tooltalk if x["test"]],
        "ToolTalk, all": tooltalk,
        f"long threads (~{args.long_tokens // 1000}k tokens)": longs,
    }
    fns = methods(counter)
    report: dict[str, Any] = {"counter": repr(counter), "sets": {}}
    if args.middleware:
        middleware_run(sets, counter, report, quick=args.quick, results=args.results)
        return
    for set_name, items in sets.items():
        if args.skip_main:
            break
        rows = []
        for frac in (0.10, 0.25, 0.50, None):
            for name, fn in fns.items():
                rows.append(measure(name, fn, items, counter, frac))
        sizes = [counter.count_messages(x["messages"]) for x in items]
        median = statistics.median(sizes) if sizes else 0
        title = f"{set_name}: {len(items)} histories, median {median:.0f} tokens"
        print_table(title, rows)
        report["sets"][set_name] = {
            "n": len(items),
            "median_tokens": statistics.median(sizes) if sizes else 0,
            "rows": rows,
        }
    latency = (
        []
        if (args.skip_main and args.lm)
        else [
            replay_latency(t["messages"], counter, frac, 60 if not args.quick else 10)
            for t in longs
            for frac in (0.10, 0.25, 0.50)
        ]
    )
    pooled = latency_summary(latency) if latency else []
    floors = [cold_floor(t["messages"], counter) for t in longs] if latency else []
    if floors:
        floor = {k: round(statistics.median(f[k] for f in floors), 2) for k in floors[0]}
        console.print(
            f"cold-call floor on the long threads (median): {floor['chars']:.0f} characters; "
            f"tokenizing every message once {floor['tokenize_cpu_ms']} ms CPU, scanning "
            f"every message for facts once {floor['fact_scan_cpu_ms']} ms CPU"
        )
        report["long_thread_cold_floor"] = floor
    table = Table(
        title="agent-loop latency on long threads: the same optimizer, the thread grows by one "
        "message per call; first call cold (memos cleared, fresh messages); resumed = next turn "
        "of a thread deserialized from a checkpoint; cpu = thread CPU time"
    )
    keys = [k for k in (pooled[0] if pooled else {})]
    for col in keys:
        table.add_column(_LABELS.get(col, col))
    for row in pooled:
        table.add_row(*[str(row[k]) for k in keys])
    console.print(table)
    report["long_thread_latency_summary"] = pooled
    report["long_thread_latency"] = [
        {k: v for k, v in r.items() if k not in ("wall", "cpu")} for r in latency
    ]
    if not args.skip_main:
        print_headline(report)
    if args.lm:
        replay = lm_replay([x for x in tau if x["test"]], counter, args.lm)
        console.print(replay)
        report["lm_replay"] = replay
    name = "context_bench_quick" if args.quick else "context_bench"
    if args.skip_main:
        name += "_lm" if args.lm else "_latency"
    out = write_json(args.results / f"{name}.json", report)
    console.print(f"wrote {out}")
