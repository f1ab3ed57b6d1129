"""The three provider payload shapes, each normalised into one Delivery (see docs/connectors/upskilling.md).

- eCornell: event_type (enrollment.created | course.started | course.completed | certificate.issued),
  event_id, timestamp, user {external_id, email, names {first, last}}, course {id, name, url},
  progress {status, percent_complete, started_at, completed_at}, certificate {id, url, issued_at}.
- itslearning: eventType (CourseEnrollment | CourseProgress | CourseCompletion), eventId, timestamp,
  userId, userEmail, courseId, courseName, status, progressPercentage, startDate, completionDate,
  certificateUrl.
- generic: event_type, event_id, timestamp, provider, user_identifier (e-mail or external id),
  course_id, course_name, status, progress_percent, started_at, completed_at, metadata.
The event type implies a status; an explicit status that contradicts it is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.upskilling.domain.model import (
    Course,
    CredentialReport,
    CredentialType,
    Delivery,
    Learner,
    ProgressReport,
    ProgressStatus,
    Provider,
)
from services.upskilling.domain.payload import MAX_NAME, Fields

_ECORNELL_EVENTS: dict[str, ProgressStatus | None] = {
    "enrollment.created": ProgressStatus.ENROLLED,
    "course.started": ProgressStatus.IN_PROGRESS,
    "course.completed": ProgressStatus.COMPLETED,
    "certificate.issued": None,
}
_ITSLEARNING_EVENTS: dict[str, ProgressStatus | None] = {
    "CourseEnrollment": ProgressStatus.ENROLLED,
    "CourseProgress": None,
    "CourseCompletion": ProgressStatus.COMPLETED,
}


def normalise(provider: Provider, data: dict[str, Any]) -> Delivery:
    """The delivery a provider's payload describes; raises InvalidWebhook naming every bad field."""
    fields = Fields(data)
    delivery = _NORMALISERS[provider](fields)
    fields.raise_if_invalid(f"the {provider} webhook payload is invalid")
    return delivery


def _event_type(
    fields: Fields, name: str, known: dict[str, ProgressStatus | None]
) -> tuple[str, ProgressStatus | None]:
    event_type = fields.text(name, required=True, max_length=100)
    if event_type and event_type not in known:
        fields.fail(name, f"must be one of {', '.join(known)}")
    return event_type, known.get(event_type)


def _status(fields: Fields, name: str, implied: ProgressStatus | None, event_type: str) -> ProgressStatus | None:
    given = fields.status(name)
    if given is not None and implied is not None and given is not implied:
        fields.fail(name, f"{given} contradicts the event type {event_type}")
    return implied or given


def _dates(fields: Fields, start: str, end: str) -> tuple[datetime | None, datetime | None]:
    started, completed = fields.timestamp(start), fields.timestamp(end)
    if started and completed and completed < started:
        fields.fail(end, f"must not be before {fields.path(start)}")
    return started, completed


def _ecornell(fields: Fields) -> Delivery:
    event_type, implied = _event_type(fields, "event_type", _ECORNELL_EVENTS)
    event_id, occurred = fields.identifier("event_id", required=True), fields.timestamp("timestamp", required=True)
    learner = _ecornell_user(fields.child("user", required=True))
    course = _ecornell_course(fields.child("course", required=True))
    progress = fields.child("progress")
    status = _status(progress, "status", implied, event_type) if progress else implied
    percent = progress.percent("percent_complete") if progress else None
    started, completed = _dates(progress, "started_at", "completed_at") if progress else (None, None)
    certificate = fields.child("certificate", required=event_type == "certificate.issued")
    if occurred is None or learner is None or course is None:
        return _invalid(Provider.ECORNELL)
    report = _progress(course, learner, status, occurred, percent=percent, started=started, completed=completed)
    credential = None
    if certificate is not None:
        credential = CredentialReport(
            course=course,
            learner=learner,
            credential_type=CredentialType.CERTIFICATE,
            external_credential_id=certificate.identifier("id", required=True),
            url=certificate.url("url"),
            issued_at=certificate.timestamp("issued_at") or occurred,
        )
    return Delivery(Provider.ECORNELL, event_id, event_type, occurred, report, credential)


