"""Domain ⇄ protobuf for the Kintell connector: the RPC messages and the event payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from services.kintell.domain.model import (
    CEFR_LEVELS,
    Channel,
    Person,
    Provenance,
    RaterRole,
    Rating,
    Session,
    SessionStatus,
    SessionType,
)
from services.kit.connectors import imports
from services.kit.connectors.csvimport import RowError
from teei.common.v1 import types_pb2
from teei.kintell.v1 import events_pb2, kintell_pb2

SESSION_TYPES = {
    SessionType.LANGUAGE: kintell_pb2.SESSION_TYPE_LANGUAGE,
    SessionType.MENTORSHIP: kintell_pb2.SESSION_TYPE_MENTORSHIP,
}
STATUSES = {
    SessionStatus.SCHEDULED: kintell_pb2.SESSION_STATUS_SCHEDULED,
    SessionStatus.COMPLETED: kintell_pb2.SESSION_STATUS_COMPLETED,
}
_ROLES = {
    RaterRole.PARTICIPANT: types_pb2.PERSON_ROLE_PARTICIPANT,
    RaterRole.VOLUNTEER: types_pb2.PERSON_ROLE_VOLUNTEER,
}
_CHANNELS = {Channel.CSV_IMPORT: types_pb2.INGEST_CHANNEL_CSV_IMPORT, Channel.WEBHOOK: types_pb2.INGEST_CHANNEL_WEBHOOK}
_CEFR = {level: types_pb2.CefrLevel.Value(f"CEFR_LEVEL_{level}") for level in CEFR_LEVELS}
_IMPORT_STATUSES = {
    imports.COMPLETED: types_pb2.IMPORT_STATUS_COMPLETED,
    imports.COMPLETED_WITH_ERRORS: types_pb2.IMPORT_STATUS_COMPLETED_WITH_ERRORS,
}


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """A protobuf timestamp of an aware datetime."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def cefr(level: str) -> types_pb2.CefrLevel.ValueType:
    """The CEFR enum value of "A1".."C2" (UNSPECIFIED when unknown)."""
    return _CEFR.get(level, types_pb2.CEFR_LEVEL_UNSPECIFIED)


def person(value: Person) -> types_pb2.PersonRef:
    """A party of a session as the contracts carry it."""
    return types_pb2.PersonRef(
        email=value.email, external_id=value.external_id, given_name=value.given_name, family_name=value.family_name
    )


def provenance(value: Provenance) -> types_pb2.Provenance:
    """Where a record came from."""
    return types_pb2.Provenance(
        channel=_CHANNELS[value.channel],
        import_batch_id=value.batch_id,
        delivery_id=value.delivery_id,
        receive_time=timestamp(value.received_at),
    )


def session(value: Session, ratings: list[Rating]) -> kintell_pb2.Session:
    """The wire form of a stored session with its ratings."""
    facts = value.facts
    message = kintell_pb2.Session(
        session_id=value.session_id,
        external_session_id=facts.external_session_id,
        session_type=SESSION_TYPES[facts.session_type],
        status=STATUSES[value.status],
        participant=person(facts.participant),
        volunteer=person(facts.volunteer),
        schedule_time=timestamp(facts.scheduled_at),
        duration_minutes=facts.duration_minutes or 0,
        feedback_text=facts.feedback_text,
        language_level=cefr(facts.language_level),
        topics=facts.topics,
        focus_area=facts.focus_area,
        goals_discussed=facts.goals_discussed,
        ratings=[rating(r, value) for r in ratings],
        provenance=provenance(value.provenance),
        create_time=timestamp(value.created_at),
        update_time=timestamp(value.updated_at),
    )
    if facts.completed_at is not None:
        message.complete_time.CopyFrom(timestamp(facts.completed_at))
    if facts.rating is not None:
        message.rating = facts.rating
    if facts.metadata is not None:
        message.metadata.CopyFrom(_struct(facts.metadata))
    return message


def rating(value: Rating, rated: Session) -> kintell_pb2.Rating:
    """The wire form of a rating of `rated`."""
    rater = rated.facts.participant if value.rater_role is RaterRole.PARTICIPANT else rated.facts.volunteer
    return kintell_pb2.Rating(
        rating_id=value.rating_id,
        external_rating_id=value.external_rating_id,
        session_id=value.session_id,
        external_session_id=rated.facts.external_session_id,
        rater_role=_ROLES[value.rater_role],
        rater=person(rater),
        rating=value.rating,
        feedback_text=value.feedback_text,
        create_time=timestamp(value.given_at),
    )


def session_completed(value: Session) -> events_pb2.SessionCompleted:
    """The `kintell.session.completed` payload of a completed session."""
    facts = value.facts
    assert facts.completed_at is not None  # only completed sessions are announced as such
    payload = events_pb2.SessionCompleted(
        session_id=value.session_id,
        external_session_id=facts.external_session_id,
        session_type=SESSION_TYPES[facts.session_type],
        participant=person(facts.participant),
        volunteer=person(facts.volunteer),
        schedule_time=timestamp(facts.scheduled_at),
        complete_time=timestamp(facts.completed_at),
        duration_minutes=facts.duration_minutes or 0,
        feedback_text=facts.feedback_text,
        language_level=cefr(facts.language_level),
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
        session_id=value.session_id,
        external_session_id=facts.external_session_id,
        session_type=SESSION_TYPES[facts.session_type],
        participant=person(facts.participant),
        volunteer=person(facts.volunteer),
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
        session_id=rated.session_id,
        external_session_id=rated.facts.external_session_id,
        session_type=SESSION_TYPES[rated.facts.session_type],
        participant=person(rated.facts.participant),
        volunteer=person(rated.facts.volunteer),
        rater_role=_ROLES[value.rater_role],
        rating=value.rating,
        feedback_text=value.feedback_text,
        create_time=timestamp(value.given_at),
        provenance=provenance(value.provenance),
    )


def import_batch(batch: imports.Batch) -> types_pb2.ImportBatch:
    """The wire form of an import batch."""
    return types_pb2.ImportBatch(
        batch_id=batch.batch_id,
        schema=batch.schema,
        schema_version=batch.schema_version,
        status=_IMPORT_STATUSES.get(batch.status, types_pb2.IMPORT_STATUS_UNSPECIFIED),
        rows_total=batch.rows_total,
        rows_stored=batch.rows_stored,
        rows_quarantined=batch.rows_quarantined,
        create_time=timestamp(batch.created_at),
    )


def row_error(error: RowError) -> types_pb2.RowError:
    """One rejected field of a row."""
    return types_pb2.RowError(row=error.row, field=error.field, message=error.message, value=error.value)


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message
