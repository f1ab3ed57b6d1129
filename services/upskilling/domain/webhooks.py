"""The three provider payload shapes, read through pydantic models and normalised into one Delivery
(see docs/connectors/upskilling.md).

- eCornell: event_type (enrollment.created | course.started | course.completed | certificate.issued),
  event_id, timestamp, user {external_id, email, names {first, last}}, course {id, name, url},
  progress {status, percent_complete, started_at, completed_at}, certificate {id, url, issued_at}.
- itslearning: eventType (CourseEnrollment | CourseProgress | CourseCompletion), eventId, timestamp,
  userId, userEmail, courseId, courseName, status, progressPercentage, startDate, completionDate,
  certificateUrl.
- generic: event_type, event_id, timestamp, provider, user_identifier (e-mail or external id),
  course_id, course_name, status, progress_percent, started_at, completed_at, metadata.

Every documented field is checked (type, length, range); a null or blank value is not given. Fields
beyond the documented shapes are ignored, so a provider's additions do not break its deliveries. The
event type implies a status; an explicit status that contradicts it is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from services.kit.connectors import payloads
from services.kit.connectors.cells import email
from services.upskilling.domain.errors import InvalidWebhook
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
from services.upskilling.domain.payload_types import (
    CourseName,
    Email,
    Identifier,
    Line,
    Metadata,
    Name,
    Percent,
    ProviderPayload,
    Status,
    Url,
    When,
    check_dates,
    check_learner,
    check_status,
    one_of,
    single_line,
)

ECORNELL_EVENTS: dict[str, ProgressStatus | None] = {
    "enrollment.created": ProgressStatus.ENROLLED,
    "course.started": ProgressStatus.IN_PROGRESS,
    "course.completed": ProgressStatus.COMPLETED,
    "certificate.issued": None,
}
ITSLEARNING_EVENTS: dict[str, ProgressStatus | None] = {
    "CourseEnrollment": ProgressStatus.ENROLLED,
    "CourseProgress": None,
    "CourseCompletion": ProgressStatus.COMPLETED,
}
EventType = Annotated[str, single_line(100)]


class EcornellNames(ProviderPayload):
    """eCornell's `user.names`."""

    first: Name = ""
    last: Name = ""


class EcornellUser(ProviderPayload):
    """eCornell's `user`: an e-mail or eCornell's user id, at least."""

    external_id: Identifier = ""
    email: Email = ""
    names: EcornellNames = EcornellNames()

    @model_validator(mode="after")
    def _identified(self) -> Self:
        check_learner(self.email, self.external_id, email_field="email", id_field="user.external_id")
        return self

    def learner(self) -> Learner:
        """The learner this user is."""
        return Learner(self.email, self.external_id, self.names.first, self.names.last)


class EcornellCourse(ProviderPayload):
    """eCornell's `course`."""

    id: Identifier
    name: CourseName = ""
    url: Url = ""


class EcornellProgress(ProviderPayload):
    """eCornell's `progress`."""

    status: Status | None = None
    percent_complete: Percent | None = None
    started_at: When | None = None
    completed_at: When | None = None

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        check_dates(self.started_at, self.completed_at, start="progress.started_at", end="completed_at")
        return self


class EcornellCertificate(ProviderPayload):
    """eCornell's `certificate`."""

    id: Identifier
    url: Url = ""
    issued_at: When | None = None


class Ecornell(ProviderPayload):
    """An eCornell delivery."""

    event_type: Annotated[EventType, one_of(*ECORNELL_EVENTS)]
    event_id: Identifier
    timestamp: When
    user: EcornellUser
    course: EcornellCourse
    progress: EcornellProgress = EcornellProgress()
    certificate: EcornellCertificate | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_status(self.progress.status, self.implied, self.event_type, at="progress.status")
        if self.event_type == "certificate.issued" and self.certificate is None:
            raise payloads.fault("is required", field="certificate")
        return self

    @property
    def implied(self) -> ProgressStatus | None:
        """The status the event type implies."""
        return ECORNELL_EVENTS[self.event_type]

    def delivery(self) -> Delivery:
        """The normalised delivery."""
        p, learner = self.progress, self.user.learner()
        course = Course(Provider.ECORNELL, "", self.course.id, self.course.name, self.course.url)
        status = self.implied or p.status
        report = _progress(
            course,
            learner,
            status,
            self.timestamp,
            percent=p.percent_complete,
            started=p.started_at,
            completed=p.completed_at,
        )
        credential = None
        if self.certificate is not None:
            issued = self.certificate.issued_at or self.timestamp
            credential = _certificate(course, learner, self.certificate.url, issued, self.certificate.id)
        return Delivery(Provider.ECORNELL, self.event_id, self.event_type, self.timestamp, report, credential)


