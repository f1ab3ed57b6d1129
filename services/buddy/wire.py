"""Proto forms of Buddy records, shared by the servicer and the outgoing events (events.py)."""

from __future__ import annotations

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


def match(value: Match) -> buddy_pb2.Match:
    """The wire form of a match."""
    return buddy_pb2.Match(
        match_id=value.record_id,
        external_match_id=value.external_id,
        participant=person(value.participant),
        buddy=person(value.buddy),
        match_time=timestamp(value.matched_at),
        status=STATUS[value.status],
        criteria=criteria(value),
        end_time=timestamp(value.ended_at),
        provenance=provenance(value.provenance),
        create_time=timestamp(value.created_at),
        update_time=timestamp(value.updated_at),
    )


def event(value: BuddyEvent) -> buddy_pb2.BuddyEvent:
    """The wire form of a buddy event."""
    return buddy_pb2.BuddyEvent(
        event_id=value.record_id,
        external_event_id=value.external_id,
        match_id=value.match_id,
        event_type=EVENT_TYPE[value.event_type],
        event_time=timestamp(value.event_at),
        description=value.description,
        location=value.location,
        attendees=[person(p) for p in value.attendees],
        provenance=provenance(value.provenance),
        create_time=timestamp(value.created_at),
    )


def answers(value: CheckIn) -> list[buddy_pb2.QuestionResponse]:
    """Check-in answers in the order given."""
    return [buddy_pb2.QuestionResponse(question=q, answer=a) for q, a in value.answers]


def checkin(value: CheckIn) -> buddy_pb2.CheckIn:
    """The wire form of a check-in; notes are not screened by this service (outcome unspecified)."""
    return buddy_pb2.CheckIn(
        checkin_id=value.record_id,
        external_checkin_id=value.external_id,
        match_id=value.match_id,
        person=person(value.person),
        person_role=ROLE[value.side],
        checkin_time=timestamp(value.checkin_at),
        mood=MOOD[value.mood],
        notes=value.notes,
        question_responses=answers(value),
        provenance=provenance(value.provenance),
        create_time=timestamp(value.created_at),
    )


def feedback(value: Feedback) -> buddy_pb2.Feedback:
    """The wire form of feedback; unset scores stay unset."""
    return buddy_pb2.Feedback(
        feedback_id=value.record_id,
        external_feedback_id=value.external_id,
        match_id=value.match_id,
        author=person(value.author),
        author_role=ROLE[value.side],
        rating=value.rating,
        text=value.text,
        communication=value.communication,
        helpfulness=value.helpfulness,
        engagement=value.engagement,
        submit_time=timestamp(value.submitted_at),
        provenance=provenance(value.provenance),
        create_time=timestamp(value.created_at),
    )
