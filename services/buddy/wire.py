"""Proto forms of Buddy records, shared by the servicer and the outgoing events (events.py)."""

from __future__ import annotations

from typing import TypedDict

from google.protobuf import timestamp_pb2

from services.buddy.domain.model import BuddyEvent, CheckIn, EventType, Feedback, Match, MatchStatus, Mood, Side
from services.kit.connectors.wire import person, provenance, timestamp
from teei.buddy.v1 import buddy_pb2
from teei.common.v1 import types_pb2

STATUS = {
    MatchStatus.ACTIVE: buddy_pb2.MATCH_STATUS_ACTIVE,
    MatchStatus.INACTIVE: buddy_pb2.MATCH_STATUS_INACTIVE,
    MatchStatus.ENDED: buddy_pb2.MATCH_STATUS_ENDED,
}
EVENT_TYPE = {
    EventType.HANGOUT: buddy_pb2.EVENT_TYPE_HANGOUT,
    EventType.ACTIVITY: buddy_pb2.EVENT_TYPE_ACTIVITY,
    EventType.WORKSHOP: buddy_pb2.EVENT_TYPE_WORKSHOP,
}
MOOD = {
    Mood.GREAT: buddy_pb2.MOOD_GREAT,
    Mood.GOOD: buddy_pb2.MOOD_GOOD,
    Mood.OKAY: buddy_pb2.MOOD_OKAY,
    Mood.STRUGGLING: buddy_pb2.MOOD_STRUGGLING,
    Mood.DIFFICULT: buddy_pb2.MOOD_DIFFICULT,
}
ROLE = {Side.PARTICIPANT: types_pb2.PERSON_ROLE_PARTICIPANT, Side.BUDDY: types_pb2.PERSON_ROLE_VOLUNTEER}
STATUS_FROM_PROTO = {int(v): k for k, v in STATUS.items()}
EVENT_TYPE_FROM_PROTO = {int(v): k for k, v in EVENT_TYPE.items()}
SIDE_FROM_PROTO = {int(v): k for k, v in ROLE.items()}


def criteria(value: Match) -> buddy_pb2.MatchingCriteria:
    """What a match was based on."""
    return buddy_pb2.MatchingCriteria(languages=value.languages, interests=value.interests, location=value.location)


class MatchFields(TypedDict):
    """The fields of a match that its wire form and its `buddy.match.created` event both carry."""

    match_id: str
    external_match_id: str
    participant: types_pb2.PersonRef
    buddy: types_pb2.PersonRef
    match_time: timestamp_pb2.Timestamp | None
    status: buddy_pb2.MatchStatus.ValueType
    criteria: buddy_pb2.MatchingCriteria
    provenance: types_pb2.Provenance


def match_fields(value: Match) -> MatchFields:
    """A match as both its wire form and its event carry it."""
    return MatchFields(
        match_id=value.record_id,
        external_match_id=value.external_id,
        participant=person(value.participant),
        buddy=person(value.buddy),
        match_time=timestamp(value.matched_at),
        status=STATUS[value.status],
        criteria=criteria(value),
        provenance=provenance(value.provenance),
    )


def match(value: Match) -> buddy_pb2.Match:
    """The wire form of a match."""
    return buddy_pb2.Match(
        **match_fields(value),
        end_time=timestamp(value.ended_at),
        create_time=timestamp(value.created_at),
        update_time=timestamp(value.updated_at),
    )


class EventFields(TypedDict):
    """The fields of a buddy event that its wire form and its `buddy.event.logged` event both carry."""

    event_id: str
    external_event_id: str
    match_id: str
    event_type: buddy_pb2.EventType.ValueType
    event_time: timestamp_pb2.Timestamp | None
    description: str
    location: str
    attendees: list[types_pb2.PersonRef]
    provenance: types_pb2.Provenance


def event_fields(value: BuddyEvent) -> EventFields:
    """A buddy event as both its wire form and its event carry it."""
    return EventFields(
        event_id=value.record_id,
        external_event_id=value.external_id,
        match_id=value.match_id,
        event_type=EVENT_TYPE[value.event_type],
        event_time=timestamp(value.event_at),
        description=value.description,
        location=value.location,
        attendees=[person(p) for p in value.attendees],
        provenance=provenance(value.provenance),
    )


def event(value: BuddyEvent) -> buddy_pb2.BuddyEvent:
    """The wire form of a buddy event."""
    return buddy_pb2.BuddyEvent(**event_fields(value), create_time=timestamp(value.created_at))


def answers(value: CheckIn) -> list[buddy_pb2.QuestionResponse]:
    """Check-in answers in the order given."""
    return [buddy_pb2.QuestionResponse(question=q, answer=a) for q, a in value.answers]


class CheckInFields(TypedDict):
    """The fields of a check-in that its wire form and its `buddy.checkin.completed` event both carry."""

    checkin_id: str
    match_id: str
    person_role: types_pb2.PersonRole.ValueType
    checkin_time: timestamp_pb2.Timestamp | None
    mood: buddy_pb2.Mood.ValueType
    notes: str
    question_responses: list[buddy_pb2.QuestionResponse]
    provenance: types_pb2.Provenance


def checkin_fields(value: CheckIn) -> CheckInFields:
    """A check-in as both its wire form and its event carry it."""
    return CheckInFields(
        checkin_id=value.record_id,
        match_id=value.match_id,
        person_role=ROLE[value.side],
        checkin_time=timestamp(value.checkin_at),
        mood=MOOD[value.mood],
        notes=value.notes,
        question_responses=answers(value),
        provenance=provenance(value.provenance),
    )


def checkin(value: CheckIn) -> buddy_pb2.CheckIn:
    """The wire form of a check-in; notes are not screened by this service (outcome unspecified)."""
    return buddy_pb2.CheckIn(
        **checkin_fields(value),
        external_checkin_id=value.external_id,
        person=person(value.person),
        create_time=timestamp(value.created_at),
    )


class FeedbackFields(TypedDict):
    """The fields of feedback that its wire form and its `buddy.feedback.submitted` event both carry."""

    feedback_id: str
    match_id: str
    author_role: types_pb2.PersonRole.ValueType
    rating: float | None
    text: str
    communication: float | None
    helpfulness: float | None
    engagement: float | None
    submit_time: timestamp_pb2.Timestamp | None
    provenance: types_pb2.Provenance


def feedback_fields(value: Feedback) -> FeedbackFields:
    """Feedback as both its wire form and its event carry it; unset scores stay unset."""
    return FeedbackFields(
        feedback_id=value.record_id,
        match_id=value.match_id,
        author_role=ROLE[value.side],
        rating=value.rating,
        text=value.text,
        communication=value.communication,
        helpfulness=value.helpfulness,
        engagement=value.engagement,
        submit_time=timestamp(value.submitted_at),
        provenance=provenance(value.provenance),
    )


def feedback(value: Feedback) -> buddy_pb2.Feedback:
    """The wire form of feedback; unset scores stay unset."""
    return buddy_pb2.Feedback(
        **feedback_fields(value),
        external_feedback_id=value.external_id,
        author=person(value.author),
        create_time=timestamp(value.created_at),
    )
