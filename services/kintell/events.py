"""The only place Kintell's domain events become `kintell.*` event envelopes for the outbox."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from google.protobuf import message

from services.kintell import wire
from services.kintell.domain.events import DomainEvent, SessionCompleted, SessionScheduled
from services.kintell.domain.model import Rating, Session
from services.kit.connectors import wire as connector_wire
from services.kit.connectors.model import Provenance
from services.kit.connectors.wire import timestamp
from services.kit.messaging import events
from teei.common.v1 import types_pb2
from teei.kintell.v1 import events_pb2

SOURCE = "teei/kintell"


# An import's events share one provenance: its message is built once and copied into every payload
# naming it (a constructor copies a message argument; the cached one is never changed).
@functools.lru_cache(maxsize=256)
def provenance(value: Provenance) -> types_pb2.Provenance:
    """The proto provenance of a record, shared by the payloads naming it."""
    return connector_wire.provenance(value)


def envelope(event: DomainEvent) -> events.Envelope:
    """The envelope of one event; its subject is the platform id of the record it announces."""
    payload, company_id, subject = _payload(event)
    return events.new_event(payload, source=SOURCE, tenant=company_id, subject=subject)


def envelopes(news: Sequence[DomainEvent]) -> list[events.Envelope]:
    """The envelopes of many events, their payloads sealed once for the outbox (events.record_sealed)."""
    return events.new_events([_payload(event) for event in news], source=SOURCE)


def _payload(event: DomainEvent) -> tuple[message.Message, str, str]:
    if isinstance(event, SessionCompleted):
        return session_completed(event.session), event.session.company_id, event.session.session_id
    if isinstance(event, SessionScheduled):
        return session_scheduled(event.session), event.session.company_id, event.session.session_id
    return rating_created(event.rating, event.session), event.rating.company_id, event.rating.rating_id


def session_completed(value: Session) -> events_pb2.SessionCompleted:
    """The `kintell.session.completed` payload of a completed session."""
    facts = value.facts
    payload = events_pb2.SessionCompleted(
        **wire.session_fields(value),
        schedule_time=timestamp(facts.scheduled_at),
        complete_time=timestamp(facts.completed_at),
        duration_minutes=facts.duration_minutes or 0,
        feedback_text=facts.feedback_text,
        language_level=wire.cefr(facts.language_level),
        topics=facts.topics,
        focus_area=facts.focus_area,
        goals_discussed=facts.goals_discussed,
        provenance=provenance(value.provenance),
    )
    if facts.rating is not None:
        payload.rating = facts.rating
    return payload


def session_scheduled(value: Session) -> events_pb2.SessionScheduled:
    """The `kintell.session.scheduled` payload of a newly booked session."""
    facts = value.facts
    return events_pb2.SessionScheduled(
        **wire.session_fields(value),
        schedule_time=timestamp(facts.scheduled_at),
        duration_minutes=facts.duration_minutes or 0,
        topics=facts.topics,
        focus_area=facts.focus_area,
        provenance=provenance(value.provenance),
    )


def rating_created(value: Rating, rated: Session) -> events_pb2.RatingCreated:
    """The `kintell.rating.created` payload."""
    return events_pb2.RatingCreated(
        rating_id=value.rating_id,
        **wire.session_fields(rated),
        rater_role=wire.ROLES[value.rater_role],
        rating=value.rating,
        feedback_text=value.feedback_text,
        create_time=timestamp(value.given_at),
        provenance=provenance(value.provenance),
    )
