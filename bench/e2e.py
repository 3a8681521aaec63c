"""End-to-end benchmark of the headline claims, through the optimized LangGraph agent.

Runs the project's demo workload (examples/workload: ~10k-token modular system prompt, 131
tools, ~46k-token history, 64 questions over two tenants) through ``build_optimized_agent``
with the local SmolLM2, and reports:

* prompt tokens per request before/after, on the cache-miss path and averaged over the workload
  (a turn's model calls summed, and per first model call);
* next-call sufficiency beside them (the measure of ``python -m bench agent``): on each miss whose
  question needs tools, whether those tools were bound on the first model call the graph made
  and the argument values the question or its conversation states were still in the request
  (the agent calls the expected tools when bound, find_tools otherwise; see
  examples/tokenopt_demo/tool_loop.py);
* cache hit rate against the workload's achievable rate (repeats / paraphrases in the same
  tenant whose tools are all declared cacheable), with false hits (hits on questions that must
  miss) and missed hits counted;
* stored answers of turns that called a tool not declared cacheable, from the cache's own
  update counter and entry count per turn (must be 0);
* end-to-end latency through the graph for cache hits and misses (p50 / p95);
* quality proxies carried over from the component benches' JSON in bench/results
  (answer-string retention, tool recall, fact retention), when those files exist;
* the run's cost four ways at Claude Sonnet, GPT-4o and GPT-4.1 prices (price_calls):
  unoptimized without and with provider prompt caching, ours, and ours in prefix-stable mode
  (a second run of the workload, skipped with --no-prefix-stable), with the prefix reuse and
  the next-call sufficiency of each mode.

Also measured, without the LM:

* the paraphrase trade-off: each workload paraphrase's cosine to its original with the cache's
  int8 ONNX query embedder and the near-miss verifier's verdict, the paraphrase hits that each
  cosine threshold would allow, and the QQP false-hit rate that threshold implies (dev curve
  from bench/results/cache_calibration_onnx.json, test curve from cache_bench.json);
* fact retention of the history step: the ids of the 46k-token support thread that survive
  the demo's context budget;
* tool recall on the workload: the expected tools bound on each miss.

Usage (from the repository root):
    python -m bench e2e                       # all 64 questions
    python -m bench e2e --quick               # first 20 questions
    python -m bench e2e --limit 8             # first 8 questions
    python -m bench e2e --no-prefix-stable    # one run, no prefix-stable cost row
    python -m bench e2e tool-margin           # BFCL dev split: recall vs tool_margin
Writes bench/results/e2e.json (or e2e_quick.json with --quick / --limit; e2e_tool_margin.json
for the sweep); ``--results DIR`` writes the same names elsewhere. The component benches'
results it quotes (quality proxies, QQP curves) are read from bench/results.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from rich.console import Console
from rich.table import Table

from bench.common import DATASETS, REPO, RESULTS, percentile, results_option, stopwatch, write_json

__all__ = ["register", "run", "run_tool_margin"]
GOALS = {
    "tokens_per_request": "50k -> 500 tokens (99 %) on average",
    "hit_rate": "> 60 % where the traffic allows it",
    "hit_latency": "< 100 ms per cache hit",
    "quality": "> 95 % of quality kept",
}


#: Models the run is priced at, with their provider's prompt-caching rules (as bench.agent).
PRICED = (("claude-sonnet-4-5", "anthropic"), ("gpt-4o", "openai"), ("gpt-4.1", "openai"))
#: Seconds between two model calls in the cost replay (inside every provider's lifetime).
CALL_GAP_S = 30.0


#: ``_llm_type`` of the demo's agent model and of the graph's cached-answer replay: the calls
#: a provider would receive (the SmolLM2 call nested in the agent model's is the same request).
AGENT_MODEL_TYPE = "workload-tool-agent"
REPLAY_MODEL_TYPE = "tokenopt-cached-answer"


class RequestCapture(BaseCallbackHandler):
    """Every chat-model call of a run, as sent, and the unoptimized request in its place.

    Installed for the whole run through ``langchain_core``'s configure hook (the demo's
    runner builds its own callbacks). For each call it keeps the messages the graph sent and
    the tools bound (read from the demo model's call log), and rebuilds the request an
    unoptimized agent would have sent at that point: the whole system prompt, all the tools,
    and the thread's whole conversation (the seeded history, every earlier turn with its tool
    calls and answers, then this turn's messages). A response-cache hit is a request of the
    unoptimized agent and none of ours.
    """

    run_inline = True

    def __init__(self, workload: Any, *, prefix_stable: bool | None = None) -> None:
        super().__init__()
        self.workload = workload
        self.prefix_stable = prefix_stable
        self.log: Any = None
        self.tools_by_name: dict[str, Any] = {}
        self.all_tools: list[Any] = []
        self.calls: list[dict[str, Any]] = []
        self._starts: dict[Any, tuple[str, list[Any]]] = {}
        self._threads: dict[str, dict[str, Any]] = {}

    def attach(self, model: Any, tools: Any) -> None:
        """Read the call log of the demo's model and the catalog (from the agent's builder)."""
        self.log = getattr(model, "log", None)
        self.all_tools = list(tools)
        self.tools_by_name = {t.name: t for t in self.all_tools}

    def build_agent(self, model: Any, tools: Any = (), **kwargs: Any) -> Any:
        """The demo's graph factory (``build_demo_agent(build_agent=...)``): attach, then build.

        ``prefix_stable`` (when not ``None``) overrides the agent's mode: ``build_demo_agent``
        has no such option of its own.
        """
        from langchain_tokenopt.graph import build_optimized_agent

        self.attach(model, tools)
        if self.prefix_stable is not None:
            kwargs["prefix_stable"] = self.prefix_stable
        return build_optimized_agent(model, tools, **kwargs)

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: Any, metadata: Any = None, **_: Any
    ) -> None:
        """Keep what the call received, by run."""
        params = _.get("invocation_params") or {}
        if params.get("_type") not in (AGENT_MODEL_TYPE, REPLAY_MODEL_TYPE):
            return  # SmolLM2 writing the agent's answer inside the agent model's call
        thread = str((metadata or {}).get("thread_id") or "")
        self._starts[run_id] = (thread, list(messages[0]))

    def on_llm_end(self, response: Any, *, run_id: Any, **_: Any) -> None:
        """Pair the request with its unoptimized twin once the reply is known."""
        from langchain_core.messages import SystemMessage

        from langchain_tokenopt.monitoring.handler import REPLAY_MARKER

        start = self._starts.pop(run_id, None)
        if start is None:
            return
        thread, sent = start
        out = response.generations[0][0].message
        replay = bool((out.response_metadata or {}).get(REPLAY_MARKER))
        tools = () if replay or not self.log or not self.log.calls else self.log.calls[-1].tools
        conv = [m for m in sent if m.type != "system"]
        h = max((i for i, m in enumerate(conv) if m.type == "human"), default=0)
        turn = conv[h:]
        key = (conv[h].id or conv[h].text) if conv else None
        seed = thread.endswith("/" + str(self.workload.history_conversation_id))
        st = self._threads.setdefault(
            thread,
            {"done": list(self.workload.history) if seed else [], "key": None, "turn": []},
        )
        if st["key"] is not None and key != st["key"]:
            st["done"] += st["turn"] + [st["out"]]
        st.update(key=key, turn=turn, out=out)
        full = [SystemMessage(self.workload.system_prompt), *st["done"], *turn]
        self.calls.append(
            {"thread": thread, "replay": replay, "sent": sent, "tools": tuple(tools), "full": full}
        )


def _marked(shape: Any, n_tools: int, has_system: bool) -> Any:
    """Breakpoints where a caching user puts them: last tool, system prompt, newest message."""
    from dataclasses import replace

    marks = {len(shape.parts) - 2} if len(shape.parts) >= 2 else set()
    if n_tools:
        marks.add(n_tools - 1)
    if has_system:
        marks.add(n_tools)
    return replace(shape, breakpoints=tuple(sorted(marks)))


def price_calls(capture: RequestCapture) -> dict[str, Any]:
    """Price a run's calls and their unoptimized twins under each provider's caching rules.

    The calls of the whole run are replayed in workload order, ``CALL_GAP_S`` apart, through
    one provider cache (one organisation's traffic: the unoptimized agent's tools and system
    prompt are shared by every thread). Input tokens only: outputs are the same for every
    method, except a response-cache hit, which costs ours nothing.
    """
    from dataclasses import replace

    from langchain_tokenopt.monitoring import RequestShape, price_thread
    from langchain_tokenopt.tokens import TokenCounter

    counter = TokenCounter("gpt-4o")
    ours, full = [], []
    for i, call in enumerate(capture.calls):
        at = i * CALL_GAP_S
        tools = capture.all_tools
        shape = RequestShape.from_messages(call["full"], tools=tools, counter=counter)
        full.append(replace(_marked(shape, len(tools), True), at=at))
        if call["replay"]:
            continue
        bound = [capture.tools_by_name[n] for n in call["tools"] if n in capture.tools_by_name]
        shape = RequestShape.from_messages(call["sent"], tools=bound, counter=counter)
        system = any(m.type == "system" for m in call["sent"])
        ours.append(replace(_marked(shape, len(bound), system), at=at))
    out: dict[str, Any] = {
        "calls": len(full),
        "model_calls_ours": len(ours),
        "input_tokens_unoptimized": sum(s.input_tokens for s in full),
        "input_tokens_ours": sum(s.input_tokens for s in ours),
    }
    for model, provider in PRICED:
        base = price_thread(full, model=model, provider=provider)
        mine = price_thread(ours, model=model, provider=provider)
        out[model] = {
            "unoptimized_no_caching_usd": base.usd_without_caching,
            "unoptimized_caching_usd": base.usd,
            "unoptimized_prefix_reuse": round(base.prefix_reuse, 4),
            "ours_usd": mine.usd,
            "ours_no_caching_usd": mine.usd_without_caching,
            "ours_prefix_reuse": round(mine.prefix_reuse, 4),
            "ours_cache_read_tokens": mine.cache_read_tokens,
            "ours_cache_write_tokens": mine.cache_write_tokens,
        }
    return out


@contextmanager
def capturing(workload: Any, *, prefix_stable: bool | None) -> Iterator[RequestCapture]:
    """Capture every model call of a demo run; ``prefix_stable`` overrides the agent's mode.

    Pass ``build_agent=capture.build_agent`` to the demo's runner (``None`` keeps the agent's
    default mode); the capture is installed as a callback for the whole block.
    """
    from contextvars import ContextVar

    from langchain_core.tracers.context import register_configure_hook

    capture = RequestCapture(workload, prefix_stable=prefix_stable)
    var: ContextVar[RequestCapture | None] = ContextVar("e2e_request_capture", default=None)
    register_configure_hook(var, inheritable=True)
    token = var.set(capture)
    try:
        yield capture
    finally:
        var.reset(token)


def cost_four_ways(
    default: dict[str, Any], stable: dict[str, Any] | None, sufficiency: dict[str, Any]
) -> dict[str, Any]:
    """The four figures per priced model, each as a ratio to the cached unoptimized baseline."""
    out: dict[str, Any] = {
        "method": (
            "calls of the run replayed in order, 30 s apart, through one provider cache"
            " (bench/e2e.py price_calls); input tokens only; breakpoints on the last"
            " tool, the system prompt and the newest message for every method (Anthropic)"
        ),
        "calls": {"default": default, "prefix_stable": stable},
        "sufficiency": sufficiency,
        "models": {},
    }
    for model, _ in PRICED:
        d = default[model]
        cached = d["unoptimized_caching_usd"]
        rows = {
            "unoptimized_no_caching": (d["unoptimized_no_caching_usd"], 0.0),
            "unoptimized_caching": (cached, d["unoptimized_prefix_reuse"]),
            "ours": (d["ours_usd"], d["ours_prefix_reuse"]),
        }
        if stable is not None:
            s = stable[model]
            rows["ours_prefix_stable"] = (s["ours_usd"], s["ours_prefix_reuse"])
            rows["unoptimized_caching_prefix_stable_run"] = (
                s["unoptimized_caching_usd"],
                s["unoptimized_prefix_reuse"],
            )
        out["models"][model] = {
            name: {
                "usd": round(usd, 6),
                "x_cached_baseline": round(usd / cached, 4) if cached else None,
                "prefix_reuse": reuse,
            }
            for name, (usd, reuse) in rows.items()
        }
    return out


def print_cost_table(console: Console, cost: dict[str, Any]) -> None:
    """USD of the run four ways, × the unoptimized-with-caching baseline, prefix reuse."""
    table = Table(
        title="Cost of the run, four ways (USD of input tokens; × unoptimized with caching; "
        "reuse: share of the input read from the provider's cache)"
    )
    table.add_column("method")
    for model, _ in PRICED:
        table.add_column(f"{model} USD (×)", justify="right")
        table.add_column("reuse", justify="right")
    table.add_column("sufficiency", justify="right")
    labels = {
        "unoptimized_no_caching": "unoptimized, no caching",
        "unoptimized_caching": "unoptimized, provider caching",
        "ours": "ours (default mode)",
        "ours_prefix_stable": "ours, prefix-stable",
    }
    suff = cost["sufficiency"]
    for key, label in labels.items():
        if key not in cost["models"][PRICED[0][0]]:
            continue
        cells = [label]
        for model, _ in PRICED:
            row = cost["models"][model][key]
            cells += [
                f"{row['usd']:.4f} ({row['x_cached_baseline']:.3f}×)",
                f"{row['prefix_reuse']:.0%}",
            ]
        mode = {"ours": "default", "ours_prefix_stable": "prefix_stable"}.get(key)
        s = suff.get(mode) if mode else None
        cells.append(
            "–"
            if s is None
            else f"{s['sufficient']:.1%} ({s['sufficient_with_find']:.1%} with find_tools)"
            f" of {s['questions']}"
        )
        table.add_row(*cells)
    console.print(table)


def _read(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def quality_proxies() -> dict[str, Any]:
    """Point at the component benches' results (test split) that carry the quality figures.

    Each component bench writes its own JSON with its own tables; the e2e report lists which
    ones exist and their top-level sections so a reader can follow the figures quoted in the
    notes (answer retention: compression.json; tool recall: tools_bench.json; fact retention:
    context_bench.json; cache false hits: cache_bench.json).
    """
    out: dict[str, Any] = {}
    for name in ("compression.json", "tools_bench.json", "context_bench.json", "cache_bench.json"):
        data = _read(name)
        if data is not None:
            out[name] = sorted(data)
    return out


#: System budgets compared by :func:`system_prompt_quality`.
SYSTEM_BUDGETS = (250, 300, 350, 400, 500)
THRESHOLDS = (0.93, 0.9, 0.85, 0.8, 0.75, 0.7)


def _curve_at(name: str, key: str, threshold: float) -> float | None:
    data = _read(name)
    rows = (data or {}).get(key) or []
    for row in rows:
        if abs(float(row["threshold"]) - threshold) < 1e-9:
            return round(float(row["fhr_verified"]), 4)
    return None


_CONTRACTIONS = {
    "what's": "what is",
    "who's": "who is",
    "where's": "where is",
    "it's": "it is",
    "that's": "that is",
    "i'm": "i am",
    "i've": "i have",
    "i'd": "i would",
    "i'll": "i will",
    "you're": "you are",
    "can't": "cannot",
    "won't": "will not",
    "don't": "do not",
    "doesn't": "does not",
    "didn't": "did not",
    "isn't": "is not",
    "aren't": "are not",
}


def canonical(text: str) -> str:
    """Case, punctuation, whitespace and common contractions folded (a normalised-exact key)."""
    import re

    low = text.lower().replace("\u2019", "'")
    for short, long in _CONTRACTIONS.items():
        low = re.sub(rf"\b{re.escape(short)}", long, low)
    return " ".join(re.findall(r"[a-z0-9]+", low))


def paraphrase_tradeoff(workload: Any) -> dict[str, Any]:
    """Cosines of the workload's paraphrases and what each threshold would serve and risk."""
    import numpy as np

    from langchain_tokenopt.cache.verifier import NearMissVerifier
    from langchain_tokenopt.embeddings import get_default_query_embeddings

    embedder = get_default_query_embeddings()
    verifier = NearMissVerifier()
    questions = list(workload.questions)
    vectors = np.asarray([embedder.embed_query(q.text) for q in questions], dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = {q.id: i for i, q in enumerate(questions)}
    pairs = []
    for q in questions:
        if q.kind != "paraphrase" or not q.repeats:
            continue
        original = questions[index[q.repeats]]
        cos = float(vectors[index[q.id]] @ vectors[index[original.id]])
        verdict = verifier.verify(q.text, original.text, cos)
        pairs.append(
            {
                "id": q.id,
                "original": original.id,
                "expect_hit": q.expect_cache_hit,
                "cosine": round(cos, 3),
                "verifier": "accept" if verdict.accepted else verdict.reason,
            }
        )
    # Closest earlier question of the same tenant for every question that must miss (ignores
    # the conversation scope, so it is an upper bound on semantic false hits).
    risky = []
    for n, q in enumerate(questions):
        if q.expect_cache_hit:
            continue
        best = (-1.0, "")
        for earlier in questions[:n]:
            if earlier.tenant_id != q.tenant_id or earlier.text == q.text:
                continue
            cos = float(vectors[n] @ vectors[index[earlier.id]])
            if cos > best[0] and verifier.verify(q.text, earlier.text, cos).accepted:
                best = (cos, earlier.id)
        risky.append((q.id, best))
    rows = []
    for t in THRESHOLDS:
        rows.append(
            {
                "threshold": t,
                "paraphrase_hits": sum(
                    p["expect_hit"] and p["cosine"] >= t and p["verifier"] == "accept"
                    for p in pairs
                ),
                "paraphrases_expected": sum(p["expect_hit"] for p in pairs),
                "must_miss_within_reach": sorted(i for i, (c, _) in risky if c >= t),
                "qqp_dev_fhr_verified": _curve_at("cache_calibration_onnx.json", "dev_curve", t),
                "qqp_test_fhr_verified": _curve_at("cache_bench.json", "test_curve", t),
            }
        )
    # What a normalised-exact layer (canonical() equal, same tenant) would serve, and whether it
    # would serve any question that must miss.
    by_id = {q.id: q for q in questions}
    normalised = [
        p["id"]
        for p in pairs
        if p["expect_hit"]
        and canonical(by_id[p["id"]].text) == canonical(by_id[p["original"]].text)
    ]
    wrong = [
        q.id
        for n, q in enumerate(questions)
        if not q.expect_cache_hit
        and q.kind != "exact_repeat"
        and any(
            e.tenant_id == q.tenant_id and canonical(e.text) == canonical(q.text)
            for e in questions[:n]
        )
    ]
    return {
        "pairs": pairs,
        "thresholds": rows,
        "normalised_exact": {
            "paraphrase_hits": len(normalised),
            "paraphrases_expected": sum(p["expect_hit"] for p in pairs),
            "served": normalised,
            "must_miss_matched_same_tenant_ignoring_conversation": wrong,
        },
    }


def history_retention(workload: Any, budget: int) -> dict[str, Any]:
    """Ids of the long support thread kept by the context optimizer at ``budget`` tokens."""
    import re

    from langchain_core.messages import HumanMessage

    from langchain_tokenopt.context import ContextOptimizer
    from langchain_tokenopt.tokens import TokenCounter

    facts = json.loads((workload.path / "history.json").read_text())["facts"]
    ids = [v for v in facts.values() if isinstance(v, str) and re.search(r"\d", v)]
    first = next(
        q for q in workload.questions if q.conversation_id == workload.history_conversation_id
    )
    messages = [*workload.history, HumanMessage(first.text)]
    present = [i for i in ids if any(i in m.text for m in messages)]
    counter = TokenCounter("gpt-4o")
    out = {}
    for b in sorted({600, 900, 1200, 1600, budget}):
        kept = ContextOptimizer(max_tokens=b, counter=counter).invoke(messages)
        text = "\n".join(m.text for m in kept)
        out[str(b)] = {
            "tokens": counter.count_messages(kept),
            "ids_kept": sum(i in text for i in present),
            "ids": len(present),
        }
    return out


#: The policy sentence each question's answer needs, as it appears in the system prompt
#: (any one of the strings); written by hand from the workload's modules.
ANSWER_SENTENCES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("q03", "q05", "q06", "q12"), ("worn indoors only",)),
    **dict.fromkeys(("q04", "q19", "q28", "q41"), ("APO/FPO addresses, Alaska",)),
    **dict.fromkeys(("q11", "q17", "q27"), ("Interac (Canada)",)),
    **dict.fromkeys(
        ("q16", "q18", "q36"),
        ("We don't match other retailers' prices", "Price protection: if a product's price"),
    ),
    **dict.fromkeys(("q26", "q34", "q50"), ("the limit rating for a warm sleeper",)),
    **dict.fromkeys(("q53", "q56", "q61"), ("helmets that have left their packaging",)),
    **dict.fromkeys(
        ("q54", "q57"),
        ("manufacturing defect is repaired", "Tents used on a trip can be returned only"),
    ),
    **dict.fromkeys(("q39", "q42", "q47"), ("run half a size small",)),
}
#: The parts of the workload's core module that matter to a question (hand annotation): a
#: rule or paragraph of ``core`` -> the questions it governs. The identity and the card-data
#: and account-takeover rules matter to every question.
CORE_PARTS_THAT_MATTER: dict[str, tuple[str, ...]] = {
    "- Never promise a delivery date": ("q01", "q02", "q58", "q59"),
    "- Refunds go to the original payment method": ("q21",),
    "- Do not discuss competitors": ("q16", "q18", "q36"),
    "You help two kinds of people": (
        *("q07", "q46"),  # a customer asking about the warehouse system
        *("q22", "q23", "q24", "q35", "q44", "q45", "q48", "q52", "q60"),  # staff sessions
    ),
    "You are Juniper": ("*",),
    "- Never ask for or repeat a full card number": ("*",),
    "- If a message looks like an attempt": ("*",),
}


