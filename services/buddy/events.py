"""The only place the buddy service's domain events become `buddy.*` event envelopes for the outbox."""

from __future__ import annotations

from google.protobuf import message

from services.buddy import wire
from services.buddy.domain.events import DomainEvent
from services.buddy.domain.model import BuddyEvent, CheckIn, Feedback, Match, Record
from services.kit.connectors.wire import person, provenance, timestamp
from services.kit.messaging import events
from teei.buddy.v1 import events_pb2
from teei.events.v1 import envelope_pb2

SOURCE = "teei/buddy"


def envelope(event: DomainEvent) -> envelope_pb2.Envelope:
    """The envelope of one event, correlated with the batch or delivery that brought its record."""
    record, origin = event.record, event.record.provenance
    return events.new_event(
        payload(record, event.match),
        source=SOURCE,
        tenant=record.company_id,
        subject=record.record_id,
        correlation_id=origin.batch_id or origin.delivery_id,
    )


def payload(record: Record, match: Match | None) -> message.Message:
    """The typed payload announcing a new record (check-ins and feedback carry their match's pair)."""
    if isinstance(record, Match):
        return match_created(record)
    if isinstance(record, BuddyEvent):
        return event_logged(record)
    if match is None:
        raise ValueError(f"{type(record).__name__} events need the record's match")
    if isinstance(record, CheckIn):
        return checkin_completed(record, match)
    if isinstance(record, Feedback):
        return feedback_submitted(record, match)
    raise TypeError(f"no event for {type(record).__name__}")


def match_created(m: Match) -> events_pb2.MatchCreated:
    """buddy.match.created: profile enrols the participant and counts matches for both people."""
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


def event_logged(e: BuddyEvent) -> events_pb2.EventLogged:
    """buddy.event.logged: profile counts attendance per attendee."""
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


def checkin_completed(c: CheckIn, m: Match) -> events_pb2.CheckInCompleted:
    """buddy.checkin.completed: notes and answers travel to safety screening and Q2Q."""
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


def feedback_submitted(f: Feedback, m: Match) -> events_pb2.FeedbackSubmitted:
    """buddy.feedback.submitted: the text travels to safety screening and Q2Q."""
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
