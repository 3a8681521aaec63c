"""OpenTelemetry GenAI export: real model calls and a real agent graph, read back from the
SDK's in-memory span exporter and metric reader."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool, tool
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from langchain_tokenopt import build_optimized_agent
from langchain_tokenopt.errors import MissingDependencyError, TokenOptConfigError
from langchain_tokenopt.monitoring import (
    REQUEST_ID_KEY,
    MemoryMetricsStore,
    OpenTelemetrySink,
    StepEvent,
    TokenOptCallbackHandler,
)

USAGE = {
    "input_tokens": 120,
    "output_tokens": 30,
    "total_tokens": 150,
    "input_token_details": {"cache_read": 80},
}


class _NamedModel(GenericFakeChatModel):
    model_name: str = "fake-gpt"


class _FailingModel(_NamedModel):
    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        raise TimeoutError("provider timed out")


@dataclass
class Otel:
    sink: OpenTelemetrySink
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.finished() if s.name.startswith(prefix)]

    def points(self, metric: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for rm in data.resource_metrics if data is not None else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == metric:
                        found.extend(m.data.data_points)
        return found


@pytest.fixture
def otel() -> Iterator[Otel]:
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    meter_provider = MeterProvider(metric_readers=[reader])
    sink = OpenTelemetrySink(tracer_provider=tracer_provider, meter_provider=meter_provider)
    yield Otel(sink, spans, reader, tracer_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture
def handler(otel: Otel) -> Iterator[TokenOptCallbackHandler]:
    h = TokenOptCallbackHandler(store=MemoryMetricsStore(flush_interval=0.01), otel=otel.sink)
    yield h
    h.store.close()


def _usage_model(n: int = 1) -> _NamedModel:
    return _NamedModel(
        messages=iter([AIMessage(f"answer {i}", usage_metadata=USAGE) for i in range(n)])  # type: ignore[arg-type]
    )


def test_model_call_is_a_genai_client_span_with_usage(
    otel: Otel, handler: TokenOptCallbackHandler
) -> None:
    _usage_model().invoke("hello", config={"callbacks": [handler]})
    (chat,) = otel.named("chat ")
    (root,) = otel.named("tokenopt.request")
    assert chat.name == "chat fake-gpt" and chat.kind is SpanKind.CLIENT
    attrs = dict(chat.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "fake-gpt"
    assert attrs["gen_ai.usage.input_tokens"] == 120
    assert attrs["gen_ai.usage.output_tokens"] == 30
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 80
    assert "gen_ai.usage.cache_creation.input_tokens" not in attrs  # not reported: absent
    assert chat.parent is not None and chat.parent.span_id == root.context.span_id
    assert chat.status.status_code is StatusCode.UNSET
    # the span lasts as long as the measured model call
    (record,) = handler.store.records() if handler.store.flush(5) else []
    assert chat.end_time is not None and chat.start_time is not None
    assert abs((chat.end_time - chat.start_time) / 1e6 - record.llm_latency_ms) < 0.01
    root_attrs = dict(root.attributes or {})
    assert root_attrs["tokenopt.cache.hit"] is False and root_attrs["tokenopt.llm.called"] is True
    assert root_attrs["tokenopt.tokens.before"] == root_attrs["tokenopt.tokens.after"] == 120


def test_genai_metrics_follow_the_conventions(otel: Otel, handler: TokenOptCallbackHandler) -> None:
    _usage_model(2).invoke("hello", config={"callbacks": [handler]})
    usage = {p.attributes["gen_ai.token.type"]: p for p in otel.points("gen_ai.client.token.usage")}
    assert set(usage) == {"input", "output"}
    assert (usage["input"].sum, usage["input"].count) == (120, 1)
    assert usage["output"].sum == 30
    assert usage["input"].attributes["gen_ai.request.model"] == "fake-gpt"
    assert usage["input"].attributes["gen_ai.operation.name"] == "chat"
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert duration.count == 1 and 0 < duration.sum < 5
    (requests,) = otel.points("tokenopt.requests")
    assert requests.value == 1 and requests.attributes["tokenopt.cache.hit"] is False


def test_steps_are_child_spans_with_tokens_before_and_after(
    otel: Otel, handler: TokenOptCallbackHandler
) -> None:
    rid = "req-1"
    handler.record_step(
        rid,
        StepEvent(
            step="tool_selection",
            tokens_before=900,
            tokens_after=200,
            latency_ms=3.0,
            tools_bound=3,
            tools_catalog=40,
        ),
    )
    handler.record_step(
        rid, StepEvent(step="compression", tokens_before=500, tokens_after=300, latency_ms=2.0)
    )
    handler.record_step(
        rid,
        StepEvent(step="context", tokens_before=80, tokens_after=80, error="BudgetExceededError"),
    )
    _usage_model().invoke("hi", config={"callbacks": [handler], "metadata": {REQUEST_ID_KEY: rid}})

    (root,) = otel.named("tokenopt.request")
    steps = {s.name: s for s in otel.named("tokenopt.step ")}
    assert set(steps) == {
        "tokenopt.step tool_selection",
        "tokenopt.step compression",
        "tokenopt.step context",
    }
    tools = dict(steps["tokenopt.step tool_selection"].attributes or {})
    assert (tools["tokenopt.step.tokens_before"], tools["tokenopt.step.tokens_after"]) == (900, 200)
    assert tools["tokenopt.step.tokens_saved"] == 700
    assert (tools["tokenopt.tools.bound"], tools["tokenopt.tools.catalog"]) == (3, 40)
    failed = steps["tokenopt.step context"]
    assert failed.status.status_code is StatusCode.ERROR
    assert dict(failed.attributes or {})["error.type"] == "BudgetExceededError"
    for span in steps.values():
        assert span.parent is not None and span.parent.span_id == root.context.span_id
    # steps are laid back to back, ending where the model call starts
    ordered = sorted(steps.values(), key=lambda s: s.start_time or 0)
    assert [s.name.split()[-1] for s in ordered] == ["tool_selection", "compression", "context"]
    (chat,) = otel.named("chat ")
    assert ordered[-1].end_time == chat.start_time and root.start_time == ordered[0].start_time

    attrs = dict(root.attributes or {})
    assert attrs["tokenopt.request.id"] == rid
    assert attrs["tokenopt.tokens.after"] == 120
    assert attrs["tokenopt.tokens.before"] == 120 + 700 + 200
    assert attrs["tokenopt.tokens.saved"] == 900
    assert attrs["tokenopt.tools.bound"] == 3
    saved = {p.attributes["tokenopt.step"]: p.value for p in otel.points("tokenopt.tokens.saved")}
    assert saved == {"tool_selection": 700, "compression": 200}
    durations = {p.attributes["tokenopt.step"]: p for p in otel.points("tokenopt.step.duration")}
    assert durations["tool_selection"].sum == pytest.approx(0.003)
    assert durations["context"].attributes["error.type"] == "BudgetExceededError"
    (bound,) = otel.points("tokenopt.tools.bound")
    assert bound.sum == 3


def test_request_spans_are_children_of_the_callers_span(
    otel: Otel, handler: TokenOptCallbackHandler
) -> None:
    tracer = otel.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("POST /chat") as app_span:
        _usage_model().invoke("hi", config={"callbacks": [handler]})
    (root,) = otel.named("tokenopt.request")
    assert root.parent is not None and root.parent.span_id == app_span.get_span_context().span_id
    assert root.context.trace_id == app_span.get_span_context().trace_id


async def test_async_calls_keep_the_callers_span(
    otel: Otel, handler: TokenOptCallbackHandler
) -> None:
    tracer = otel.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("async request") as app_span:
        await _usage_model().ainvoke("hi", config={"callbacks": [handler]})
    (root,) = otel.named("tokenopt.request")
    assert root.parent is not None and root.parent.span_id == app_span.get_span_context().span_id


def test_response_cache_hit_has_no_model_call_span(
    otel: Otel, handler: TokenOptCallbackHandler
) -> None:
    handler.record_cache_hit(
        "req-hit",
        layer="semantic",
        prompt_tokens=400,
        output_tokens=50,
        lookup_latency_ms=1.5,
        model="fake-gpt",
    )
    assert otel.named("chat") == []
    (root,) = otel.named("tokenopt.request")
    attrs = dict(root.attributes or {})
    assert attrs["tokenopt.cache.hit"] is True and attrs["tokenopt.cache.layer"] == "semantic"
    assert attrs["tokenopt.llm.called"] is False
    assert (attrs["tokenopt.tokens.before"], attrs["tokenopt.tokens.after"]) == (400, 0)
    (cache_step,) = otel.named("tokenopt.step cache")
    assert dict(cache_step.attributes or {})["tokenopt.cache.hit"] is True
    assert otel.points("gen_ai.client.token.usage") == []  # nothing was sent to a model
    saved = {p.attributes["tokenopt.step"]: p.value for p in otel.points("tokenopt.tokens.saved")}
    assert saved == {"cache": 450}
    (requests,) = otel.points("tokenopt.requests")
    assert requests.attributes["tokenopt.cache.hit"] is True


def test_langchain_cache_answer_is_not_a_model_call(
    otel: Otel, handler: TokenOptCallbackHandler
) -> None:
    model = _NamedModel(messages=iter([AIMessage("cached", usage_metadata=USAGE)]), cache=True)  # type: ignore[arg-type]
    from langchain_core.globals import set_llm_cache

    set_llm_cache(InMemoryCache())
    try:
        model.invoke("same question", config={"callbacks": [handler]})
        model.invoke("same question", config={"callbacks": [handler]})
    finally:
        set_llm_cache(None)
    roots = otel.named("tokenopt.request")
    assert [dict(r.attributes or {})["tokenopt.cache.hit"] for r in roots] == [False, True]
    assert len(otel.named("chat ")) == 1


def test_call_without_usage_reports_no_token_figures(
    otel: Otel, handler: TokenOptCallbackHandler
) -> None:
    model = _NamedModel(messages=iter(["a streamed answer with words"]))
    assert len(list(model.stream("hi", config={"callbacks": [handler]}))) > 1
    (chat,) = otel.named("chat ")
    attrs = dict(chat.attributes or {})
    assert not [k for k in attrs if k.startswith("gen_ai.usage.")]
    assert attrs["tokenopt.ttft_ms"] >= 0
    (root,) = otel.named("tokenopt.request")
    assert "tokenopt.tokens.before" not in dict(root.attributes or {})
    assert otel.points("gen_ai.client.token.usage") == []
    (ttfc,) = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1
    (requests,) = otel.points("tokenopt.requests")
    assert requests.attributes["tokenopt.usage.available"] is False


def test_failed_call_sets_error_type_and_status(
    otel: Otel, handler: TokenOptCallbackHandler
) -> None:
    with pytest.raises(TimeoutError):
        _FailingModel(messages=iter([])).invoke("hi", config={"callbacks": [handler]})
    (chat,) = otel.named("chat ")
    assert chat.status.status_code is StatusCode.ERROR
    assert dict(chat.attributes or {})["error.type"] == "TimeoutError"
    (root,) = otel.named("tokenopt.request")
    assert root.status.status_code is StatusCode.ERROR
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "TimeoutError"


class _BrokenSink(OpenTelemetrySink):
    def export(self, record: Any) -> None:
        raise RuntimeError("collector misconfigured")


def test_a_broken_exporter_fails_open(caplog: pytest.LogCaptureFixture) -> None:
    h = TokenOptCallbackHandler(store=MemoryMetricsStore(flush_interval=0.01), otel=_BrokenSink())
    try:
        with caplog.at_level(logging.WARNING, logger="langchain_tokenopt.monitoring.handler"):
            reply = _usage_model(2).invoke("hi", config={"callbacks": [h]})
            _usage_model(2).invoke("again", config={"callbacks": [h]})
        assert reply.content == "answer 0"
        assert h.store.flush(5) and len(h.store.records()) == 2  # the store still got both
        warnings = [r for r in caplog.records if "OpenTelemetry" in r.getMessage()]
        assert len(warnings) == 1 and "collector misconfigured" in warnings[0].getMessage()
    finally:
        h.store.close()


def test_otel_argument_is_validated() -> None:
    store = MemoryMetricsStore()
    try:
        assert TokenOptCallbackHandler(store=store).otel is None
        assert isinstance(TokenOptCallbackHandler(store=store, otel=True).otel, OpenTelemetrySink)
        with pytest.raises(TokenOptConfigError, match="otel must be"):
            TokenOptCallbackHandler(store=store, otel="yes")  # type: ignore[arg-type]
        with pytest.raises(TokenOptConfigError, match="tracer_provider"):
            OpenTelemetrySink(tracer_provider=object())
        with pytest.raises(TokenOptConfigError, match="meter_provider"):
            OpenTelemetrySink(meter_provider="prometheus")
    finally:
        store.close()


def test_missing_opentelemetry_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(MissingDependencyError, match=r"langchain-tokenopt\[otel\]"):
        OpenTelemetrySink()


def test_monitoring_works_without_opentelemetry() -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None;"
        "from langchain_tokenopt.monitoring import MemoryMetricsStore, TokenOptCallbackHandler;"
        "from langchain_core.language_models.fake_chat_models import GenericFakeChatModel;"
        "h = TokenOptCallbackHandler(store=MemoryMetricsStore());"
        "GenericFakeChatModel(messages=iter(['ok'])).invoke('hi', config={'callbacks': [h]});"
        "h.store.flush(5); print(h.otel, len(h.store.records()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["None", "1"]


# -- through the agent graph ------------------------------------------------------------


@tool
def get_weather(city: str) -> str:
    """Return the weather forecast for a city."""
    return f"Sunny in {city}."


def _tool(name: str, doc: str) -> BaseTool:
    def run(query: str) -> str:
        return "ok"

    run.__name__, run.__doc__ = name, doc
    return tool(run)


CATALOG: list[BaseTool] = [
    get_weather,
    _tool("track_parcel", "Track a parcel by its carrier tracking number."),
    _tool("send_email", "Send an email message to a recipient."),
    _tool("book_table", "Book a restaurant table for a party."),
    _tool("convert_currency", "Convert an amount of money between two currencies."),
    _tool("set_alarm", "Set an alarm clock at a given time."),
    _tool("play_music", "Play a song or a playlist by an artist."),
    _tool("translate_text", "Translate a text into another language."),
]


class _WeatherModel(BaseChatModel):
    """Calls get_weather for weather questions, answers anything else directly."""

    model_name: str = "scripted-gpt"

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self.bind(tool_names=[getattr(t, "name", None) for t in tools])

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        usage: Any = {"input_tokens": 100, "output_tokens": 10, "total_tokens": 110}
        question = [m for m in messages if isinstance(m, HumanMessage)][-1].text
        if isinstance(messages[-1], ToolMessage):
            reply = AIMessage(f"{messages[-1].text}", usage_metadata=usage)
        elif "weather" in question and "get_weather" in (kw.get("tool_names") or []):
            call = {"name": "get_weather", "args": {"city": "Oslo"}, "id": "c1"}
            reply = AIMessage("", tool_calls=[call], usage_metadata=usage)
        else:
            reply = AIMessage("I am the shop's assistant.", usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=reply)])


def test_agent_graph_steps_and_model_calls_become_spans(otel: Otel) -> None:
    handler = TokenOptCallbackHandler(store=MemoryMetricsStore(flush_interval=0.01), otel=otel.sink)
    try:
        graph = build_optimized_agent(
            _WeatherModel(),
            CATALOG,
            system_prompt="You are the assistant of an outdoor-gear shop.",
            cache=InMemoryCache(),
            monitor=handler,
        ).compile()
        config: Any = {"metadata": {"tenant_id": "acme"}}
        tracer = otel.tracer_provider.get_tracer("app")
        with tracer.start_as_current_span("turn") as turn:
            out = graph.invoke({"messages": [HumanMessage("What's the weather in Oslo?")]}, config)
        assert out["messages"][-1].text == "Sunny in Oslo."
        # a fixed message id: the graph's exact key includes it (SemanticCache normalizes it)
        graph.invoke({"messages": [HumanMessage("Who are you?", id="q")]}, config)
        repeat = graph.invoke({"messages": [HumanMessage("Who are you?", id="q")]}, config)
        assert repeat["turn"]["cache_hit"] is True
    finally:
        handler.store.close()

    roots = sorted(otel.named("tokenopt.request"), key=lambda s: s.start_time or 0)
    chats = otel.named("chat ")
    # weather turn: tool call + final answer; "who are you": one call; the repeat: cache
    assert len(roots) == 4 and len(chats) == 3
    assert {c.name for c in chats} == {"chat scripted-gpt"}
    assert all(dict(c.attributes or {})["gen_ai.usage.input_tokens"] == 100 for c in chats)
    first, second = roots[0], roots[1]
    for root in (first, second):
        assert root.parent is not None and root.parent.span_id == turn.get_span_context().span_id
        assert dict(root.attributes or {})["tokenopt.tenant.id"] == "acme"

    def steps_of(root: ReadableSpan) -> dict[str, dict[str, Any]]:
        return {
            s.name.split()[-1]: dict(s.attributes or {})
            for s in otel.named("tokenopt.step ")
            if s.parent is not None and s.parent.span_id == root.context.span_id
        }

    first_steps = steps_of(first)
    assert {"cache", "tool_selection", "compression", "context"} <= set(first_steps)
    selection = first_steps["tool_selection"]
    assert selection["tokenopt.tools.catalog"] == len(CATALOG)
    assert selection["tokenopt.tools.bound"] < len(CATALOG)
    assert selection["tokenopt.step.tokens_after"] < selection["tokenopt.step.tokens_before"]
    first_attrs = dict(first.attributes or {})
    assert first_attrs["tokenopt.tools.bound"] == selection["tokenopt.tools.bound"]
    assert (
        first_attrs["tokenopt.tokens.before"] - first_attrs["tokenopt.tokens.after"]
        >= (selection["tokenopt.step.tokens_saved"])
    )
    # the tool loop's second model call has its own steps, not the turn's cache lookup
    assert "cache" not in steps_of(second) and "tool_selection" in steps_of(second)

    hit = roots[-1]
    hit_attrs = dict(hit.attributes or {})
    assert hit_attrs["tokenopt.cache.hit"] is True and hit_attrs["tokenopt.cache.layer"] == "exact"
    assert hit_attrs["tokenopt.tokens.after"] == 0
    assert not [c for c in chats if c.parent and c.parent.span_id == hit.context.span_id]
    requests = otel.points("tokenopt.requests")
    assert {p.attributes["tokenopt.cache.hit"]: p.value for p in requests} == {False: 3, True: 1}
    saved = {p.attributes["tokenopt.step"]: p.value for p in otel.points("tokenopt.tokens.saved")}
    assert saved["tool_selection"] > 0 and saved["cache"] > 0
