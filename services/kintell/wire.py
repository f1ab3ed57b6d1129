"""Domain ⇄ protobuf for the Kintell RPC messages."""

from __future__ import annotations

from typing import TypedDict

from google.protobuf import json_format, struct_pb2

from services.kintell.domain.model import CEFR_LEVELS, RaterRole, Rating, Session, SessionStatus, SessionType
from services.kit.connectors.wire import person, provenance, timestamp
from teei.common.v1 import types_pb2
from teei.kintell.v1 import kintell_pb2

SESSION_TYPES = {
    SessionType.LANGUAGE: kintell_pb2.SESSION_TYPE_LANGUAGE,
    SessionType.MENTORSHIP: kintell_pb2.SESSION_TYPE_MENTORSHIP,
}
STATUSES = {
    SessionStatus.SCHEDULED: kintell_pb2.SESSION_STATUS_SCHEDULED,
    SessionStatus.COMPLETED: kintell_pb2.SESSION_STATUS_COMPLETED,
}
SESSION_TYPES_FROM_PROTO = {int(proto): domain for domain, proto in SESSION_TYPES.items()}
STATUSES_FROM_PROTO = {int(proto): domain for domain, proto in STATUSES.items()}
ROLES = {
    RaterRole.PARTICIPANT: types_pb2.PERSON_ROLE_PARTICIPANT,
    RaterRole.VOLUNTEER: types_pb2.PERSON_ROLE_VOLUNTEER,
}
_CEFR = {level: types_pb2.CefrLevel.Value(f"CEFR_LEVEL_{level}") for level in CEFR_LEVELS}


def cefr(level: str) -> types_pb2.CefrLevel.ValueType:
    """The CEFR enum value of "A1".."C2" (UNSPECIFIED when unknown)."""
    return _CEFR.get(level, types_pb2.CEFR_LEVEL_UNSPECIFIED)


class SessionFields(TypedDict):
    """The identity and people of a session, as every Kintell message about it carries them."""

    session_id: str
    external_session_id: str
    session_type: kintell_pb2.SessionType.ValueType
    participant: types_pb2.PersonRef
    volunteer: types_pb2.PersonRef


def session_fields(value: Session) -> SessionFields:
    """The identity and people of a session."""
    facts = value.facts
    return SessionFields(
        session_id=value.session_id,
        external_session_id=facts.external_session_id,
        session_type=SESSION_TYPES[facts.session_type],
        participant=person(facts.participant),
        volunteer=person(facts.volunteer),
    )


def session(value: Session, ratings: list[Rating]) -> kintell_pb2.Session:
    """The wire form of a stored session with its ratings."""
    facts = value.facts
    message = kintell_pb2.Session(
        **session_fields(value),
        status=STATUSES[value.status],
        schedule_time=timestamp(facts.scheduled_at),
        complete_time=timestamp(facts.completed_at),
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
        rater_role=ROLES[value.rater_role],
        rater=person(rater),
        rating=value.rating,
        feedback_text=value.feedback_text,
        create_time=timestamp(value.given_at),
    )


def _struct(values: dict[str, object]) -> struct_pb2.Struct:
    return json_format.ParseDict(values, struct_pb2.Struct())
