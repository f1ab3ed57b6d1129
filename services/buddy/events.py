"""The only place the buddy service's domain events become `buddy.*` event envelopes for the outbox."""

from __future__ import annotations

from typing import TypedDict

from google.protobuf import message

from services.buddy import wire
from services.buddy.domain.events import DomainEvent
from services.buddy.domain.model import BuddyEvent, CheckIn, Feedback, Match, Record
from services.kit.connectors.wire import person
from services.kit.messaging import events
from teei.buddy.v1 import events_pb2
from teei.common.v1 import types_pb2
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
    return events_pb2.MatchCreated(**wire.match_fields(m))


def event_logged(e: BuddyEvent) -> events_pb2.EventLogged:
    """buddy.event.logged: profile counts attendance per attendee."""
    return events_pb2.EventLogged(**wire.event_fields(e))


def checkin_completed(c: CheckIn, m: Match) -> events_pb2.CheckInCompleted:
    """buddy.checkin.completed: notes and answers travel to safety screening and Q2Q."""
    return events_pb2.CheckInCompleted(**wire.checkin_fields(c), **_pair(m))


def feedback_submitted(f: Feedback, m: Match) -> events_pb2.FeedbackSubmitted:
    """buddy.feedback.submitted: the text travels to safety screening and Q2Q."""
    return events_pb2.FeedbackSubmitted(**wire.feedback_fields(f), **_pair(m))


class _Pair(TypedDict):
    """The match's two people, as its check-in and feedback events carry them."""

    participant: types_pb2.PersonRef
    buddy: types_pb2.PersonRef


def _pair(m: Match) -> _Pair:
    """The match's two people: a check-in's or feedback's event names both, whichever side wrote it."""
    return _Pair(participant=person(m.participant), buddy=person(m.buddy))
