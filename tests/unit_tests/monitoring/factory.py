"""Small record builders shared by the monitoring tests."""

from __future__ import annotations

import time
import uuid
from typing import Any

from langchain_tokenopt.monitoring import RequestRecord, StepEvent, TokenUsage


def make_record(
    *,
    usage: TokenUsage | None = None,
    steps: tuple[StepEvent, ...] = (),
    ts: float | None = None,
    **kw: Any,
) -> RequestRecord:
    kw.setdefault("request_id", uuid.uuid4().hex)
    return RequestRecord(
        timestamp=time.time() if ts is None else ts,
        usage=usage,
        usage_available=usage is not None and kw.get("llm_called", True),
        steps=steps,
        **kw,
    )


def worked_records(now: float | None = None) -> list[RequestRecord]:
    """Four requests whose summary is worked out by hand in test_summary.py."""
    now = time.time() if now is None else now
    return [
        make_record(
            request_id="r1",
            ts=now - 30,
            model="m1",
            tenant_id="a",
            usage=TokenUsage(input_tokens=1000, output_tokens=200, cache_read_tokens=600),
            steps=(
                StepEvent(step="compression", tokens_before=500, tokens_after=300, latency_ms=4.0),
            ),
            llm_latency_ms=100.0,
            optimizer_latency_ms=4.0,
            latency_ms=104.0,
        ),
        make_record(
            request_id="r2",
            ts=now - 20,
            model="m1",
            tenant_id="b",
            usage=TokenUsage(input_tokens=400, output_tokens=100),
            llm_called=False,
            cache_hit=True,
            cache_layer="exact",
            steps=(
                StepEvent(
                    step="cache",
                    tokens_before=400,
                    tokens_after=0,
                    latency_ms=2.0,
                    cache_hit=True,
                    cache_layer="exact",
                ),
            ),
            optimizer_latency_ms=2.0,
            latency_ms=2.0,
        ),
        make_record(
            request_id="r3",
            ts=now - 10,
            model="m2",
            tenant_id="a",
            error_type="TimeoutError",
            llm_latency_ms=5000.0,
            latency_ms=5000.0,
        ),
        make_record(
            request_id="r4",
            ts=now - 5,
            model="m2",
            streamed=True,
            llm_latency_ms=50.0,
            latency_ms=50.0,
        ),
    ]
