"""Proto forms of Buddy records, shared by the servicer and the outgoing events."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from services.buddy.domain.model import (
    BuddyEvent,
    Channel,
    CheckIn,
    EventType,
    Feedback,
    Match,
    MatchStatus,
    Mood,
    Person,
    Provenance,
    Side,
)
from services.kit.connectors import imports
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
CHANNEL = {Channel.CSV_IMPORT: types_pb2.INGEST_CHANNEL_CSV_IMPORT, Channel.WEBHOOK: types_pb2.INGEST_CHANNEL_WEBHOOK}
IMPORT_STATUS = {
    imports.COMPLETED: types_pb2.IMPORT_STATUS_COMPLETED,
    imports.COMPLETED_WITH_ERRORS: types_pb2.IMPORT_STATUS_COMPLETED_WITH_ERRORS,
}


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A proto timestamp, or None (field left unset) when there is no time."""
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def person(value: Person) -> types_pb2.PersonRef:
    """A person reference; the profile id is resolved by consumers, not here."""
    return types_pb2.PersonRef(
        email=value.email, external_id=value.external_id, given_name=value.given_name, family_name=value.family_name
    )


def provenance(value: Provenance) -> types_pb2.Provenance:
    """Where a record's latest version came from."""
    return types_pb2.Provenance(
        channel=CHANNEL[value.channel],
        import_batch_id=value.batch_id,
        delivery_id=value.delivery_id,
        receive_time=timestamp(value.received_at),
    )


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


def batch(value: imports.Batch) -> types_pb2.ImportBatch:
    """The wire form of an import batch."""
    return types_pb2.ImportBatch(
        batch_id=value.batch_id,
        schema=value.schema,
        schema_version=value.schema_version,
        status=IMPORT_STATUS.get(value.status, types_pb2.IMPORT_STATUS_UNSPECIFIED),
        rows_total=value.rows_total,
        rows_stored=value.rows_stored,
        rows_quarantined=value.rows_quarantined,
        create_time=timestamp(value.created_at),
    )
