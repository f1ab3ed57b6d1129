"""Event consumers: translate programme-source events into journey activity, nothing else."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf import message, timestamp_pb2
from sqlalchemy import orm

from services.kit import tenants
from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.messaging import erasures, events
from services.profile import handlers, privacy
from services.profile.domain import activity
from services.profile.domain.activity import CourseStatus, PersonChange
from services.profile.domain.commands import RecordActivity
from services.profile.domain.journey import Programme
from services.profile.domain.model import PersonRole, Provider
from services.profile.repository import DeliveryUnitOfWork
from services.profile.wire import CEFR_FROM_PROTO
from teei.buddy.v1 import events_pb2 as buddy_events
from teei.common.v1 import types_pb2
from teei.events.v1 import envelope_pb2
from teei.kintell.v1 import events_pb2 as kintell_events
from teei.kintell.v1 import kintell_pb2
from teei.upskilling.v1 import events_pb2 as upskilling_events
from teei.upskilling.v1 import upskilling_pb2

M = TypeVar("M", bound=message.Message)
KintellSession = kintell_events.SessionCompleted | kintell_events.SessionScheduled
Course = upskilling_events.ProgressUpdated | upskilling_events.CourseCompleted | upskilling_events.CredentialIssued
_PROGRAMME = {
    kintell_pb2.SESSION_TYPE_LANGUAGE: Programme.LANGUAGE,
    kintell_pb2.SESSION_TYPE_MENTORSHIP: Programme.MENTORSHIP,
}
_RATER = {types_pb2.PERSON_ROLE_VOLUNTEER: PersonRole.VOLUNTEER}
_COURSE_STATUS = {
    upskilling_pb2.PROGRESS_STATUS_ENROLLED: CourseStatus.ENROLLED,
    upskilling_pb2.PROGRESS_STATUS_IN_PROGRESS: CourseStatus.IN_PROGRESS,
    upskilling_pb2.PROGRESS_STATUS_COMPLETED: CourseStatus.COMPLETED,
    upskilling_pb2.PROGRESS_STATUS_DROPPED: CourseStatus.DROPPED,
}


def _record(
    envelope: envelope_pb2.Envelope, session: orm.Session, provider: Provider, changes: Iterable[PersonChange]
) -> None:
    # The tenant travels in the envelope; a malformed one must never address a company's data.
    if not tenants.is_tenant(envelope.tenant):
        raise InvalidArgument("event has no valid tenant", violations=[FieldViolation("tenant", "malformed")])
    command = RecordActivity(envelope.tenant, provider, tuple(changes))
    handlers.record_activity(command, uow=DeliveryUnitOfWork(session, causation=envelope))


def _payload(envelope: envelope_pb2.Envelope, kind: type[M]) -> M:
    try:
        payload = events.payload_of(envelope)
    except (ValueError, KeyError, message.DecodeError) as exc:
        raise InvalidArgument("event payload cannot be read", violations=[FieldViolation("data", str(exc))]) from exc
    if not isinstance(payload, kind):
        problem = f"expected {kind.DESCRIPTOR.full_name}"
        raise InvalidArgument("event payload has the wrong type", violations=[FieldViolation("data", problem)])
    return payload


def _person(ref: types_pb2.PersonRef) -> activity.Person:
    return activity.Person(ref.email, ref.external_id, ref.profile_id, ref.given_name, ref.family_name)


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


def _session(
    envelope: envelope_pb2.Envelope, payload: KintellSession, *stamps: timestamp_pb2.Timestamp
) -> activity.Session:
    level = CEFR_FROM_PROTO.get(getattr(payload, "language_level", types_pb2.CEFR_LEVEL_UNSPECIFIED))
    return activity.Session(
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
    completed = _session(envelope, payload, payload.complete_time, payload.schedule_time)
    _record(envelope, session, Provider.KINTELL, activity.session_completed(completed))


def on_session_scheduled(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """kintell.session.scheduled"""
    payload = _payload(envelope, kintell_events.SessionScheduled)
    scheduled = _session(envelope, payload, payload.schedule_time)
    _record(envelope, session, Provider.KINTELL, activity.session_scheduled(scheduled))


def on_rating_created(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """kintell.rating.created: one rating per session and side."""
    payload = _payload(envelope, kintell_events.RatingCreated)
    by = _RATER.get(payload.rater_role, PersonRole.PARTICIPANT)
    record = f"{payload.external_session_id or payload.session_id}:{by.value}"
    rating = activity.Contribution(
        record, _person(payload.participant), _person(payload.volunteer), by, _time(envelope, payload.create_time)
    )
    _record(envelope, session, Provider.KINTELL, activity.rating_created(rating))


def _buddy(
    envelope: envelope_pb2.Envelope,
    record_id: str,
    pair: buddy_events.MatchCreated | buddy_events.CheckInCompleted | buddy_events.FeedbackSubmitted,
    by: types_pb2.PersonRole.ValueType,
    at: timestamp_pb2.Timestamp,
) -> activity.Contribution:
    """What one side of a buddy pair did: `by` names the side, a participant unless it is the buddy."""
    return activity.Contribution(
        record_id,
        _person(pair.participant),
        _person(pair.buddy),
        _RATER.get(by, PersonRole.PARTICIPANT),
        _time(envelope, at),
    )


def on_match_created(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """buddy.match.created"""
    payload = _payload(envelope, buddy_events.MatchCreated)
    record_id = payload.external_match_id or payload.match_id
    match = _buddy(envelope, record_id, payload, types_pb2.PERSON_ROLE_PARTICIPANT, payload.match_time)
    _record(envelope, session, Provider.BUDDY, activity.match_created(match))


def on_event_logged(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """buddy.event.logged"""
    payload = _payload(envelope, buddy_events.EventLogged)
    attendance = activity.Attendance(
        payload.external_event_id or payload.event_id,
        tuple(_person(ref) for ref in payload.attendees),
        _time(envelope, payload.event_time),
    )
    _record(envelope, session, Provider.BUDDY, activity.event_logged(attendance))


def on_checkin_completed(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """buddy.checkin.completed"""
    payload = _payload(envelope, buddy_events.CheckInCompleted)
    checkin = _buddy(envelope, payload.checkin_id, payload, payload.person_role, payload.checkin_time)
    _record(envelope, session, Provider.BUDDY, activity.checkin_completed(checkin))


def on_feedback_submitted(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """buddy.feedback.submitted"""
    payload = _payload(envelope, buddy_events.FeedbackSubmitted)
    feedback = _buddy(envelope, payload.feedback_id, payload, payload.author_role, payload.submit_time)
    _record(envelope, session, Provider.BUDDY, activity.feedback_submitted(feedback))


def _course(payload: Course, record_id: str, status: CourseStatus, at: datetime) -> activity.CourseActivity:
    """One learner's activity in one course, the course named by its provider, provider name and id."""
    course = f"{upskilling_pb2.Provider.Name(payload.provider)}:{payload.provider_name}:{payload.course_id}"
    return activity.CourseActivity(record_id, course, payload.course_name, _person(payload.learner), status, at)


