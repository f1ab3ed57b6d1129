"""Spans of the event path, named and attributed by the OpenTelemetry messaging conventions: the relay's
`send <subject>` (PRODUCER, a child of the operation that recorded the event) and a consumer's
`process <subject>` (CONSUMER, a child of that send span, so one business flow is one trace)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from services.kit.telemetry import propagation
from services.kit.telemetry.tracing import tracer
from teei.events.v1 import envelope_pb2

SYSTEM = "nats"


def _attributes(envelope: envelope_pb2.Envelope, subject: str, operation: str) -> dict[str, str]:
    return {
        "messaging.system": SYSTEM,
        "messaging.operation.type": operation,
        "messaging.destination.name": subject,
        "messaging.message.id": envelope.id,
        "cloudevents.event_id": envelope.id,
        "cloudevents.event_type": envelope.type,
        "cloudevents.event_source": envelope.source,
        "teei.tenant_id": envelope.tenant,
        "teei.correlation_id": envelope.correlation_id,
    }


@contextmanager
def sending(envelope: envelope_pb2.Envelope, subject: str) -> Iterator[dict[str, str]]:
    """The relay's publish of `envelope` as a span continuing the envelope's trace; yields the W3C headers
    of that span for the NATS message."""
    parent = propagation.context_of(envelope)
    attributes = {**_attributes(envelope, subject, "send"), "messaging.operation.name": "publish"}
    with tracer().start_as_current_span(f"send {subject}", context=parent, kind=SpanKind.PRODUCER) as span:
        span.set_attributes(attributes)
        yield propagation.carrier()


@contextmanager
def processing(
    envelope: envelope_pb2.Envelope, subject: str, *, consumer: str, headers: Mapping[str, str] | None
) -> Iterator[trace.Span]:
    """A consumer's handling of `envelope` as a child span of its producer's."""
    parent = propagation.context_of(envelope, headers)
    attributes = {
        **_attributes(envelope, subject, "process"),
        "messaging.operation.name": "process",
        "messaging.consumer.group.name": consumer,
    }
    with tracer().start_as_current_span(f"process {subject}", context=parent, kind=SpanKind.CONSUMER) as span:
        span.set_attributes(attributes)
        yield span
