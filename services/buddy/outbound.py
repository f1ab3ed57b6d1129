"""The events the buddy service publishes, built from newly stored records."""

from __future__ import annotations

from google.protobuf import message

from services.buddy import wire
from services.buddy.domain.model import BuddyEvent, CheckIn, Feedback, Match, Record
from services.kit.messaging import events
from teei.buddy.v1 import events_pb2
from teei.events.v1 import envelope_pb2

SOURCE = "teei/buddy"


def created(record: Record, match: Match | None, *, correlation_id: str) -> envelope_pb2.Envelope:
    """The event announcing a new record (check-ins and feedback carry their match's pair)."""
    return events.new_event(
        payload(record, match),
        source=SOURCE,
        tenant=record.company_id,
        subject=record.record_id,
        correlation_id=correlation_id,
    )


def payload(record: Record, match: Match | None) -> message.Message:
    """The typed payload of the event for a new record."""
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
        participant=wire.person(m.participant),
        buddy=wire.person(m.buddy),
        match_time=wire.timestamp(m.matched_at),
        status=wire.STATUS[m.status],
        criteria=wire.criteria(m),
        provenance=wire.provenance(m.provenance),
    )


def event_logged(e: BuddyEvent) -> events_pb2.EventLogged:
    """buddy.event.logged: profile counts attendance per attendee."""
    return events_pb2.EventLogged(
        event_id=e.record_id,
        external_event_id=e.external_id,
        match_id=e.match_id,
        event_type=wire.EVENT_TYPE[e.event_type],
        event_time=wire.timestamp(e.event_at),
        description=e.description,
        location=e.location,
        attendees=[wire.person(p) for p in e.attendees],
        provenance=wire.provenance(e.provenance),
    )


def checkin_completed(c: CheckIn, m: Match) -> events_pb2.CheckInCompleted:
    """buddy.checkin.completed: notes and answers travel to safety screening and Q2Q."""
    return events_pb2.CheckInCompleted(
        checkin_id=c.record_id,
        match_id=c.match_id,
        participant=wire.person(m.participant),
        buddy=wire.person(m.buddy),
        person_role=wire.ROLE[c.side],
        checkin_time=wire.timestamp(c.checkin_at),
        mood=wire.MOOD[c.mood],
        notes=c.notes,
        question_responses=wire.answers(c),
        provenance=wire.provenance(c.provenance),
    )


def feedback_submitted(f: Feedback, m: Match) -> events_pb2.FeedbackSubmitted:
    """buddy.feedback.submitted: the text travels to safety screening and Q2Q."""
    return events_pb2.FeedbackSubmitted(
        feedback_id=f.record_id,
        match_id=f.match_id,
        participant=wire.person(m.participant),
        buddy=wire.person(m.buddy),
        author_role=wire.ROLE[f.side],
        rating=f.rating,
        text=f.text,
        communication=f.communication,
        helpfulness=f.helpfulness,
        engagement=f.engagement,
        submit_time=wire.timestamp(f.submitted_at),
        provenance=wire.provenance(f.provenance),
    )
