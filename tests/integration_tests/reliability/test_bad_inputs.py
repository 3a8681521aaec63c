"""Bad-input corpus: every public entry point against a table of hostile inputs.

Each row names the entry point, the input class and the outcome: either a specific typed
error (a ``TokenOptError`` subclass, or ``TypeError`` where the API documents it) or a
documented safe fallback value checked by a predicate. Nothing else may escape: an
unexpected exception (``UnicodeEncodeError``, a bare ``TypeError`` from deep inside, ...)
fails the row, and so does a call slower than its time bound.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import Generation, LLMResult
from langchain_core.tools import tool

from langchain_tokenopt.cache import LocalBackend, RedisBackend, SemanticCache, cache_scope
from langchain_tokenopt.compression import QueryAwareCompressor
from langchain_tokenopt.context import ContextOptimizer, validate_history
from langchain_tokenopt.errors import (
    BudgetExceededError,
    CompressionError,
    InvalidHistoryError,
    TokenCountError,
    TokenOptConfigError,
    ToolSelectionError,
)
from langchain_tokenopt.graph import build_optimized_agent
from langchain_tokenopt.monitoring import (
    MemoryMetricsStore,
    SQLiteMetricsStore,
    TokenOptCallbackHandler,
)
from langchain_tokenopt.tokens import TokenCounter
from langchain_tokenopt.tools import FusionWeights, ToolRetriever, ToolSelector

from ...unit_tests.cache.helpers import chat_prompt, llm_string

HUGE = "word " * 2_000_000  # 10 MB
SURROGATE = "refund \ud800 policy \udfff please"
NAN = math.nan
LLM = llm_string()
BAD_CALL = AIMessage(
    content="",
    invalid_tool_calls=[
        {
            "name": "get_weather",
            "args": '{"city": "Oslo"',  # malformed JSON
            "id": "call_1",
            "error": "invalid JSON",
            "type": "invalid_tool_call",
        }
    ],
)
ORPHAN = [
    HumanMessage("hi"),
    ToolMessage("sunny", tool_call_id="nobody-called-me"),
    AIMessage("ok"),
    HumanMessage("what now?"),
]
WITH_BAD_CALL = [HumanMessage("weather in Oslo?"), BAD_CALL, HumanMessage("and tomorrow?")]


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return "sunny"


@tool
def convert_currency(amount: float, source: str, target: str) -> str:
    """Convert an amount of money from one currency to another."""
    return "1.0"


class Env:
    """The real components every row runs against (built once per module)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache = SemanticCache(backend=LocalBackend(path=root / "c.sqlite3"), semantic=False)
        self.retriever = ToolRetriever(tools=[get_weather, convert_currency], dense=False)
        self.selector = ToolSelector(retriever=self.retriever, k=2, max_tools=4)
        self.compressor = QueryAwareCompressor(target_tokens=50, use_embeddings=False)
        self.optimizer = ContextOptimizer(max_tokens=200)
        self.counter = TokenCounter("gpt-4o")
        self.store = MemoryMetricsStore(flush_interval=0.05)
        self.handler = TokenOptCallbackHandler(store=self.store)

    def model(self) -> GenericFakeChatModel:
        return GenericFakeChatModel(messages=iter(["fine"] * 10))

    def close(self) -> None:
        self.cache.close()
        self.store.close()


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with tempfile.TemporaryDirectory() as tmp:
        built = Env(Path(tmp))
        try:
            yield built
        finally:
            built.close()


Check = type[BaseException] | Callable[[Any], bool]


@dataclass(frozen=True)
class Row:
    """One entry point × one bad input, and what must happen."""

    call: Callable[[Env], Any]
    expect: Check
    """An exception type that must be raised, or a predicate the result must satisfy."""
    seconds: float = 15.0
    """Upper bound on the call's wall time."""


def _raises(exc: type[BaseException]) -> Check:
    return exc


def _update_then_lookup(env: Env, prompt: str, llm: str = LLM) -> Any:
    env.cache.update(prompt, llm, [Generation(text="stored")])
    return env.cache.lookup(prompt, llm)


def _selection_ok(sel: Any) -> bool:
    return isinstance(sel.names, list) and all(isinstance(n, str) for n in sel.names)


def _valid(messages: list[BaseMessage]) -> bool:
    return validate_history(messages) == messages