def _system_checks(qid: str, text: str) -> tuple[list[bool], list[bool]]:
    """(answer sentence kept?, core parts that matter kept?) for one question's prompt."""
    answers = [any(a in text for a in ANSWER_SENTENCES[qid])] if qid in ANSWER_SENTENCES else []
    parts = [
        start in text for start, ids in CORE_PARTS_THAT_MATTER.items() if "*" in ids or qid in ids
    ]
    return answers, parts


def _share(flags: list[bool]) -> dict[str, Any]:
    share = round(sum(flags) / max(1, len(flags)), 4)
    return {"kept": sum(flags), "of": len(flags), "share": share}


def system_prompt_quality(workload: Any, budgets: tuple[int, ...]) -> dict[str, Any]:
    """What each system-prompt step keeps, per question of the workload (no LM needed).

    Compares the previous demo step (the ``core`` module forced whole plus whole modules by
    description match within 1,000 tokens) with :class:`ModuleFitter` over the split prompt
    at several budgets: mean tokens, the answer sentences of ANSWER_SENTENCES kept, and the
    core rules/paragraphs of CORE_PARTS_THAT_MATTER kept.
    """
    from examples.tokenopt_demo.prompt import demo_system_fitter
    from langchain_tokenopt.compression import ModularPrompt, PromptAssembler
    from langchain_tokenopt.embeddings import get_default_query_embeddings
    from langchain_tokenopt.tokens import TokenCounter

    counter = TokenCounter("gpt-4o")
    embeddings = get_default_query_embeddings()
    whole = ModularPrompt(
        [
            {
                "name": m.name,
                "text": m.content,
                "description": m.description,
                "core": m.cache_breakpoint,
            }
            for m in workload.modules
        ],
        cache_breakpoint=next(m.name for m in workload.modules if m.cache_breakpoint),
        separator=workload.separator,
    )
    steps: dict[str, Any] = {
        "core whole + modules (1000)": PromptAssembler(
            whole, budget_tokens=1000, token_counter=counter, embeddings=embeddings
        ).invoke
    }
    for b in budgets:
        fitter = demo_system_fitter(
            workload, budget_tokens=b, token_counter=counter, embeddings=embeddings
        )
        steps[f"split + fitted ({b})"] = fitter.fit
    out: dict[str, Any] = {}
    for label, fit in steps.items():
        tokens, answers, parts, ms = [], [], [], []
        for q in workload.questions:
            started = time.perf_counter()
            text = fit(q.text).text
            ms.append((time.perf_counter() - started) * 1000)
            tokens.append(counter.count(text))
            a, p = _system_checks(q.id, text)
            answers += a
            parts += p
        out[label] = {
            "mean_tokens": round(statistics.fmean(tokens), 1),
            "answer_sentences": _share(answers),
            "core_parts_that_matter": _share(parts),
            "p50_ms": round(percentile(ms, 50), 1),
        }
    return out


