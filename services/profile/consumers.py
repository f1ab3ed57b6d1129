"""Event consumers: translate programme-source events into journey activity, nothing else."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf import message, timestamp_pb2
from sqlalchemy import orm

from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.messaging import events
from services.profile import journeys
from services.profile.domain.journey import Programme
from services.profile.domain.model import PersonRole, Provider
from services.profile.repository import SqlProfileRepository
from services.profile.wire import CEFR_FROM_PROTO
from teei.buddy.v1 import events_pb2 as buddy_events
from teei.common.v1 import types_pb2
from teei.events.v1 import envelope_pb2
from teei.kintell.v1 import events_pb2 as kintell_events
from teei.kintell.v1 import kintell_pb2
from teei.upskilling.v1 import events_pb2 as upskilling_events
from teei.upskilling.v1 import upskilling_pb2

M = TypeVar("M", bound=message.Message)
_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_PROGRAMME = {
    kintell_pb2.SESSION_TYPE_LANGUAGE: Programme.LANGUAGE,
    kintell_pb2.SESSION_TYPE_MENTORSHIP: Programme.MENTORSHIP,
}
_RATER = {types_pb2.PERSON_ROLE_VOLUNTEER: PersonRole.VOLUNTEER}
_COURSE_STATUS = {
    upskilling_pb2.PROGRESS_STATUS_ENROLLED: journeys.CourseStatus.ENROLLED,
    upskilling_pb2.PROGRESS_STATUS_IN_PROGRESS: journeys.CourseStatus.IN_PROGRESS,
    upskilling_pb2.PROGRESS_STATUS_COMPLETED: journeys.CourseStatus.COMPLETED,
    upskilling_pb2.PROGRESS_STATUS_DROPPED: journeys.CourseStatus.DROPPED,
}


def _context(envelope: envelope_pb2.Envelope, session: orm.Session, provider: Provider) -> journeys.Context:
    # The tenant travels in the envelope; a malformed one must never address a company's data.
    if not _TENANT.match(envelope.tenant):
        raise InvalidArgument("event has no valid tenant", violations=[FieldViolation("tenant", "malformed")])
    profiles = SqlProfileRepository(session, company_id=envelope.tenant, causation=envelope)
    return journeys.Context(profiles, envelope.tenant, provider, datetime.now(UTC))


def _payload(envelope: envelope_pb2.Envelope, kind: type[M]) -> M:
    try:
        payload = events.payload_of(envelope)
    except (ValueError, KeyError, message.DecodeError) as exc:
        raise InvalidArgument("event payload cannot be read", violations=[FieldViolation("data", str(exc))]) from exc
    if not isinstance(payload, kind):
        problem = f"expected {kind.DESCRIPTOR.full_name}"
        raise InvalidArgument("event payload has the wrong type", violations=[FieldViolation("data", problem)])
    return payload


def _person(ref: types_pb2.PersonRef) -> journeys.Person:
    return journeys.Person(ref.email, ref.external_id, ref.profile_id, ref.given_name, ref.family_name)


def _time(envelope: envelope_pb2.Envelope, *stamps: timestamp_pb2.Timestamp) -> datetime:
    """The first set occurrence time, else the envelope's time."""
    for stamp in (*stamps, envelope.time):
        if stamp.seconds or stamp.nanos:
            return stamp.ToDatetime(tzinfo=UTC)
    return datetime.now(UTC)


def _programme(session_type: kintell_pb2.SessionType.ValueType) -> Programme:
    programme = _PROGRAMME.get(session_type)
    if programme is None:
        raise InvalidArgument("session type is not set", violations=[FieldViolation("session_type", "required")])
    return programme


def _session(envelope: envelope_pb2.Envelope, payload: Any, *stamps: timestamp_pb2.Timestamp) -> journeys.Session:
    level = CEFR_FROM_PROTO.get(getattr(payload, "language_level", types_pb2.CEFR_LEVEL_UNSPECIFIED))
    return journeys.Session(
        record_id=payload.external_session_id or payload.session_id,
        programme=_programme(payload.session_type),
        participant=_person(payload.participant),
        volunteer=_person(payload.volunteer),
        at=_time(envelope, *stamps),
        level=level,
    )


