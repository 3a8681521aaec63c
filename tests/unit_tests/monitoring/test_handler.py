from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda

from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.monitoring import (
    REQUEST_ID_KEY,
    MemoryMetricsStore,
    StepEvent,
    TokenOptCallbackHandler,
    measure_step,
    report_cache_hit,
    report_step,
)


def _usage_messages(n: int, **usage: Any) -> Iterator[AIMessage]:
    base = {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}
    base.update(usage)
    for i in range(n):
        yield AIMessage(content=f"answer {i}", usage_metadata=base)  # type: ignore[arg-type]


class _FailingModel(GenericFakeChatModel):
    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        raise TimeoutError("provider timed out")


@pytest.fixture
def handler() -> Iterator[TokenOptCallbackHandler]:
    h = TokenOptCallbackHandler(store=MemoryMetricsStore(flush_interval=0.01))
    yield h
    h.store.close()


def _records(h: TokenOptCallbackHandler) -> list[Any]:
    assert h.store.flush(5)
    return h.store.records()


def test_usage_with_provider_cache_is_read_once(handler: TokenOptCallbackHandler) -> None:
    model = GenericFakeChatModel(
        messages=_usage_messages(
            1,
            input_token_details={"cache_read": 80, "cache_creation": 10},
            output_token_details={"reasoning": 12},
        )
    )
    meta = {"tenant_id": "acme", "user_id": "u1", "ls_model_name": "ignored"}
    model.invoke("hello", config={"callbacks": [handler], "metadata": meta})
    (rec,) = _records(handler)
    assert rec.usage_available and rec.llm_called and not rec.cache_hit
    u = rec.usage
    assert (u.input_tokens, u.output_tokens) == (120, 30)
    assert (u.cache_read_tokens, u.cache_creation_tokens, u.reasoning_tokens) == (80, 10, 12)
    assert u.uncached_input_tokens == 30 and u.total_tokens == 150
    assert (rec.tenant_id, rec.user_id) == ("acme", "u1")
    assert rec.llm_latency_ms > 0 and rec.latency_ms >= rec.llm_latency_ms
    s = handler.summary(window="1h")
    assert s.tokens.input == 120 and s.tokens.cache_read == 80 and s.tokens.actual == 150


def test_stream_without_usage_is_flagged_not_zero(handler: TokenOptCallbackHandler) -> None:
    model = GenericFakeChatModel(messages=iter(["a streamed answer with words"]))
    chunks = list(model.stream("hi", config={"callbacks": [handler]}))
    assert len(chunks) > 1
    (rec,) = _records(handler)
    assert rec.streamed and rec.ttft_ms is not None and rec.ttft_ms <= rec.llm_latency_ms
    assert rec.usage is None and not rec.usage_available
    s = handler.summary(window="1h")
    assert s.usage_unavailable == 1 and s.tokens.actual == 0 and s.token_reduction is None


def test_error_type_recorded(handler: TokenOptCallbackHandler) -> None:
    model = _FailingModel(messages=iter([]))
    with pytest.raises(TimeoutError):
        model.invoke("hi", config={"callbacks": [handler]})
    (rec,) = _records(handler)
    assert rec.error_type == "TimeoutError" and rec.usage is None
    assert handler.summary(window="1h").errors == {"TimeoutError": 1}


def test_langchain_cache_hit_is_flagged(handler: TokenOptCallbackHandler) -> None:
    model = GenericFakeChatModel(messages=_usage_messages(1), cache=InMemoryCache())
    cfg: RunnableConfig = {"callbacks": [handler]}
    first = model.invoke("same prompt", config=cfg)
    second = model.invoke("same prompt", config=cfg)
    assert first.content == second.content
    miss, hit = _records(handler)
    assert not miss.cache_hit and miss.llm_called
    assert hit.cache_hit and not hit.llm_called
    assert hit.usage is not None and hit.usage.input_tokens == 120
    s = handler.summary(window="1h")
    assert s.cache_hits == 1 and s.request_cache_hit_rate == 0.5
    assert s.tokens.actual == 150 and s.tokens.counterfactual == 300
    assert s.tokens_saved_by_step["cache"] == 150


