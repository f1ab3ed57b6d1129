"""The only place the buddy service's domain events become `buddy.*` event envelopes for the outbox."""

from __future__ import annotations

from google.protobuf import message

from services.buddy import wire
from services.buddy.domain.events import CheckInCompleted, DomainEvent, EventLogged, FeedbackSubmitted, MatchCreated
from services.buddy.domain.model import Record
from services.kit.connectors.wire import person, provenance, timestamp
from services.kit.messaging import events
from teei.buddy.v1 import events_pb2
from teei.events.v1 import envelope_pb2

SOURCE = "teei/buddy"


def envelope(event: DomainEvent) -> envelope_pb2.Envelope:
    """The envelope of one event, correlated with the batch or delivery that brought its record."""
    record = _record(event)
    origin = record.provenance
    return events.new_event(
        payload(event),
        source=SOURCE,
        tenant=record.company_id,
        subject=record.record_id,
        correlation_id=origin.batch_id or origin.delivery_id,
    )


def _record(event: DomainEvent) -> Record:
    if isinstance(event, MatchCreated):
        return event.match
    if isinstance(event, EventLogged):
        return event.event
    return event.checkin if isinstance(event, CheckInCompleted) else event.feedback


def payload(event: DomainEvent) -> message.Message:
    """The typed payload of an event."""
    if isinstance(event, MatchCreated):
        return match_created(event)
    if isinstance(event, EventLogged):
        return event_logged(event)
    if isinstance(event, CheckInCompleted):
        return checkin_completed(event)
    return feedback_submitted(event)


def match_created(event: MatchCreated) -> events_pb2.MatchCreated:
    """buddy.match.created."""
    m = event.match
    return events_pb2.MatchCreated(
        match_id=m.record_id,
        external_match_id=m.external_id,
        participant=person(m.participant),
        buddy=person(m.buddy),
        match_time=timestamp(m.matched_at),
        status=wire.STATUS[m.status],
        criteria=wire.criteria(m),
        provenance=provenance(m.provenance),
    )


def event_logged(event: EventLogged) -> events_pb2.EventLogged:
    """buddy.event.logged."""
    e = event.event
    return events_pb2.EventLogged(
        event_id=e.record_id,
        external_event_id=e.external_id,
        match_id=e.match_id,
        event_type=wire.EVENT_TYPE[e.event_type],
        event_time=timestamp(e.event_at),
        description=e.description,
        location=e.location,
        attendees=[person(p) for p in e.attendees],
        provenance=provenance(e.provenance),
    )


def checkin_completed(event: CheckInCompleted) -> events_pb2.CheckInCompleted:
    """buddy.checkin.completed: notes and answers travel to safety screening and Q2Q."""
    c, m = event.checkin, event.match
    return events_pb2.CheckInCompleted(
        checkin_id=c.record_id,
        match_id=c.match_id,
        participant=person(m.participant),
        buddy=person(m.buddy),
        person_role=wire.ROLE[c.side],
        checkin_time=timestamp(c.checkin_at),
        mood=wire.MOOD[c.mood],
        notes=c.notes,
        question_responses=wire.answers(c),
        provenance=provenance(c.provenance),
    )


def feedback_submitted(event: FeedbackSubmitted) -> events_pb2.FeedbackSubmitted:
    """buddy.feedback.submitted: the text travels to safety screening and Q2Q."""
    f, m = event.feedback, event.match
    return events_pb2.FeedbackSubmitted(
        feedback_id=f.record_id,
        match_id=f.match_id,
        participant=person(m.participant),
        buddy=person(m.buddy),
        author_role=wire.ROLE[f.side],
        rating=f.rating,
        text=f.text,
        communication=f.communication,
        helpfulness=f.helpfulness,
        engagement=f.engagement,
        submit_time=timestamp(f.submitted_at),
        provenance=provenance(f.provenance),
    )