def on_session_completed(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """kintell.session.completed"""
    payload = _payload(envelope, kintell_events.SessionCompleted)
    activity = _session(envelope, payload, payload.complete_time, payload.schedule_time)
    journeys.session_completed(_context(envelope, session, Provider.KINTELL), activity)


def on_session_scheduled(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """kintell.session.scheduled"""
    payload = _payload(envelope, kintell_events.SessionScheduled)
    activity = _session(envelope, payload, payload.schedule_time)
    journeys.session_scheduled(_context(envelope, session, Provider.KINTELL), activity)


def on_rating_created(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """kintell.rating.created: one rating per session and side."""
    payload = _payload(envelope, kintell_events.RatingCreated)
    by = _RATER.get(payload.rater_role, PersonRole.PARTICIPANT)
    record = f"{payload.external_session_id or payload.session_id}:{by.value}"
    rating = journeys.Contribution(
        record, _person(payload.participant), _person(payload.volunteer), by, _time(envelope, payload.create_time)
    )
    journeys.rating_created(_context(envelope, session, Provider.KINTELL), rating)


def on_match_created(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """buddy.match.created"""
    payload = _payload(envelope, buddy_events.MatchCreated)
    match = journeys.Contribution(
        payload.external_match_id or payload.match_id,
        _person(payload.participant),
        _person(payload.buddy),
        PersonRole.PARTICIPANT,
        _time(envelope, payload.match_time),
    )
    journeys.match_created(_context(envelope, session, Provider.BUDDY), match)


def on_event_logged(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """buddy.event.logged"""
    payload = _payload(envelope, buddy_events.EventLogged)
    attendance = journeys.Attendance(
        payload.external_event_id or payload.event_id,
        tuple(_person(ref) for ref in payload.attendees),
        _time(envelope, payload.event_time),
    )
    journeys.event_logged(_context(envelope, session, Provider.BUDDY), attendance)


def on_checkin_completed(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """buddy.checkin.completed"""
    payload = _payload(envelope, buddy_events.CheckInCompleted)
    checkin = journeys.Contribution(
        payload.checkin_id,
        _person(payload.participant),
        _person(payload.buddy),
        _RATER.get(payload.person_role, PersonRole.PARTICIPANT),
        _time(envelope, payload.checkin_time),
    )
    journeys.checkin_completed(_context(envelope, session, Provider.BUDDY), checkin)


def on_feedback_submitted(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """buddy.feedback.submitted"""
    payload = _payload(envelope, buddy_events.FeedbackSubmitted)
    feedback = journeys.Contribution(
        payload.feedback_id,
        _person(payload.participant),
        _person(payload.buddy),
        _RATER.get(payload.author_role, PersonRole.PARTICIPANT),
        _time(envelope, payload.submit_time),
    )
    journeys.feedback_submitted(_context(envelope, session, Provider.BUDDY), feedback)


def _course(payload: Any) -> str:
    provider = upskilling_pb2.Provider.Name(payload.provider)
    return f"{provider}:{payload.provider_name}:{payload.course_id}"


def on_progress_updated(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """upskilling.progress.updated"""
    payload = _payload(envelope, upskilling_events.ProgressUpdated)
    status = _COURSE_STATUS.get(payload.status)
    if status is None:
        raise InvalidArgument("progress status is not set", violations=[FieldViolation("status", "required")])
    at = _time(envelope, payload.complete_time, payload.update_time, payload.start_time)
    activity = journeys.CourseActivity(
        payload.progress_id, _course(payload), payload.course_name, _person(payload.learner), status, at
    )
    journeys.course_progressed(_context(envelope, session, Provider.UPSKILLING), activity)


def on_course_completed(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """upskilling.course.completed"""
    payload = _payload(envelope, upskilling_events.CourseCompleted)
    activity = journeys.CourseActivity(
        payload.progress_id,
        _course(payload),
        payload.course_name,
        _person(payload.learner),
        journeys.CourseStatus.COMPLETED,
        _time(envelope, payload.complete_time),
    )
    journeys.course_progressed(_context(envelope, session, Provider.UPSKILLING), activity)


def on_credential_issued(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """upskilling.credential.issued"""
    payload = _payload(envelope, upskilling_events.CredentialIssued)
    activity = journeys.CourseActivity(
        payload.external_credential_id or payload.credential_id,
        _course(payload),
        payload.course_name,
        _person(payload.learner),
        journeys.CourseStatus.COMPLETED,
        _time(envelope, payload.issue_time),
    )
    journeys.credential_issued(_context(envelope, session, Provider.UPSKILLING), activity)


HANDLERS: dict[str, Callable[[envelope_pb2.Envelope, orm.Session], None]] = {
    "kintell.session.completed": on_session_completed,
    "kintell.session.scheduled": on_session_scheduled,
    "kintell.rating.created": on_rating_created,
    "buddy.match.created": on_match_created,
    "buddy.event.logged": on_event_logged,
    "buddy.checkin.completed": on_checkin_completed,
    "buddy.feedback.submitted": on_feedback_submitted,
    "upskilling.progress.updated": on_progress_updated,
    "upskilling.course.completed": on_course_completed,
    "upskilling.credential.issued": on_credential_issued,
}

SUBSCRIPTIONS = [
    events.Subscription(consumer=f"profile-{event_type.replace('.', '-')}", event_types=(event_type,), handler=handler)
    for event_type, handler in HANDLERS.items()
]
