"""OpenTelemetry export of the monitor's records: GenAI spans and metrics.

:class:`OpenTelemetrySink` turns each :class:`~langchain_tokenopt.monitoring.RequestRecord`
the :class:`~langchain_tokenopt.monitoring.TokenOptCallbackHandler` finishes into spans and
metrics that follow the OpenTelemetry `GenAI semantic conventions
<https://opentelemetry.io/docs/specs/semconv/gen-ai/>`_, plus ``tokenopt.*`` attributes for
what the optimizer steps did. It only needs ``opentelemetry-api``; your application's SDK
(or the global no-op one) decides where the data goes. Prometheus export
(:mod:`langchain_tokenopt.monitoring.prometheus`) is independent and unchanged.

Spans of one request, parented to the span that is current when the model call ends::

    tokenopt.request                 INTERNAL  tokenopt.cache.hit, tokenopt.tokens.before/after,
    │                                          tokenopt.tools.bound, gen_ai.request.model
    ├── tokenopt.step cache          INTERNAL  tokenopt.step.tokens_before/after, cache hit
    ├── tokenopt.step tool_selection INTERNAL  ... tokenopt.tools.bound / .catalog
    ├── tokenopt.step compression    INTERNAL
    ├── tokenopt.step context        INTERNAL
    └── chat {model}                 CLIENT    gen_ai.operation.name, gen_ai.request.model,
                                               gen_ai.usage.input_tokens / output_tokens /
                                               cache_read.input_tokens (when the model ran)

Step durations and the model call's duration are measured; their start times are
reconstructed (steps back to back in the order they were reported, ending when the model
call started), because a step reports its figures once it has finished.

Metrics (instrument, unit, attributes):

* ``gen_ai.client.token.usage`` ({token}) per model call and ``gen_ai.token.type``;
* ``gen_ai.client.operation.duration`` (s) and, for streams,
  ``gen_ai.client.operation.time_to_first_chunk`` (s);
* ``tokenopt.requests`` ({request}) with ``tokenopt.cache.hit``, ``tokenopt.usage.available``;
* ``tokenopt.tokens.saved`` ({token}) per ``tokenopt.step`` (requests with usage only, as in
  the summaries);
* ``tokenopt.step.duration`` (s) per ``tokenopt.step``; ``tokenopt.tools.bound`` ({tool}).

Metrics carry the model and provider but never a tenant or user id (unbounded
cardinality); spans carry ``tokenopt.tenant.id`` and never the user id.

Example:
    .. code-block:: python

        from opentelemetry.sdk.trace import TracerProvider
        from langchain_tokenopt.monitoring import (
            MemoryMetricsStore, OpenTelemetrySink, TokenOptCallbackHandler,
        )

        sink = OpenTelemetrySink(tracer_provider=TracerProvider())  # or the global providers
        handler = TokenOptCallbackHandler(store=MemoryMetricsStore(), otel=sink)
        # TokenOptCallbackHandler(otel=True) uses the global tracer and meter providers
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from langchain_tokenopt.errors import MissingDependencyError, TokenOptConfigError
from langchain_tokenopt.monitoring.records import RequestRecord, StepEvent

__all__ = ["OpenTelemetrySink", "resolve_otel_sink"]

#: Instrumentation scope of the tracer and the meter.
SCOPE = "langchain_tokenopt"

# GenAI semantic conventions (opentelemetry-semantic-conventions, gen_ai_attributes).
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
ERROR_TYPE = "error.type"
#: ``gen_ai.operation.name`` of a model call (the handler records chat and LLM calls alike).
OPERATION_CHAT = "chat"

# Recommended bucket boundaries of the GenAI metrics.
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
_DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
_TOOL_BUCKETS = (0, 1, 2, 4, 8, 16, 32, 64, 128)


@dataclass(frozen=True)
class _Instrument:
    """One metric the sink records: a histogram (with buckets) or a counter."""

    attr: str
    name: str
    unit: str
    description: str
    buckets: tuple[float, ...] | None = None  # None: a counter

    def create(self, meter: Any) -> Any:
        if self.buckets is None:
            return meter.create_counter(self.name, unit=self.unit, description=self.description)
        return meter.create_histogram(
            self.name,
            unit=self.unit,
            description=self.description,
            explicit_bucket_boundaries_advisory=self.buckets,
        )


_INSTRUMENTS = (
    _Instrument(
        "token_usage",
        "gen_ai.client.token.usage",
        "{token}",
        "Number of input and output tokens used per model call.",
        _TOKEN_BUCKETS,
    ),
    _Instrument(
        "duration",
        "gen_ai.client.operation.duration",
        "s",
        "Duration of the model call.",
        _DURATION_BUCKETS,
    ),
    _Instrument(
        "ttfc",
        "gen_ai.client.operation.time_to_first_chunk",
        "s",
        "Time to the first streamed chunk of the model call.",
        _DURATION_BUCKETS,
    ),
    _Instrument(
        "requests",
        "tokenopt.requests",
        "{request}",
        "Requests seen by the token optimizer (model calls and cache answers).",
    ),
    _Instrument(
        "saved",
        "tokenopt.tokens.saved",
        "{token}",
        "Tokens an optimizer step kept away from the model.",
    ),
    _Instrument(
        "step_duration",
        "tokenopt.step.duration",
        "s",
        "Wall time of one optimizer step.",
        _DURATION_BUCKETS,
    ),
    _Instrument(
        "tools_bound",
        "tokenopt.tools.bound",
        "{tool}",
        "Tools bound to the model for one call after tool selection.",
        _TOOL_BUCKETS,
    ),
)

_NS_PER_MS = 1_000_000


def _load_api() -> tuple[Any, Any]:
    try:
        from opentelemetry import metrics, trace
    except ImportError as exc:
        raise MissingDependencyError("opentelemetry-api", extra="otel") from exc
    return trace, metrics


def _version() -> str:
    try:
        return metadata.version("langchain-tokenopt")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


class OpenTelemetrySink:
    """Export each finished request as GenAI spans and metrics (see the module docstring).

    Give it to the handler (``TokenOptCallbackHandler(otel=sink)``); it is called inline
    when a record is finished, so the request's spans are children of the span current at
    that moment (your web request's span, say). Creating spans and recording metrics only
    hands data to the SDK's processors and readers; exporting happens in theirs.

    Args:
        tracer_provider: Where spans go (default: the global tracer provider).
        meter_provider: Where metrics go (default: the global meter provider).

    Raises:
        MissingDependencyError: ``opentelemetry-api`` is not installed
            (``pip install "langchain-tokenopt[otel]"``).

    Example:
        .. code-block:: python

            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import InMemoryMetricReader
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )

            spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
            tracer_provider = TracerProvider()
            tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
            sink = OpenTelemetrySink(
                tracer_provider=tracer_provider,
                meter_provider=MeterProvider(metric_readers=[reader]),
            )
            handler = TokenOptCallbackHandler(store=MemoryMetricsStore(), otel=sink)
            model.invoke("hi", config={"callbacks": [handler]})
            [s.name for s in spans.get_finished_spans()]  # ['chat my-model', 'tokenopt.request']
    """

    def __init__(self, *, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        trace, metrics = _load_api()
        version = _version()
        if tracer_provider is not None and not callable(getattr(tracer_provider, "get_tracer", 0)):
            msg = f"tracer_provider must be a TracerProvider, got {tracer_provider!r}"
            raise TokenOptConfigError(msg)
        if meter_provider is not None and not callable(getattr(meter_provider, "get_meter", 0)):
            msg = f"meter_provider must be a MeterProvider, got {meter_provider!r}"
            raise TokenOptConfigError(msg)
        self._trace = trace
        self._tracer = trace.get_tracer(SCOPE, version, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, version, meter_provider=meter_provider)
        made = {spec.attr: spec.create(meter) for spec in _INSTRUMENTS}
        self._token_usage = made["token_usage"]
        self._duration = made["duration"]
        self._ttfc = made["ttfc"]
        self._requests = made["requests"]
        self._saved = made["saved"]
        self._step_duration = made["step_duration"]
        self._tools_bound = made["tools_bound"]

    def export(self, record: RequestRecord) -> None:
        """Emit the spans and metrics of one finished request."""
        self._spans(record)
        self._metrics(record)

    # -- spans ---------------------------------------------------------------------------
    def _spans(self, record: RequestRecord) -> None:
        trace = self._trace
        end = int(record.timestamp * 1e9)
        llm_ns = int(record.llm_latency_ms * _NS_PER_MS) if record.llm_called else 0
        llm_start = end - llm_ns
        steps_ns = [int(s.latency_ms * _NS_PER_MS) for s in record.steps]
        start = llm_start - sum(steps_ns)
        root = self._tracer.start_span(
            "tokenopt.request",
            kind=trace.SpanKind.INTERNAL,
            attributes=_request_attributes(record),
            start_time=start,
        )
        parent = trace.set_span_in_context(root)
        cursor = start
        for step, duration in zip(record.steps, steps_ns, strict=True):
            span = self._tracer.start_span(
                f"tokenopt.step {step.step}",
                context=parent,
                kind=trace.SpanKind.INTERNAL,
                attributes=_step_attributes(step),
                start_time=cursor,
            )
            if step.error:
                span.set_status(trace.Status(trace.StatusCode.ERROR, f"failed open: {step.error}"))
            cursor += duration
            span.end(end_time=cursor)
        if record.llm_called:
            name = f"{OPERATION_CHAT} {record.model}" if record.model else OPERATION_CHAT
            chat = self._tracer.start_span(
                name,
                context=parent,
                kind=trace.SpanKind.CLIENT,
                attributes=_model_call_attributes(record),
                start_time=llm_start,
            )
            if record.error_type:
                chat.set_status(trace.Status(trace.StatusCode.ERROR, record.error_type))
            chat.end(end_time=end)
        if record.error_type:
            root.set_status(trace.Status(trace.StatusCode.ERROR, record.error_type))
        root.end(end_time=end)

    # -- metrics -------------------------------------------------------------------------
    def _metrics(self, record: RequestRecord) -> None:
        model = _model_attributes(record)
        self._requests.add(
            1,
            {
                **model,
                "tokenopt.cache.hit": record.cache_hit,
                "tokenopt.usage.available": record.usage_available,
                **({ERROR_TYPE: record.error_type} if record.error_type else {}),
            },
        )
        if record.llm_called:
            call = {GEN_AI_OPERATION_NAME: OPERATION_CHAT, **model}
            if record.error_type:
                call[ERROR_TYPE] = record.error_type
            self._duration.record(record.llm_latency_ms / 1000.0, call)
            if record.ttft_ms is not None:
                self._ttfc.record(record.ttft_ms / 1000.0, call)
            if record.usage is not None:
                for kind, value in (
                    ("input", record.usage.input_tokens),
                    ("output", record.usage.output_tokens),
                ):
                    self._token_usage.record(value, {**call, GEN_AI_TOKEN_TYPE: kind})
        if record.usage_available:
            for step, saved in record.tokens_saved_by_step().items():
                if saved > 0:
                    self._saved.add(saved, {**model, "tokenopt.step": step})
        for event in record.steps:
            attrs: dict[str, Any] = {"tokenopt.step": event.step}
            if event.error:
                attrs[ERROR_TYPE] = event.error
            self._step_duration.record(event.latency_ms / 1000.0, attrs)
        if record.tools_bound is not None:
            self._tools_bound.record(record.tools_bound, model)


def _model_attributes(record: RequestRecord) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if record.model:
        attrs[GEN_AI_REQUEST_MODEL] = record.model
    if record.provider:
        attrs[GEN_AI_PROVIDER_NAME] = record.provider
    return attrs


def _request_attributes(record: RequestRecord) -> dict[str, Any]:
    """The ``tokenopt.request`` span's attributes.

    ``tokenopt.tokens.before`` is the prompt with no optimizer step, ``…after`` what the
    model was sent (0 when the cache answered); both only when the model reported usage.
    """
    attrs: dict[str, Any] = {
        "tokenopt.request.id": record.request_id,
        "tokenopt.cache.hit": record.cache_hit,
        "tokenopt.llm.called": record.llm_called,
        "tokenopt.usage.available": record.usage_available,
        **_model_attributes(record),
    }
    if record.cache_layer:
        attrs["tokenopt.cache.layer"] = record.cache_layer
    if record.usage_available and record.usage is not None:
        before = record.counterfactual_input_tokens()
        after = record.usage.input_tokens if record.llm_called else 0
        attrs["tokenopt.tokens.before"] = before
        attrs["tokenopt.tokens.after"] = after
        attrs["tokenopt.tokens.saved"] = max(0, before - after)
    _put(attrs, "tokenopt.tools.bound", record.tools_bound)
    _put(attrs, "tokenopt.tools.catalog", record.tools_catalog)
    _put(attrs, "tokenopt.tenant.id", record.tenant_id)
    _put(attrs, ERROR_TYPE, record.error_type)
    return attrs


def _step_attributes(step: StepEvent) -> dict[str, Any]:
    """A ``tokenopt.step`` span's attributes: the step's tokens before/after and its extras."""
    attrs: dict[str, Any] = {
        "tokenopt.step.name": step.step,
        "tokenopt.step.tokens_before": step.tokens_before,
        "tokenopt.step.tokens_after": step.tokens_after,
        "tokenopt.step.tokens_saved": step.tokens_saved,
    }
    _put(attrs, "tokenopt.cache.hit", step.cache_hit)
    _put(attrs, "tokenopt.cache.layer", step.cache_layer)
    _put(attrs, "tokenopt.tools.bound", step.tools_bound)
    _put(attrs, "tokenopt.tools.catalog", step.tools_catalog)
    _put(attrs, ERROR_TYPE, step.error)
    return attrs


def _model_call_attributes(record: RequestRecord) -> dict[str, Any]:
    """The GenAI client span's attributes (semantic conventions names)."""
    attrs: dict[str, Any] = {GEN_AI_OPERATION_NAME: OPERATION_CHAT, **_model_attributes(record)}
    usage = record.usage
    if record.usage_available and usage is not None:
        attrs[GEN_AI_USAGE_INPUT_TOKENS] = usage.input_tokens
        attrs[GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
        optional: Mapping[str, int] = {
            GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: usage.cache_read_tokens,
            GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: usage.cache_creation_tokens,
            GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: usage.reasoning_tokens,
        }
        # LangChain reports 0 for "not reported": only positive counts are facts
        attrs.update({k: v for k, v in optional.items() if v > 0})
    _put(attrs, "tokenopt.tools.bound", record.tools_bound)
    _put(attrs, ERROR_TYPE, record.error_type)
    if record.streamed and record.ttft_ms is not None:
        attrs["tokenopt.ttft_ms"] = record.ttft_ms
    return attrs


def _put(attrs: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        attrs[key] = value


def resolve_otel_sink(otel: OpenTelemetrySink | bool | None) -> OpenTelemetrySink | None:
    """The handler's ``otel=`` argument: ``True`` → a sink on the global providers.

    Raises:
        TokenOptConfigError: ``otel`` is neither a bool, ``None`` nor an
            :class:`OpenTelemetrySink`.
        MissingDependencyError: ``otel=True`` without ``opentelemetry-api``.
    """
    if otel is None or otel is False:
        return None
    if otel is True:
        return OpenTelemetrySink()
    if isinstance(otel, OpenTelemetrySink):
        return otel
    msg = f"otel must be True, False or an OpenTelemetrySink, got {type(otel).__name__}"
    raise TokenOptConfigError(msg)
