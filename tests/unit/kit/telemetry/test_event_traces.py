"""Every event type a consumer takes continues its producer's trace: the envelope records the
producer's context, the relay's send span continues it, and the consumer's span is a child of that."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.kit.messaging import events
from services.kit.telemetry import event_spans, propagation
from services.kit.telemetry.tracing import tracer
from services.profile import consumers as profile_consumers
from services.q2q import consumers as q2q_consumers
from services.q2q.domain.classifier import RuleBasedClassifier
from services.safety import consumers as safety_consumers


def _consumed_types() -> list[str]:
    """Every event type a service subscribes to (profile, safety and q2q consume events)."""
    subscriptions = [
        *profile_consumers.SUBSCRIPTIONS,
        *safety_consumers.SUBSCRIPTIONS,
        *q2q_consumers.subscriptions(RuleBasedClassifier()),
    ]
    return sorted({event_type for subscription in subscriptions for event_type in subscription.event_types})


CONSUMED = _consumed_types()


def test_the_consumers_take_event_types() -> None:
    assert len(CONSUMED) >= 3, CONSUMED


@pytest.mark.parametrize("event_type", CONSUMED)
def test_a_consumed_event_continues_its_producers_trace(event_type: str, spans: InMemorySpanExporter) -> None:
    subject = events.nats_subject(event_type)
    with tracer().start_as_current_span("producer operation") as producer:
        envelope = events.Envelope(id="e-1", type=event_type, tenant="acme")
        propagation.stamp(envelope)
    with event_spans.sending(envelope, subject) as headers:
        pass
    with event_spans.processing(envelope, subject, consumer="c", headers=headers):
        pass
    finished = {s.kind: s for s in spans.get_finished_spans()}
    send, process = finished[SpanKind.PRODUCER], finished[SpanKind.CONSUMER]
    trace_id = producer.get_span_context().trace_id
    assert {send.context.trace_id, process.context.trace_id} == {trace_id}
    assert send.parent is not None
    assert send.parent.span_id == producer.get_span_context().span_id
    assert process.parent is not None
    assert process.parent.span_id == send.context.span_id
    assert process.attributes is not None
    assert process.attributes["cloudevents.event_type"] == event_type


def test_without_nats_headers_the_consumer_continues_the_envelopes_context(spans: InMemorySpanExporter) -> None:
    with tracer().start_as_current_span("producer operation") as producer:
        envelope = events.Envelope(id="e-2", type="kintell.session.completed", tenant="acme")
        propagation.stamp(envelope)
    with event_spans.processing(envelope, "s", consumer="c", headers=None):
        pass
    process = next(s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER)
    assert process.parent is not None
    assert process.parent.span_id == producer.get_span_context().span_id


def test_an_untraced_envelope_starts_a_trace_of_its_own(spans: InMemorySpanExporter) -> None:
    envelope = events.Envelope(id="e-3", type="kintell.session.completed")
    with event_spans.processing(envelope, "s", consumer="c", headers={}):
        pass
    process = next(s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER)
    assert process.parent is None
