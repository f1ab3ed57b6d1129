"""Log lines and error details name the trace they belong to."""

from __future__ import annotations

import structlog
from google.rpc import error_details_pb2
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.kit import errors, logs
from services.kit.grpc import status
from services.kit.telemetry import propagation
from services.kit.telemetry.tracing import tracer


def test_a_line_logged_inside_a_span_carries_its_trace_and_span_ids(spans: InMemorySpanExporter) -> None:
    with tracer().start_as_current_span("work") as span:
        inside = logs.trace_ids(None, "info", {"event": "inside"})
    outside = logs.trace_ids(None, "info", {"event": "outside"})
    assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert inside["span_id"] == format(span.get_span_context().span_id, "016x")
    assert "trace_id" not in outside


def test_an_error_answer_names_the_request_and_the_trace(spans: InMemorySpanExporter) -> None:
    with (
        tracer().start_as_current_span("call") as span,
        structlog.contextvars.bound_contextvars(request_id="req-7"),
    ):
        rpc = status.to_rpc_status(errors.NotFound("gone"), domain="profile.teei")
        internal = status.internal_status("req-7")
    trace_id = propagation.current_ids()
    assert trace_id is None, "outside the span there are no ids"
    info = error_details_pb2.RequestInfo()
    assert rpc.details[-1].Unpack(info)
    expected = format(span.get_span_context().trace_id, "032x")
    assert (info.request_id, info.serving_data) == ("req-7", f"trace_id={expected}")
    error_info = error_details_pb2.ErrorInfo()
    assert internal.details[0].Unpack(error_info)
    assert dict(error_info.metadata) == {"request_id": "req-7", "trace_id": expected}