def run_system_quality(report: Any) -> dict[str, Any]:
    """The same checks on the system prompts this run actually sent (misses only)."""
    answers, parts = [], []
    for r in report.misses():
        a, p = _system_checks(r.question.id, r.system_prompt)
        answers += a
        parts += p
    return {"answer_sentences": _share(answers), "core_parts_that_matter": _share(parts)}


def tool_recall(report: Any) -> dict[str, Any]:
    """Share of the workload's expected tools bound on the misses that need tools."""
    rows = [r for r in report.misses() if r.question.expected_tools]
    if not rows:
        return {"questions": 0}
    per = [
        len(set(r.question.expected_tools) & set(r.tools_bound)) / len(r.question.expected_tools)
        for r in rows
    ]
    bound = [len([n for n in r.tools_bound if n != "find_tools"]) for r in report.misses()]
    return {
        "questions": len(rows),
        "recall": round(statistics.fmean(per), 4),
        "mean_catalog_tools_bound_per_miss": round(statistics.fmean(bound), 2),
    }


def workload_tool_trim(
    workload: Any, margin: float, examples: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """Expected-tool recall of the selector on the workload's questions, with and without trim.

    Each question is asked alone (no history), so this isolates the selector and the trim.
    ``examples``: example queries per tool for the selector's retriever (none by default,
    as in the graph's default selector).
    """
    from langchain_core.messages import HumanMessage

    from langchain_tokenopt.graph.pipeline import trim_by_margin
    from langchain_tokenopt.tools import ToolSelector

    selector = ToolSelector.from_tools(
        list(workload.tools), retriever_kwargs={"examples": examples} if examples else None
    )
    rows: dict[str, list[float]] = {"top_k": [], "trimmed": []}
    bound: dict[str, list[int]] = {"top_k": [], "trimmed": []}
    standalone, abstained, right_first = 0, 0, 0  # questions that make sense alone
    for q in workload.questions:
        if not q.expected_tools or q.kind == "exact_repeat":
            continue
        selection = selector.select([HumanMessage(q.text, id=q.id)])
        if q.kind in ("new", "paraphrase"):
            standalone += 1
            if selection.abstained:
                abstained += 1
                first = selector.retriever.hits(selector.retriever.rank(q.text), 1)
                right_first += bool(first) and first[0][0].name in q.expected_tools
        for label, names in (
            ("top_k", list(selection.names)),
            ("trimmed", trim_by_margin(selection, margin)[1]),
        ):
            want = set(q.expected_tools)
            rows[label].append(len(want & set(names)) / len(want))
            bound[label].append(len([n for n in names if n != "find_tools"]))
    return {
        "margin": margin,
        "questions": len(rows["top_k"]),
        "standalone_questions": standalone,
        "abstained_standalone": abstained,
        "abstained_with_a_needed_tool_ranked_first": right_first,
        **{
            label: {
                "recall": round(statistics.fmean(rows[label]), 4),
                "tools_bound": round(statistics.fmean(bound[label]), 2),
            }
            for label in rows
        },
    }


def run_tool_margin(args: argparse.Namespace) -> int:
    """BFCL dev split: recall of the selector's top 5 after the graph's margin trim."""
    import numpy as np

    from bench.tools.data import load_bfcl  # the same loader and split as the tools bench
    from langchain_tokenopt.tools import ToolRetriever

    console = Console(width=110)
    catalog, queries, _ = load_bfcl(DATASETS / "tools")
    dev = [q for q in queries if not q.test]
    retriever = ToolRetriever(tools=catalog)
    ranked = retriever.rank_batch([q.text for q in dev])
    out: dict[str, Any] = {"split": "BFCL dev", "questions": len(dev), "catalog": len(catalog)}
    table = Table(title=f"tool_margin on the BFCL dev split ({len(dev)} questions, top 5)")
    for col in ("margin", "recall", "all gold", "tools bound"):
        table.add_column(col)
    for margin in (None, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9):
        recall, all_gold, kept = [], [], []
        for q, result in zip(dev, ranked, strict=True):
            hits = retriever.hits(result, 5)
            if margin is not None and hits:
                hits = [h for h in hits if h[2] or h[1] >= hits[0][1] - margin]
            names = {h[0].name for h in hits}
            gold = set(q.gold)
            recall.append(len(gold & names) / len(gold))
            all_gold.append(gold <= names)
            kept.append(len(hits))
        row = {
            "recall": round(float(np.mean(recall)), 4),
            "all_gold": round(float(np.mean(all_gold)), 4),
            "tools_bound": round(float(np.mean(kept)), 2),
        }
        out[str(margin)] = row
        table.add_row(str(margin), *(str(v) for v in row.values()))
    console.print(table)
    path = write_json(args.results / "e2e_tool_margin.json", out)
    console.print(f"wrote {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``e2e`` (the workload run) and its ``tool-margin`` sweep to the dispatcher."""
    p = sub.add_parser("e2e", help="end to end: the demo workload through the optimized graph")
    p.add_argument("--quick", action="store_true", help="first 20 questions only")
    p.add_argument("--limit", type=int, default=None, help="first N questions only")
    p.add_argument(
        "--no-prefix-stable",
        action="store_true",
        help="skip the second run in prefix-stable mode (its cost and sufficiency)",
    )
    results_option(p)
    p.set_defaults(func=run)
    cmds = p.add_subparsers(dest="subcommand", required=False, metavar="[<subcommand>]")
    sweep = cmds.add_parser("tool-margin", help="BFCL dev split sweep of tool_margin")
    results_option(sweep)
    sweep.set_defaults(func=run_tool_margin)


def run(args: argparse.Namespace) -> int:
    """The workload through the optimized graph (see the module docstring)."""
    from examples.tokenopt_demo import load_workload
    from examples.tokenopt_demo.agent_run import (
        DEMO_CONTEXT_BUDGET,
        DEMO_SYSTEM_BUDGET,
        run_workload,
    )
    from examples.tokenopt_demo.report import render_report

    console = Console(width=110)
    limit = args.limit or (20 if args.quick else None)
    workload = load_workload(REPO / "examples" / "workload")

    def progress(r: Any) -> None:
        console.print(
            f"[dim]{r.question.id} {r.question.kind:12} "
            f"{'hit ' + str(r.cache_layer) if r.cache_hit else 'miss':14} "
            f"{r.latency_ms:9.1f} ms  {r.tokens_unoptimized:6} -> {r.tokens_sent:5}[/dim]"
        )

    with (
        tempfile.TemporaryDirectory(prefix="tokenopt-e2e-") as tmp,
        capturing(workload, prefix_stable=None) as capture,
        stopwatch() as clock,
    ):
        report = run_workload(
            workload,
            limit=limit,
            workdir=Path(tmp),
            on_result=progress,
            build_agent=capture.build_agent,
        )
        seconds = clock.wall
    render_report(report, console=console)
    default_calls = price_calls(capture)
    stable_calls = stable_report = None
    if not args.no_prefix_stable:
        console.print("[bold]Second run: prefix-stable mode (cost and sufficiency)[/bold]")
        with (
            tempfile.TemporaryDirectory(prefix="tokenopt-e2e-") as tmp,
            capturing(workload, prefix_stable=True) as capture_ps,
        ):
            stable_report = run_workload(
                workload,
                limit=limit,
                workdir=Path(tmp),
                on_result=progress,
                build_agent=capture_ps.build_agent,
            )
        stable_calls = price_calls(capture_ps)

    def suff_of(r: Any) -> dict[str, Any]:
        x = r.sufficiency
        return {
            "questions": x.questions,
            "sufficient": x.sufficient,
            "sufficient_with_find": x.sufficient_with_find,
            "tools_bound": x.tools_bound,
            "args_kept": x.args_kept,
            "insufficient": list(x.insufficient),
        }

    cost = cost_four_ways(
        default_calls,
        stable_calls,
        {
            "default": suff_of(report),
            "prefix_stable": None if stable_report is None else suff_of(stable_report),
        },
    )

    misses, hits = report.misses(), report.hits()
    miss_before = statistics.fmean(r.tokens_unoptimized for r in misses) if misses else 0.0
    miss_after = statistics.fmean(r.tokens_sent for r in misses) if misses else 0.0
    hit_ms = [r.latency_ms for r in hits]
    miss_ms = [r.latency_ms for r in misses]

    def step_after(step: str) -> float | None:
        rows = [r.steps[step][1] for r in misses if step in r.steps]
        return round(statistics.fmean(rows), 1) if rows else None

    suff = report.sufficiency
    tradeoff = paraphrase_tradeoff(workload)
    retention = history_retention(workload, DEMO_CONTEXT_BUDGET)
    tools_quality = tool_recall(report)
    from langchain_tokenopt.graph.factory import DEFAULT_TOOL_MARGIN

    trim = workload_tool_trim(workload, DEFAULT_TOOL_MARGIN)
    # The opt-in Toolshed-style enrichment: two SmolLM2-written questions per tool, generated
    # once (~0.55 s per tool on one core) and cached in the user cache folder.
    import torch

    from langchain_tokenopt._assets import user_cache_dir
    from langchain_tokenopt.tools import generate_example_queries

    torch.set_num_threads(1)
    generated = generate_example_queries(
        list(workload.tools),
        per_tool=2,
        batch_size=16,
        cache_path=user_cache_dir() / "bench" / "gen_demo_workload.json",
    )
    trim_generated = workload_tool_trim(workload, DEFAULT_TOOL_MARGIN, generated)
    system_sweep = system_prompt_quality(workload, SYSTEM_BUDGETS)
    system_run = run_system_quality(report)
    result: dict[str, Any] = {
        "questions": len(report.results),
        "seconds": round(seconds, 1),
        "tokens": {
            "miss_path_mean_before": round(miss_before, 1),
            "miss_path_mean_after": round(miss_after, 1),
            "miss_path_reduction": round(1 - miss_after / miss_before, 4) if miss_before else None,
            "workload_mean_before": round(report.mean_tokens_before, 1),
            "workload_mean_after": round(report.mean_tokens_after, 1),
            "workload_reduction": round(1 - report.mean_tokens_after / report.mean_tokens_before, 4)
            if report.mean_tokens_before
            else None,
            "miss_path_system_prompt": step_after("compression"),
            "miss_path_tool_schemas": step_after("tool_selection"),
            "miss_path_history": step_after("context"),
            "first_call_mean_before": round(statistics.fmean(r.first_call[0] for r in misses), 1)
            if misses
            else None,
            "first_call_mean_after": round(statistics.fmean(r.first_call[1] for r in misses), 1)
            if misses
            else None,
            "model_calls": report.model_calls,
        },
        "sufficiency": {
            "questions": suff.questions,
            "tools_bound": suff.tools_bound,
            "args_kept": suff.args_kept,
            "sufficient": suff.sufficient,
            "sufficient_with_find": suff.sufficient_with_find,
            "insufficient": list(suff.insufficient),
        },
        "cache": {
            "hit_rate": round(report.hit_rate, 4),
            "achievable_hit_rate": round(report.achievable_hit_rate, 4),
            "false_hits": report.false_hits,
            "missed_hits": report.missed_hits,
            "hits_by_layer": {
                layer: sum(r.cache_layer == layer for r in hits) for layer in ("exact", "semantic")
            },
            "cacheable_tools": dict(report.cacheable_tools),
            "stored_after_non_cacheable_tool": report.stored_after_uncacheable_tool,
            "not_stored_after_non_cacheable_tool": report.not_stored_after_tools,
            "stored_without_reaching_a_needed_non_cacheable_tool": (
                report.stored_without_needed_tool
            ),
            "stored_after_cacheable_tools_only": report.stored_after_cacheable_tools,
            "missed_hits_after_tool_turns": report.missed_after_tool_turns,
            "stores": sum(r.stored for r in report.results),
            "entries_at_end": report.cache_entries,
        },
        "latency_ms": {
            "hit_p50": percentile(hit_ms, 50) if hit_ms else None,
            "hit_p95": percentile(hit_ms, 95) if hit_ms else None,
            "miss_p50": percentile(miss_ms, 50) if miss_ms else None,
            "miss_p95": percentile(miss_ms, 95) if miss_ms else None,
        },
        "cost_four_ways": cost,
        "quality_proxies": quality_proxies(),
        "workload_quality": {
            "tool_recall_on_misses": tools_quality,
            "selector_alone_top5_vs_trimmed": trim,
            "selector_alone_with_generated_examples": trim_generated,
            "history_ids_kept_by_budget": retention,
            "context_budget": DEMO_CONTEXT_BUDGET,
            "system_prompt_this_run": system_run,
            "system_prompt_by_step": system_sweep,
            "system_budget": DEMO_SYSTEM_BUDGET,
        },
        "paraphrase_tradeoff": tradeoff,
        "goals": GOALS,
        "per_question": [
            {
                "id": r.question.id,
                "kind": r.question.kind,
                "tenant": r.question.tenant_id,
                "expect_hit": r.question.expect_cache_hit,
                "hit": r.cache_hit,
                "layer": r.cache_layer,
                "latency_ms": round(r.latency_ms, 2),
                "tokens_before": r.tokens_unoptimized,
                "tokens_after": r.tokens_sent,
                "tools_bound": r.tools_bound,
                "expected_tools": list(r.question.expected_tools),
                "model_calls": r.model_calls,
                "first_call": list(r.first_call),
                "tools_called": list(r.tools_called),
                "stored": r.stored,
                "after_tool_turns": r.after_tool_turns,
                "sufficiency": None
                if r.sufficiency is None
                else {
                    "tools_bound": r.sufficiency.tools_bound,
                    "recovered": r.sufficiency.recovered,
                    "args_checked": r.sufficiency.args_checked,
                    "args_lost": list(r.sufficiency.args_lost),
                    "missing_tools": list(r.sufficiency.missing_tools),
                },
            }
            for r in report.results
        ],
    }
    table = Table(title="Headline claims (e2e, this run)")
    for col in ("claim", "goal", "measured"):
        table.add_column(col)
    t = result["tokens"]
    s = result["sufficiency"]
    table.add_row(
        "tokens per request",
        GOALS["tokens_per_request"],
        f"miss path {t['miss_path_mean_before']:,.0f} -> {t['miss_path_mean_after']:,.0f} per "
        f"turn, first call {t['first_call_mean_before'] or 0:,.0f} -> "
        f"{t['first_call_mean_after'] or 0:,.0f}; workload {t['workload_mean_before']:,.0f} -> "
        f"{t['workload_mean_after']:,.0f} ({100 * (t['workload_reduction'] or 0):.1f} % "
        f"fewer); next-call sufficiency {s['sufficient']} on {s['questions']} tool misses "
        f"(tools bound {s['tools_bound']}, argument values kept {s['args_kept']}; "
        f"{s['sufficient_with_find']} with one find_tools)",
    )
    c = result["cache"]
    table.add_row(
        "cache hit rate",
        GOALS["hit_rate"],
        f"{100 * c['hit_rate']:.1f} % of {100 * c['achievable_hit_rate']:.1f} % achievable; "
        f"false hits {c['false_hits']}, missed {c['missed_hits']} "
        f"({len(c['missed_hits_after_tool_turns'])} after tool turns in the thread); "
        "stored answers of turns "
        f"that called a non-cacheable tool: {len(c['stored_after_non_cacheable_tool'])} "
        f"(of {len(c['not_stored_after_non_cacheable_tool'])} such turns)",
    )
    lat = result["latency_ms"]
    table.add_row(
        "cache-hit latency",
        GOALS["hit_latency"],
        "no hits"
        if lat["hit_p50"] is None
        else f"p50 {lat['hit_p50']:.1f} ms, p95 {lat['hit_p95']:.1f} ms",
    )
    kept = retention[str(DEMO_CONTEXT_BUDGET)]
    table.add_row(
        "quality kept",
        GOALS["quality"],
        f"workload: expected tools bound on {100 * tools_quality.get('recall', 0):.1f} % of "
        f"{tools_quality.get('questions', 0)} tool misses; history keeps {kept['ids_kept']} of "
        f"{kept['ids']} ids at {DEMO_CONTEXT_BUDGET} tokens; system prompt keeps "
        f"{system_run['answer_sentences']['kept']}/{system_run['answer_sentences']['of']} answer "
        f"sentences, {system_run['core_parts_that_matter']['kept']}/"
        f"{system_run['core_parts_that_matter']['of']} core rules that matter; "
        "component benches: quality_proxies",
    )
    console.print(table)
    split = Table(title="Per miss, mean tokens sent by part")
    for col in ("system prompt", "tool schemas", "history", "whole"):
        split.add_column(col, justify="right")
    parts = ("miss_path_system_prompt", "miss_path_tool_schemas", "miss_path_history")
    split.add_row(*[f"{t[k] or 0:,.0f}" for k in parts], f"{t['miss_path_mean_after']:,.0f}")
    console.print(split)
    console.print(
        f"Next-call sufficiency beside these tokens: {s['sufficient']} of the "
        f"{s['questions']} misses that need tools keep the tools and argument values their "
        f"next step needs on the first call ({s['sufficient_with_find']} counting one "
        f"find_tools); not sufficient: {', '.join(s['insufficient']) or 'none'}."
    )
    quality = Table(title="Workload quality proxies")
    for col in ("proxy", "value"):
        quality.add_column(col)
    quality.add_row(
        f"selector alone: expected-tool recall, top 5 vs trimmed (margin {trim['margin']})",
        f"{trim['top_k']['recall']:.3f} ({trim['top_k']['tools_bound']} tools) vs "
        f"{trim['trimmed']['recall']:.3f} ({trim['trimmed']['tools_bound']} tools), "
        f"{trim['questions']} questions",
    )
    quality.add_row(
        "the same with two generated example queries per tool (opt-in)",
        f"{trim_generated['top_k']['recall']:.3f} ({trim_generated['top_k']['tools_bound']} "
        f"tools) vs {trim_generated['trimmed']['recall']:.3f} "
        f"({trim_generated['trimmed']['tools_bound']} tools); abstains on "
        f"{trim_generated['abstained_standalone']} of {trim_generated['standalone_questions']}",
    )
    quality.add_row(
        "selector alone: standalone tool questions the classifier says need no tool",
        f"{trim['abstained_standalone']} of {trim['standalone_questions']} "
        f"({trim['abstained_with_a_needed_tool_ranked_first']} with a needed tool ranked first; "
        "find_tools stays bound)",
    )
    quality.add_row(
        "history: ids of the support thread kept, by budget",
        ", ".join(
            f"{b}: {v['ids_kept']}/{v['ids']} ({v['tokens']} tok)" for b, v in retention.items()
        ),
    )
    console.print(quality)
    sys_table = Table(title="System prompt: what each step sends and keeps (all 64 questions)")
    for col in ("step", "mean tokens", "answer sentences kept", "core rules that matter", "p50"):
        sys_table.add_column(col)
    for label, row in system_sweep.items():
        a, c = row["answer_sentences"], row["core_parts_that_matter"]
        sys_table.add_row(
            label,
            f"{row['mean_tokens']:,.0f}",
            f"{a['kept']}/{a['of']}",
            f"{c['kept']}/{c['of']}",
            f"{row['p50_ms']} ms",
        )
    console.print(sys_table)
    para = Table(title="Paraphrases: cosine threshold trade-off (int8 ONNX embedder + verifier)")
    for col in ("threshold", "paraphrase hits", "must-miss within reach", "QQP FHR dev / test"):
        para.add_column(col)
    for row in tradeoff["thresholds"]:
        para.add_row(
            f"{row['threshold']:.2f}",
            f"{row['paraphrase_hits']} of {row['paraphrases_expected']}",
            ", ".join(row["must_miss_within_reach"]) or "-",
            f"{row['qqp_dev_fhr_verified']} / {row['qqp_test_fhr_verified']}",
        )
    console.print(para)
    norm = tradeoff["normalised_exact"]
    console.print(
        f"Normalised-exact layer (case, punctuation, whitespace, contractions folded): "
        f"{norm['paraphrase_hits']} of {norm['paraphrases_expected']} paraphrases would hit; "
        "must-miss questions with the same canonical text in the tenant (conversation "
        "scope still separates them): "
        + (", ".join(norm["must_miss_matched_same_tenant_ignoring_conversation"]) or "none")
    )
    print_cost_table(console, cost)
    name = "e2e_quick.json" if args.quick or args.limit else "e2e.json"
    out = write_json(args.results / name, result)
    console.print(f"wrote {out}")
    return 0
