"""A real chain: prompt | SmolLM2 (local) with the package's SemanticCache, recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.prompts import ChatPromptTemplate

from langchain_tokenopt.cache import SemanticCache
from langchain_tokenopt.cache.backends.local import LocalBackend
from langchain_tokenopt.llms import LocalChatModel
from langchain_tokenopt.monitoring import (
    REQUEST_ID_KEY,
    ModelPrice,
    Pricer,
    SQLiteMetricsStore,
    StepEvent,
    TokenOptCallbackHandler,
)

pytestmark = pytest.mark.requires_lm


def test_smollm2_chain_with_cache_records_hits_and_tokens(tmp_path: Path) -> None:
    import torch

    torch.set_num_threads(1)
    # A made-up price for the local model so the cost path runs end to end.
    pricer = Pricer(
        overrides={"smollm2-135m-instruct": ModelPrice(input_per_mtok=1.0, output_per_mtok=4.0)},
        use_genai_prices=False,
    )
    store = SQLiteMetricsStore(path=tmp_path / "m.sqlite", pricer=pricer, flush_interval=0.05)
    handler = TokenOptCallbackHandler(store=store)
    cache = SemanticCache(backend=LocalBackend(path=tmp_path / "cache"), semantic=False)
    model = LocalChatModel(max_new_tokens=8, cache=cache)
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model

    def ask(q: str, rid: str) -> tuple[str, Any]:
        handler.record_step(
            rid, StepEvent(step="compression", tokens_before=50, tokens_after=40, latency_ms=1.0)
        )
        cfg = {"callbacks": [handler], "metadata": {REQUEST_ID_KEY: rid, "tenant_id": "t1"}}
        msg = chain.invoke({"q": q}, config=cfg)
        return str(msg.content), msg.usage_metadata

    first, usage1 = ask("What is the capital of France?", "a")
    again, usage2 = ask("What is the capital of France?", "b")
    other, usage3 = ask("Name a primary colour.", "c")
    assert first == again
    assert store.flush(10)
    recs = {r.request_id: r for r in store.records("1h")}
    a, b, c = recs["a"], recs["b"], recs["c"]
    assert (a.cache_hit, b.cache_hit, c.cache_hit) == (False, True, False)
    assert a.llm_called and not b.llm_called and c.llm_called
    assert a.model == "smollm2-135m-instruct" and a.tenant_id == "t1"
    # token figures are the model's own usage_metadata, read once
    assert usage1 is not None and a.usage is not None
    assert a.usage.input_tokens == usage1["input_tokens"] > 5
    assert a.usage.output_tokens == usage1["output_tokens"] > 0
    assert b.usage == a.usage  # the hit carries what the call would have used
    assert c.usage is not None and usage3 is not None
    assert c.usage.input_tokens == usage3["input_tokens"]
    assert b.llm_latency_ms < a.llm_latency_ms

    s = handler.summary(window="1h")
    assert (s.requests, s.cache_hits, s.llm_calls) == (3, 1, 2)
    assert s.tokens.actual == a.usage.total_tokens + c.usage.total_tokens
    assert s.tokens_saved_by_step["cache"] == a.usage.total_tokens + 10
    assert s.tokens_saved_by_step["compression"] == 30
    assert s.cost.pricing_coverage == 1.0
    hit_cost = (a.usage.input_tokens + 10) * 1e-6 + a.usage.output_tokens * 4e-6
    assert s.cost.savings_by_step["response_cache"] == pytest.approx(hit_cost)
    store.close()


def test_smollm2_stream_reports_usage(tmp_path: Path) -> None:
    store = SQLiteMetricsStore(path=tmp_path / "s.sqlite", flush_interval=0.05)
    handler = TokenOptCallbackHandler(store=store)
    model = LocalChatModel(max_new_tokens=6)
    chunks = list(model.stream("Say hi.", config={"callbacks": [handler]}))
    assert chunks
    assert store.flush(10)
    (rec,) = store.records("1h")
    assert rec.streamed and rec.ttft_ms is not None
    assert rec.usage_available and rec.usage is not None and rec.usage.output_tokens > 0
    # SmolLM2 has no public price: unpriced, never $0
    assert rec.cost is not None and not rec.cost.priced
    store.close()