class Itslearning(ProviderPayload):
    """An itslearning delivery."""

    event_type: Annotated[EventType, one_of(*ITSLEARNING_EVENTS)] = Field(alias="eventType")
    event_id: Identifier = Field(alias="eventId")
    timestamp: When
    user_id: Identifier = Field("", alias="userId")
    user_email: Email = Field("", alias="userEmail")
    course_id: Identifier = Field(alias="courseId")
    course_name: CourseName = Field("", alias="courseName")
    status: Status | None = None
    percent: Percent | None = Field(None, alias="progressPercentage")
    started_at: When | None = Field(None, alias="startDate")
    completed_at: When | None = Field(None, alias="completionDate")
    certificate_url: Url = Field("", alias="certificateUrl")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_learner(self.user_email, self.user_id, email_field="userEmail", id_field="userId")
        check_status(self.status, ITSLEARNING_EVENTS[self.event_type], self.event_type, at="status")
        check_dates(self.started_at, self.completed_at, start="startDate", end="completionDate")
        return self

    def delivery(self) -> Delivery:
        """The normalised delivery; CourseProgress without a status means in progress."""
        status = ITSLEARNING_EVENTS[self.event_type] or self.status
        if self.event_type == "CourseProgress" and status is None:
            status = ProgressStatus.IN_PROGRESS
        learner = Learner(email=self.user_email, external_id=self.user_id)
        course = Course(Provider.ITSLEARNING, "", self.course_id, self.course_name)
        report = _progress(
            course,
            learner,
            status,
            self.timestamp,
            percent=self.percent,
            started=self.started_at,
            completed=self.completed_at,
        )
        credential = None
        if self.certificate_url:
            issued = self.completed_at or self.timestamp
            credential = _certificate(course, learner, self.certificate_url, issued)
        return Delivery(Provider.ITSLEARNING, self.event_id, self.event_type, self.timestamp, report, credential)


def _identifier(value: str) -> str:
    # An identifier with an @ is an e-mail (checked and normalised as one), anything else the provider's id.
    return email(value) if "@" in value else value


class Generic(ProviderPayload):
    """A delivery of any other provider."""

    event_type: EventType
    event_id: Identifier
    timestamp: When
    provider: Annotated[str, single_line(100)]
    user_identifier: Annotated[Line, AfterValidator(_identifier)]
    course_id: Identifier
    course_name: CourseName = ""
    status: Status
    progress_percent: Percent | None = None
    started_at: When | None = None
    completed_at: When | None = None
    metadata: Metadata | None = None

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        check_dates(self.started_at, self.completed_at, start="started_at", end="completed_at")
        return self

    def delivery(self) -> Delivery:
        """The normalised delivery."""
        identifier = self.user_identifier
        learner = Learner(email=identifier) if "@" in identifier else Learner(external_id=identifier)
        course = Course(Provider.GENERIC, self.provider.lower(), self.course_id, self.course_name)
        report = _progress(
            course,
            learner,
            self.status,
            self.timestamp,
            percent=self.progress_percent,
            started=self.started_at,
            completed=self.completed_at,
            metadata=self.metadata,
        )
        return Delivery(Provider.GENERIC, self.event_id, self.event_type, self.timestamp, report)


PROVIDERS: dict[Provider, type[ProviderPayload]] = {
    Provider.ECORNELL: Ecornell,
    Provider.ITSLEARNING: Itslearning,
    Provider.GENERIC: Generic,
}


def _progress(
    course: Course,
    learner: Learner,
    status: ProgressStatus | None,
    occurred: datetime,
    *,
    percent: float | None,
    started: datetime | None,
    completed: datetime | None,
    metadata: dict[str, object] | None = None,
) -> ProgressReport | None:
    if status is None:
        return None
    completed = completed if status is ProgressStatus.COMPLETED else None
    return ProgressReport(course, learner, status, occurred, percent, started, completed, metadata=metadata)


def _certificate(
    course: Course, learner: Learner, url: str, issued: datetime, external_id: str = ""
) -> CredentialReport:
    return CredentialReport(course, learner, CredentialType.CERTIFICATE, issued, external_id, url=url)


def normalise(provider: Provider, body: bytes) -> Delivery:
    """The delivery a provider's body describes; raises InvalidWebhook naming every bad field."""
    model = PROVIDERS[provider]
    return payloads.read(model, body, invalid=InvalidWebhook, what=f"{provider} webhook").delivery()