def test_steps_reported_from_graph_nodes(handler: TokenOptCallbackHandler) -> None:
    model = GenericFakeChatModel(messages=_usage_messages(2))

    def compress(text: str, config: RunnableConfig) -> str:
        assert report_step(
            config,
            StepEvent(step="compression", tokens_before=400, tokens_after=120, latency_ms=3.0),
        )
        return text

    def select_tools(text: str, config: RunnableConfig) -> str:
        report_step(
            config,
            StepEvent(
                step="tool_selection",
                tokens_before=900,
                tokens_after=400,
                latency_ms=2.0,
                tools_bound=3,
                tools_catalog=40,
            ),
        )
        return text

    chain = RunnableLambda(select_tools) | RunnableLambda(compress) | model
    meta = {REQUEST_ID_KEY: "req-1", "tenant_id": "t1"}
    chain.invoke("question", config={"callbacks": [handler], "metadata": meta})
    # A second request without steps must not inherit the first one's.
    chain2 = model
    chain2.invoke("other", config={"callbacks": [handler], "metadata": {REQUEST_ID_KEY: "req-2"}})
    first, second = _records(handler)
    assert first.request_id == "req-1" and second.request_id == "req-2"
    assert [e.step for e in first.steps] == ["tool_selection", "compression"]
    assert (first.tools_bound, first.tools_catalog) == (3, 40)
    assert first.optimizer_latency_ms == pytest.approx(5.0)
    assert first.latency_ms == pytest.approx(first.llm_latency_ms + 5.0)
    assert first.counterfactual_input_tokens() == 120 + 280 + 500
    assert second.steps == ()
    saved = handler.summary(window="1h").tokens_saved_by_step
    assert saved["compression"] == 280 and saved["tool_selection"] == 500


def test_cache_hit_without_model_call(handler: TokenOptCallbackHandler) -> None:
    def lookup(text: str, config: RunnableConfig) -> str:
        report_step(config, StepEvent(step="context", tokens_before=300, tokens_after=200))
        assert report_cache_hit(
            config,
            layer="semantic",
            prompt_tokens=200,
            output_tokens=40,
            lookup_latency_ms=1.5,
            model="gpt-4o",
            provider="openai",
        )
        return "cached answer"

    RunnableLambda(lookup).invoke(
        "q", config={"callbacks": [handler], "metadata": {REQUEST_ID_KEY: "h1", "user_id": "u9"}}
    )
    (rec,) = _records(handler)
    assert rec.cache_hit and rec.cache_layer == "semantic" and not rec.llm_called
    assert rec.user_id == "u9" and rec.model == "gpt-4o"
    assert [e.step for e in rec.steps] == ["context", "cache"]
    assert rec.counterfactual_tokens() == 200 + 100 + 40 and rec.actual_tokens() == 0
    assert rec.cost is not None and rec.cost.priced and rec.cost.actual_usd == 0.0
    assert rec.cost.savings_usd["response_cache"] == pytest.approx(rec.cost.counterfactual_usd)
    with pytest.raises(TokenOptConfigError):
        handler.record_cache_hit("x", layer="fuzzy", prompt_tokens=1, output_tokens=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="layer_name"):  # a misspelt keyword is not dropped
        handler.record_cache_hit("x", layer_name="exact", prompt_tokens=1, output_tokens=1)  # type: ignore[call-arg]
    with pytest.raises(TokenOptConfigError):
        StepEvent(step="summarize", tokens_before=1, tokens_after=1)  # type: ignore[arg-type]
    # Without a handler or request id, reporting is a no-op that says so.
    assert not report_step({}, StepEvent(step="context", tokens_before=1, tokens_after=1))


def test_threads_and_async_give_one_record_each(handler: TokenOptCallbackHandler) -> None:
    def worker(t: int) -> None:
        # one model per thread: GenericFakeChatModel's iterator is not thread-safe.
        own = GenericFakeChatModel(messages=_usage_messages(25))
        for i in range(25):
            rid = f"t{t}-{i}"
            handler.record_step(
                rid, StepEvent(step="context", tokens_before=10 + i, tokens_after=5)
            )
            own.invoke("x", config={"callbacks": [handler], "metadata": {REQUEST_ID_KEY: rid}})

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()

    async def many() -> None:
        await asyncio.gather(
            *[
                model.ainvoke(
                    "y", config={"callbacks": [handler], "metadata": {REQUEST_ID_KEY: f"a{i}"}}
                )
                for i in range(50)
            ]
        )

    model = GenericFakeChatModel(messages=_usage_messages(50))
    asyncio.run(many())
    records = _records(handler)
    assert len(records) == 8 * 25 + 50
    by_id = {r.request_id: r for r in records}
    assert len(by_id) == len(records)
    for t in range(8):
        for i in range(25):
            (step,) = by_id[f"t{t}-{i}"].steps
            assert step.tokens_before == 10 + i
    assert all(r.usage is not None for r in records)
    assert not handler._runs and not handler._pending