def on_progress_updated(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """upskilling.progress.updated"""
    payload = _payload(envelope, upskilling_events.ProgressUpdated)
    status = _COURSE_STATUS.get(payload.status)
    if status is None:
        raise InvalidArgument("progress status is not set", violations=[FieldViolation("status", "required")])
    at = _time(envelope, payload.complete_time, payload.update_time, payload.start_time)
    progress = _course(payload, payload.progress_id, status, at)
    _record(envelope, session, Provider.UPSKILLING, activity.course_progressed(progress))


def on_course_completed(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """upskilling.course.completed"""
    payload = _payload(envelope, upskilling_events.CourseCompleted)
    at = _time(envelope, payload.complete_time)
    completed = _course(payload, payload.progress_id, CourseStatus.COMPLETED, at)
    _record(envelope, session, Provider.UPSKILLING, activity.course_progressed(completed))


def on_credential_issued(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
    """upskilling.credential.issued"""
    payload = _payload(envelope, upskilling_events.CredentialIssued)
    record_id = payload.external_credential_id or payload.credential_id
    issued = _course(payload, record_id, CourseStatus.COMPLETED, _time(envelope, payload.issue_time))
    _record(envelope, session, Provider.UPSKILLING, activity.credential_issued(issued))


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
# Whatever was re-learnt about a person the platform erased (an event still in flight) goes again.
SUBSCRIPTIONS.append(erasures.subscription(privacy.MAP))