def _ecornell_user(user: Fields | None) -> Learner | None:
    if user is None:
        return None
    names = user.child("names")
    learner = Learner(
        email=user.email("email"),
        external_id=user.identifier("external_id"),
        given_name=names.text("first", max_length=200) if names else "",
        family_name=names.text("last", max_length=200) if names else "",
    )
    return _identified(user, learner, "email", "external_id")


def _ecornell_course(course: Fields | None) -> Course | None:
    if course is None:
        return None
    return Course(
        provider=Provider.ECORNELL,
        provider_name="",
        course_id=course.identifier("id", required=True),
        course_name=course.text("name", max_length=MAX_NAME),
        course_url=course.url("url"),
    )


def _itslearning(fields: Fields) -> Delivery:
    event_type, implied = _event_type(fields, "eventType", _ITSLEARNING_EVENTS)
    event_id, occurred = fields.identifier("eventId", required=True), fields.timestamp("timestamp", required=True)
    learner = _identified(
        fields, Learner(email=fields.email("userEmail"), external_id=fields.identifier("userId")), "userEmail", "userId"
    )
    course = Course(
        provider=Provider.ITSLEARNING,
        provider_name="",
        course_id=fields.identifier("courseId", required=True),
        course_name=fields.text("courseName", max_length=MAX_NAME),
    )
    status = _status(fields, "status", implied, event_type)
    if event_type == "CourseProgress" and status is None:
        status = ProgressStatus.IN_PROGRESS
    percent = fields.percent("progressPercentage")
    started, completed = _dates(fields, "startDate", "completionDate")
    certificate_url = fields.url("certificateUrl")
    if occurred is None or learner is None:
        return _invalid(Provider.ITSLEARNING)
    report = _progress(course, learner, status, occurred, percent=percent, started=started, completed=completed)
    credential = None
    if certificate_url:
        credential = CredentialReport(
            course=course,
            learner=learner,
            credential_type=CredentialType.CERTIFICATE,
            url=certificate_url,
            issued_at=completed or occurred,
        )
    return Delivery(Provider.ITSLEARNING, event_id, event_type, occurred, report, credential)


def _generic(fields: Fields) -> Delivery:
    event_type = fields.text("event_type", required=True, max_length=100)
    event_id, occurred = fields.identifier("event_id", required=True), fields.timestamp("timestamp", required=True)
    course = Course(
        provider=Provider.GENERIC,
        provider_name=fields.text("provider", required=True, max_length=100).lower(),
        course_id=fields.identifier("course_id", required=True),
        course_name=fields.text("course_name", max_length=MAX_NAME),
    )
    identifier = fields.text("user_identifier", required=True)
    learner = Learner(email=fields.email("user_identifier")) if "@" in identifier else Learner(external_id=identifier)
    status = fields.status("status", required=True)
    percent = fields.percent("progress_percent")
    started, completed = _dates(fields, "started_at", "completed_at")
    metadata = fields.json_object("metadata")
    if occurred is None:
        return _invalid(Provider.GENERIC)
    report = _progress(
        course, learner, status, occurred, percent=percent, started=started, completed=completed, metadata=metadata
    )
    return Delivery(Provider.GENERIC, event_id, event_type, occurred, report)


def _identified(fields: Fields, learner: Learner, email: str, external_id: str) -> Learner | None:
    if learner.email or learner.external_id:
        return learner
    if not any(v.field in (fields.path(email), fields.path(external_id)) for v in fields.violations):
        fields.fail(email, f"is required when {fields.path(external_id)} is absent")
    return None


def _progress(
    course: Course,
    learner: Learner,
    status: ProgressStatus | None,
    occurred: datetime,
    *,
    percent: float | None,
    started: datetime | None,
    completed: datetime | None,
    metadata: dict[str, Any] | None = None,
) -> ProgressReport | None:
    if status is None:
        return None
    return ProgressReport(
        course=course,
        learner=learner,
        status=status,
        reported_at=occurred,
        percent=percent,
        started_at=started,
        completed_at=completed if status is ProgressStatus.COMPLETED else None,
        metadata=metadata,
    )


def _invalid(provider: Provider) -> Delivery:
    # Only reached with violations recorded: normalise() raises before this value is used.
    return Delivery(provider, "", "", datetime.min)


_NORMALISERS: dict[Provider, Callable[[Fields], Delivery]] = {
    Provider.ECORNELL: _ecornell,
    Provider.ITSLEARNING: _itslearning,
    Provider.GENERIC: _generic,
}
