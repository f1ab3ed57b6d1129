"""The only place safety's domain events become envelopes: flag raised, review completed, text screened."""

from __future__ import annotations

from google.protobuf import message

from services.kit.messaging.events import Envelope, new_event
from services.safety import wire
from services.safety.domain.events import FlagRaised, ReviewCompleted, SafetyEvent, TextScreened
from teei.safety.v1 import events_pb2

SOURCE = "teei/safety"


def envelope(event: SafetyEvent, *, causation: Envelope | None = None) -> Envelope:
    """The envelope announcing `event`, caused by the event being handled, if any."""
    payload, tenant, subject = _addressed(event)
    return new_event(payload, source=SOURCE, tenant=tenant, subject=subject, causation=causation)


def _addressed(event: SafetyEvent) -> tuple[message.Message, str, str]:
    """An event's payload, the company it belongs to and what it is about."""
    if isinstance(event, FlagRaised):
        return flag_raised(event), event.flag.company_id, event.flag.flag_id
    if isinstance(event, ReviewCompleted):
        review = event.record.review
        return review_completed(event), review.company_id, review.review_id
    return text_screened(event), event.company_id, event.source.source_text_id


def flag_raised(event: FlagRaised) -> events_pb2.FlagRaised:
    """The `safety.flag.raised` payload."""
    return events_pb2.FlagRaised(**wire.flag_fields(event.flag), raise_time=wire.timestamp(event.flag.created_at))


def review_completed(event: ReviewCompleted) -> events_pb2.ReviewCompleted:
    """The `safety.review.completed` payload of a review's final decision."""
    record = event.record
    return events_pb2.ReviewCompleted(**wire.review_fields(record), **wire.decision_fields(record.review.latest))


def text_screened(event: TextScreened) -> events_pb2.TextScreened:
    """The `safety.text.screened` payload: the verdict and the redacted text, never an unsafe text."""
    return events_pb2.TextScreened(
        **wire.source_fields(event.source),
        source_event_type=event.source_event_type,
        source_event_id=event.source_event_id,
        screening=wire.summary(event.result),
        redacted_text=event.passed_on_text,
    )
