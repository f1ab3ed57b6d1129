"""W3C Trace Context across process boundaries: into and out of event envelopes (the CloudEvents
`traceparent`/`tracestate` extension) and NATS headers, and the current ids for logs and error details."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import context, propagate, trace

from teei.events.v1 import envelope_pb2

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in lower-case hex of the span in progress, or None outside any span."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return trace.format_trace_id(span_context.trace_id), trace.format_span_id(span_context.span_id)


def current_trace_id() -> str | None:
    """The trace id of the span in progress, or None."""
    ids = current_ids()
    return None if ids is None else ids[0]


def carrier() -> dict[str, str]:
    """The current context as W3C headers (`traceparent`, and `tracestate` when there is one)."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


def stamp(envelope: envelope_pb2.Envelope) -> None:
    """Records the current trace context on `envelope`, so whoever consumes it continues this trace."""
    headers = carrier()
    envelope.traceparent = headers.get(TRACEPARENT, "")
    envelope.tracestate = headers.get(TRACESTATE, "")


def context_of(envelope: envelope_pb2.Envelope, headers: Mapping[str, str] | None = None) -> context.Context:
    """The producer's trace context: the message `headers` (the relay's publish span) when they carry one,
    else the `envelope`'s (the operation that recorded it); an empty context when neither holds a valid
    one, and the consumer starts a trace of its own."""
    fields = {TRACEPARENT: envelope.traceparent, TRACESTATE: envelope.tracestate}
    if headers and headers.get(TRACEPARENT):
        fields = {key: headers.get(key, "") for key in (TRACEPARENT, TRACESTATE)}
    return propagate.extract({k: v for k, v in fields.items() if v}, context=context.Context())