def _record_after_garbage_callbacks(env: Env) -> int:
    run = uuid4()
    env.handler.on_chat_model_start({}, [[HumanMessage(SURROGATE)]], run_id=run)
    env.handler.on_llm_end(
        LLMResult(generations=[[]], llm_output={"token_usage": {"prompt_tokens": "x"}}),
        run_id=run,
    )
    env.handler.on_llm_end(LLMResult(generations=[[]]), run_id=uuid4())  # unknown run
    env.handler.on_llm_error(ValueError("boom"), run_id=uuid4())
    assert env.store.flush(10.0)
    return len(env.store.records(None))


def _agent_answer(env: Env, messages: list[BaseMessage]) -> str:
    graph = build_optimized_agent(
        env.model(), [], cache=False, monitor=False, tool_selector=False
    ).compile()
    return str(graph.invoke({"messages": messages})["messages"][-1].content)


ROWS: dict[str, Row] = {
    # ---------------------------------------------------------------- SemanticCache
    "cache-ctor-nan-threshold": Row(
        lambda e: SemanticCache(backend=e.cache.backend, similarity_threshold=NAN),
        _raises(TokenOptConfigError),
    ),
    "cache-ctor-threshold-out-of-range": Row(
        lambda e: SemanticCache(backend=e.cache.backend, similarity_threshold=1.5),
        _raises(TokenOptConfigError),
    ),
    "cache-ctor-zero-ttl": Row(
        lambda e: SemanticCache(backend=e.cache.backend, ttl=0), _raises(TokenOptConfigError)
    ),
    "cache-ctor-negative-ttl": Row(
        lambda e: SemanticCache(backend=e.cache.backend, ttl=-5), _raises(TokenOptConfigError)
    ),
    "cache-ctor-nan-ttl": Row(
        lambda e: SemanticCache(backend=e.cache.backend, ttl=NAN), _raises(TokenOptConfigError)
    ),
    "cache-ctor-backend-not-a-backend": Row(
        lambda e: SemanticCache(backend="redis://x"),  # type: ignore[arg-type]
        _raises(TokenOptConfigError),
    ),
    "cache-ctor-zero-max-embed-chars": Row(
        lambda e: SemanticCache(backend=e.cache.backend, max_embed_chars=0),
        _raises(TokenOptConfigError),
    ),
    "local-backend-zero-max-entries": Row(
        lambda e: LocalBackend(path=e.root / "z.sqlite3", max_entries=0),
        _raises(TokenOptConfigError),
    ),
    "redis-backend-nan-timeout": Row(
        lambda e: RedisBackend(url="redis://127.0.0.1:1/0", socket_timeout=NAN),
        _raises(TokenOptConfigError),
    ),
    "redis-backend-prefix-with-query-syntax": Row(
        lambda e: RedisBackend(url="redis://127.0.0.1:1/0", prefix="a{b}*"),
        _raises(TokenOptConfigError),
    ),
    "redis-backend-not-a-url": Row(
        lambda e: RedisBackend(url="http://x"), _raises(TokenOptConfigError)
    ),
    "cache-scope-empty-tenant": Row(
        lambda e: cache_scope(tenant_id="").__enter__(), _raises(TokenOptConfigError)
    ),
    "cache-scope-non-str-tenant": Row(
        lambda e: cache_scope(tenant_id=5).__enter__(),  # type: ignore[arg-type]
        _raises(TokenOptConfigError),
    ),
    "cache-lookup-empty": Row(lambda e: e.cache.lookup("", LLM), lambda r: r is None),
    "cache-lookup-whitespace": Row(lambda e: e.cache.lookup(" \n\t ", LLM), lambda r: r is None),
    "cache-update-empty-not-stored": Row(
        lambda e: _update_then_lookup(e, "   "), lambda r: r is None
    ),
    "cache-10mb-prompt-exact-only": Row(
        lambda e: _update_then_lookup(e, HUGE), lambda r: r == [Generation(text="stored")]
    ),
    "cache-lookup-lone-surrogate-prompt": Row(
        lambda e: e.cache.lookup(SURROGATE, LLM), lambda r: r is None
    ),
    "cache-update-lone-surrogate-prompt": Row(
        lambda e: _update_then_lookup(e, SURROGATE),
        lambda r: r is None or r == [Generation(text="stored")],
    ),
    "cache-lookup-lone-surrogate-llm-string": Row(
        lambda e: e.cache.lookup("hello", "model \udfff"), lambda r: r is None
    ),
    "cache-lookup-none-prompt": Row(
        lambda e: e.cache.lookup(None, LLM),  # type: ignore[arg-type]
        _raises(TypeError),
    ),
    "cache-lookup-bytes-prompt": Row(
        lambda e: e.cache.lookup(b"hello", LLM),  # type: ignore[arg-type]
        _raises(TypeError),
    ),
    "cache-lookup-none-llm-string": Row(
        lambda e: e.cache.lookup("hello", None),  # type: ignore[arg-type]
        _raises(TypeError),
    ),
    "cache-update-none-return-val-fails-open": Row(
        lambda e: (e.cache.update("q none", LLM, None), e.cache.lookup("q none", LLM))[1],  # type: ignore[arg-type]
        lambda r: r is None,
    ),
    "cache-update-str-return-val-fails-open": Row(
        lambda e: (e.cache.update("q str", LLM, "abc"), e.cache.lookup("q str", LLM))[1],  # type: ignore[arg-type]
        lambda r: r is None,
    ),
    "cache-unknown-model-llm-string": Row(
        lambda e: _update_then_lookup(e, "hello", "no-such-model-xyz"),
        lambda r: r == [Generation(text="stored")],
    ),
    "cache-malformed-tool-call-history": Row(
        lambda e: _update_then_lookup(e, chat_prompt("and tomorrow?", history=WITH_BAD_CALL[:2])),
        lambda r: r == [Generation(text="stored")],
    ),
    "cache-orphan-tool-message-history": Row(
        lambda e: _update_then_lookup(e, chat_prompt("what now?", history=ORPHAN[:3])),
        lambda r: r == [Generation(text="stored")],
    ),
    # ---------------------------------------------------------------- ToolRetriever
    "retriever-ctor-empty-catalog": Row(
        lambda e: ToolRetriever(tools=[], dense=False), _raises(ToolSelectionError)
    ),
    "retriever-ctor-non-tool": Row(
        lambda e: ToolRetriever(tools=[42], dense=False), _raises(ToolSelectionError)
    ),
    "retriever-ctor-zero-k": Row(
        lambda e: ToolRetriever(tools=[get_weather], k=0, dense=False),
        _raises(TokenOptConfigError),
    ),
    "retriever-ctor-negative-k": Row(
        lambda e: ToolRetriever(tools=[get_weather], k=-3, dense=False),
        _raises(TokenOptConfigError),
    ),
    "retriever-ctor-nan-weight": Row(
        lambda e: ToolRetriever(
            tools=[get_weather], fusion=FusionWeights(dense_weight=NAN), dense=False
        ),
        _raises(TokenOptConfigError),
    ),
    "retriever-empty-query": Row(lambda e: e.retriever.invoke(""), lambda r: r == []),
    "retriever-whitespace-query": Row(lambda e: e.retriever.invoke("  \n "), lambda r: r == []),
    "retriever-none-query": Row(lambda e: e.retriever.invoke(None), _raises(ToolSelectionError)),
    "retriever-int-query": Row(lambda e: e.retriever.invoke(42), _raises(ToolSelectionError)),
    "retriever-lone-surrogate-query": Row(
        lambda e: e.retriever.invoke("weather " + SURROGATE),
        lambda r: r and r[0].metadata["name"] == "get_weather",
    ),
    "retriever-10mb-query-is-bounded": Row(
        lambda e: e.retriever.invoke(HUGE), lambda r: isinstance(r, list), seconds=5.0
    ),
    # ---------------------------------------------------------------- ToolSelector
    "selector-ctor-zero-k": Row(
        lambda e: ToolSelector(retriever=e.retriever, k=0), _raises(TokenOptConfigError)
    ),
    "selector-ctor-no-retriever": Row(
        lambda e: ToolSelector(retriever=None),  # type: ignore[arg-type]
        _raises(TokenOptConfigError),
    ),
    "selector-none": Row(lambda e: e.selector.select(None), _raises(ToolSelectionError)),
    "selector-int": Row(lambda e: e.selector.select(42), _raises(ToolSelectionError)),
    "selector-none-content-dict": Row(
        lambda e: e.selector.select({"messages": [{"role": "user", "content": None}]}),
        _raises(ToolSelectionError),
    ),
    "selector-empty-string": Row(lambda e: e.selector.select(""), _selection_ok),
    "selector-lone-surrogate": Row(
        lambda e: e.selector.select("weather in Oslo " + SURROGATE), _selection_ok
    ),
    "selector-orphan-tool-message": Row(lambda e: e.selector.select(ORPHAN), _selection_ok),
    "selector-malformed-tool-call": Row(lambda e: e.selector.select(WITH_BAD_CALL), _selection_ok),
    "selector-10mb-turn-is-bounded": Row(
        lambda e: e.selector.select(HUGE), _selection_ok, seconds=5.0
    ),
    # ---------------------------------------------------------------- QueryAwareCompressor
    "compressor-ctor-zero-budget": Row(
        lambda e: QueryAwareCompressor(target_tokens=0), _raises(TokenOptConfigError)
    ),
    "compressor-ctor-negative-budget": Row(
        lambda e: QueryAwareCompressor(target_tokens=-10), _raises(TokenOptConfigError)
    ),
    "compressor-ctor-nan-budget": Row(
        lambda e: QueryAwareCompressor(target_tokens=NAN),  # type: ignore[arg-type]
        _raises(TokenOptConfigError),
    ),
    "compressor-ctor-nan-overshoot": Row(
        lambda e: QueryAwareCompressor(target_tokens=10, fine_overshoot=NAN),
        _raises(TokenOptConfigError),
    ),
    "compressor-none-context": Row(
        lambda e: e.compressor.compress(None, "q"), _raises(CompressionError)
    ),
    "compressor-int-context": Row(lambda e: e.compressor.invoke(42), _raises(CompressionError)),
    "compressor-empty": Row(lambda e: e.compressor.compress("", "q"), lambda r: r.text == ""),
    "compressor-whitespace": Row(
        lambda e: e.compressor.compress("   ", "q"), lambda r: r.tokens_after <= 50
    ),
    "compressor-lone-surrogate": Row(
        lambda e: e.compressor.compress(("The refund policy is \ud800 30 days. " * 40), "refund"),
        lambda r: 0 < r.tokens_after <= 50,
    ),
    "compressor-10mb": Row(
        lambda e: e.compressor.compress("The cat sat on the mat. " * 420_000, "where is the cat"),
        lambda r: 0 < r.tokens_after <= 50,
        seconds=30.0,
    ),
    # ---------------------------------------------------------------- ContextOptimizer
    "optimizer-ctor-zero-budget": Row(
        lambda e: ContextOptimizer(max_tokens=0), _raises(TokenOptConfigError)
    ),
    "optimizer-ctor-negative-budget": Row(
        lambda e: ContextOptimizer(max_tokens=-1), _raises(TokenOptConfigError)
    ),
    "optimizer-ctor-nan-budget": Row(
        lambda e: ContextOptimizer(max_tokens=NAN),  # type: ignore[arg-type]
        _raises(TokenOptConfigError),
    ),
    "optimizer-ctor-negative-reserve": Row(
        lambda e: ContextOptimizer(max_tokens=100, reserve_tokens=-1),
        _raises(TokenOptConfigError),
    ),
    "optimizer-unknown-model-falls-back": Row(
        lambda e: ContextOptimizer(max_tokens=100, model="no-such-model").invoke(
            [HumanMessage("hi")]
        ),
        lambda r: r == [HumanMessage("hi")],
    ),
    "optimizer-none": Row(lambda e: e.optimizer.invoke(None), _raises(TokenOptConfigError)),
    "optimizer-int": Row(lambda e: e.optimizer.invoke(42), _raises(TokenOptConfigError)),
    "optimizer-str": Row(lambda e: e.optimizer.invoke("hello"), _raises(TokenOptConfigError)),
    "optimizer-empty": Row(lambda e: e.optimizer.invoke([]), lambda r: r == []),
    "optimizer-none-content-dict": Row(
        lambda e: e.optimizer.invoke([{"role": "user", "content": None}]),
        lambda r: len(r) == 1 and isinstance(r[0], HumanMessage),
    ),
    "optimizer-orphan-tool-repaired": Row(
        lambda e: e.optimizer.invoke(ORPHAN),
        lambda r: _valid(r) and not any(isinstance(m, ToolMessage) for m in r),
    ),
    "optimizer-orphan-tool-strict": Row(
        lambda e: ContextOptimizer(max_tokens=200, repair_input=False).invoke(ORPHAN),
        _raises(InvalidHistoryError),
    ),
    "optimizer-malformed-tool-call": Row(
        lambda e: e.optimizer.invoke(WITH_BAD_CALL), lambda r: _valid(r) and len(r) == 3
    ),
    "optimizer-lone-surrogate": Row(
        lambda e: e.optimizer.invoke([HumanMessage(SURROGATE)]),
        lambda r: r == [HumanMessage(SURROGATE)],
    ),
    "optimizer-10mb-turn": Row(
        lambda e: e.optimizer.invoke([HumanMessage(HUGE)]), _raises(BudgetExceededError)
    ),
    # ---------------------------------------------------------------- validate_history
    "validate-orphan-tool": Row(lambda e: validate_history(ORPHAN), _raises(InvalidHistoryError)),
    "validate-none": Row(
        lambda e: validate_history(None),  # type: ignore[arg-type]
        _raises(InvalidHistoryError),
    ),
    "validate-10mb-str-one-problem": Row(
        lambda e: validate_history(HUGE),  # type: ignore[arg-type]
        _raises(InvalidHistoryError),
        seconds=2.0,
    ),
    "validate-non-messages": Row(
        lambda e: validate_history([1, None]),  # type: ignore[list-item]
        _raises(InvalidHistoryError),
    ),
    "validate-empty": Row(lambda e: validate_history([]), lambda r: r == []),
    "validate-malformed-tool-call": Row(
        lambda e: validate_history(WITH_BAD_CALL), lambda r: r == WITH_BAD_CALL
    ),
    # ---------------------------------------------------------------- TokenCounter
    "counter-unknown-model-falls-back": Row(
        lambda e: TokenCounter("no-such-model-xyz").encoding_name, lambda r: r == "o200k_base"
    ),
    "counter-non-str-model": Row(lambda e: TokenCounter(5), _raises(TokenOptConfigError)),  # type: ignore[arg-type]
    "counter-unknown-encoding": Row(
        lambda e: TokenCounter(encoding="gpt2"), _raises(TokenOptConfigError)
    ),
    "counter-none": Row(lambda e: e.counter.count(None), _raises(TokenCountError)),  # type: ignore[arg-type]
    "counter-bytes": Row(lambda e: e.counter.count(b"abc"), _raises(TokenCountError)),  # type: ignore[arg-type]
    "counter-empty": Row(lambda e: e.counter.count(""), lambda r: r == 0),
    "counter-whitespace": Row(lambda e: e.counter.count("   "), lambda r: r >= 1),
    "counter-lone-surrogate": Row(lambda e: e.counter.count(SURROGATE), lambda r: r > 0),
    "counter-10mb": Row(lambda e: e.counter.count(HUGE), lambda r: r >= 2_000_000),
    "counter-messages-str": Row(
        lambda e: e.counter.count_messages("hi"),  # type: ignore[arg-type]
        _raises(TokenCountError),
    ),
    "counter-messages-none-item": Row(
        lambda e: e.counter.count_messages([None]),  # type: ignore[list-item]
        _raises(TokenCountError),
    ),
    "counter-malformed-tool-call": Row(
        lambda e: e.counter.count_message(BAD_CALL), lambda r: isinstance(r, int) and r > 0
    ),
    "counter-non-tool": Row(lambda e: e.counter.count_tool(42), _raises(TokenCountError)),
    # ---------------------------------------------------------------- monitoring
    "handler-ctor-zero-ttl": Row(
        lambda e: TokenOptCallbackHandler(store=e.store, pending_ttl_s=0),
        _raises(TokenOptConfigError),
    ),
    "handler-ctor-negative-ttl": Row(
        lambda e: TokenOptCallbackHandler(store=e.store, pending_ttl_s=-1),
        _raises(TokenOptConfigError),
    ),
    "handler-ctor-nan-ttl": Row(
        lambda e: TokenOptCallbackHandler(store=e.store, pending_ttl_s=NAN),
        _raises(TokenOptConfigError),
    ),
    "handler-ctor-store-not-a-store": Row(
        lambda e: TokenOptCallbackHandler(store=42),  # type: ignore[arg-type]
        _raises(TokenOptConfigError),
    ),
    "handler-garbage-callbacks-never-raise": Row(_record_after_garbage_callbacks, lambda r: r >= 1),
    "sqlite-store-nan-retention": Row(
        lambda e: SQLiteMetricsStore(e.root / "m.sqlite", retention_days=NAN),
        _raises(TokenOptConfigError),
    ),
    "memory-store-nan-flush-interval": Row(
        lambda e: MemoryMetricsStore(flush_interval=NAN), _raises(TokenOptConfigError)
    ),
    "memory-store-zero-batch": Row(
        lambda e: MemoryMetricsStore(batch_size=0), _raises(TokenOptConfigError)
    ),
    # ---------------------------------------------------------------- build_optimized_agent
    "agent-model-not-a-chat-model": Row(
        lambda e: build_optimized_agent("gpt-4o"),  # type: ignore[arg-type]
        _raises(TokenOptConfigError),
    ),
    "agent-zero-context-budget": Row(
        lambda e: build_optimized_agent(e.model(), context_budget=0, cache=False, monitor=False),
        _raises(TokenOptConfigError),
    ),
    "agent-negative-system-budget": Row(
        lambda e: build_optimized_agent(e.model(), system_budget=-1, cache=False, monitor=False),
        _raises(TokenOptConfigError),
    ),
    "agent-nan-budget": Row(
        lambda e: build_optimized_agent(
            e.model(),
            context_budget=NAN,  # type: ignore[arg-type]
            cache=False,
            monitor=False,
        ),
        _raises(TokenOptConfigError),
    ),
    "agent-non-tool": Row(
        lambda e: build_optimized_agent(e.model(), [42], cache=False, monitor=False),  # type: ignore[list-item]
        _raises(TokenOptConfigError),
    ),
    "agent-bad-cache": Row(
        lambda e: build_optimized_agent(e.model(), cache=42, monitor=False),
        _raises(TokenOptConfigError),
    ),
    "agent-bad-monitor": Row(
        lambda e: build_optimized_agent(e.model(), cache=False, monitor=42),
        _raises(TokenOptConfigError),
    ),
    "agent-bad-tool-selector": Row(
        lambda e: build_optimized_agent(e.model(), cache=False, monitor=False, tool_selector=42),
        _raises(TokenOptConfigError),
    ),
    "agent-unknown-token-model": Row(
        lambda e: build_optimized_agent(
            e.model(), cache=False, monitor=False, token_model="no-such-model"
        ),
        lambda r: r is not None,
    ),
    "agent-run-orphan-tool-history": Row(lambda e: _agent_answer(e, ORPHAN), lambda r: r == "fine"),
    "agent-run-malformed-tool-call": Row(
        lambda e: _agent_answer(e, WITH_BAD_CALL), lambda r: r == "fine"
    ),
    "agent-run-lone-surrogate": Row(
        lambda e: _agent_answer(e, [HumanMessage(SURROGATE)]), lambda r: r == "fine"
    ),
}

#: Rows whose fix belongs to a component this suite may not edit (reported to its owner).
KNOWN_OPEN: dict[str, str] = {}
ROWS["agent-tools-none"] = Row(
    lambda e: build_optimized_agent(e.model(), None, cache=False, monitor=False),  # type: ignore[arg-type]
    _raises(TokenOptConfigError),
)


def _params() -> list[Any]:
    params = []
    for name, row in ROWS.items():
        marks = []
        if name in KNOWN_OPEN:
            marks.append(pytest.mark.xfail(reason=KNOWN_OPEN[name], strict=True))
        params.append(pytest.param(row, id=name, marks=marks))
    return params


@pytest.mark.parametrize("row", _params())
def test_bad_input(row: Row, env: Env) -> None:
    t0 = time.perf_counter()
    if isinstance(row.expect, type) and issubclass(row.expect, BaseException):
        with pytest.raises(row.expect) as info:
            row.call(env)
        # a typed error is a clear one: it says what was wrong
        assert str(info.value).strip()
    else:
        result = row.call(env)
        assert row.expect(result), f"unsafe fallback: {result!r}"[:500]
    elapsed = time.perf_counter() - t0
    assert elapsed < row.seconds, f"took {elapsed:.1f} s (bound {row.seconds} s)"