def test_hot_path_does_not_wait_for_the_store() -> None:
    class SlowStore(MemoryMetricsStore):
        def _write(self, records: list[Any]) -> None:
            time.sleep(0.5)
            super()._write(records)

    store = SlowStore(flush_interval=0.01)
    h = TokenOptCallbackHandler(store=store)
    model = GenericFakeChatModel(messages=_usage_messages(20))
    start = time.perf_counter()
    for _ in range(20):
        model.invoke("x", config={"callbacks": [h]})
    assert time.perf_counter() - start < 0.5
    assert store.flush(10) and len(store.records()) == 20
    store.close()


def test_measure_step_times_and_records_errors(handler: TokenOptCallbackHandler) -> None:
    model = GenericFakeChatModel(messages=_usage_messages(1))

    def node(text: str, config: RunnableConfig) -> str:
        with measure_step(config, "compression", tokens_before=100) as m:
            time.sleep(0.01)
            m.tokens_after = 40
        with pytest.raises(KeyError), measure_step(config, "context", tokens_before=70):
            raise KeyError("broken history")
        return text

    chain = RunnableLambda(node) | model
    chain.invoke("q", config={"callbacks": [handler], "metadata": {REQUEST_ID_KEY: "m1"}})
    (rec,) = _records(handler)
    comp, ctx = rec.steps
    assert comp.tokens_saved == 60 and comp.latency_ms >= 10.0 and comp.error is None
    assert ctx.error == "KeyError" and ctx.tokens_saved == 0
    assert handler.summary(window="1h").step_errors == {"context": 1}


def test_graph_replay_of_a_cached_answer_is_not_a_second_request(
    handler: TokenOptCallbackHandler,
) -> None:
    replay = GenericFakeChatModel(
        messages=iter(
            [AIMessage(content="cached", response_metadata={"tokenopt_cache_replay": True})]
        )
    )
    cfg: RunnableConfig = {"callbacks": [handler], "metadata": {REQUEST_ID_KEY: "rp"}}
    handler.record_cache_hit("rp", layer="exact", prompt_tokens=30, output_tokens=5)
    replay.invoke("q", config=cfg)
    (rec,) = _records(handler)
    assert rec.cache_hit and not rec.llm_called and rec.cache_layer == "exact"


def test_one_step_recorder_serves_the_graph_and_user_nodes(
    handler: TokenOptCallbackHandler, caplog: pytest.LogCaptureFixture
) -> None:
    from langchain_tokenopt.monitoring import StepRecorder
    from langchain_tokenopt.protocols import StepEvent as BaseStepEvent

    assert StepEvent is BaseStepEvent  # one event type, in the base layer

    class Broken:
        def record_step(self, request_id: str, event: StepEvent) -> None:
            raise RuntimeError("store down")

        def record_cache_hit(self, request_id: str, **kwargs: object) -> None:
            raise RuntimeError("store down")

    config = {"callbacks": [handler], "metadata": {"tokenopt_request_id": "r-1"}}
    assert StepRecorder.from_config({}) is None
    assert StepRecorder.from_config({"callbacks": [handler]}) is None  # no request id
    recorder = StepRecorder.from_config(config, monitors=[Broken(), handler])
    assert recorder is not None and recorder.request_id == "r-1"
    assert len(recorder.monitors) == 2  # the handler once, though named twice
    event = StepEvent(step="context", tokens_before=900, tokens_after=400)
    recorder.add(event)  # the broken monitor is logged, the handler still records
    recorder.cache_hit(layer="exact", prompt_tokens=900, output_tokens=20)
    assert recorder.events == [event]
    assert "failed to record a step" in caplog.text and "failed on a cache hit" in caplog.text
    # report_step goes through the same recorder, so a broken monitor never breaks a node
    assert report_step(
        {"callbacks": [handler], "metadata": {"tokenopt_request_id": "r-2"}},
        StepEvent(step="compression", tokens_before=10, tokens_after=5),
    )
    handler.store.flush(10)
    hits = [r for r in handler.store.records() if r.request_id == "r-1"]
    assert len(hits) == 1 and hits[0].cache_hit and hits[0].step("context") == event
