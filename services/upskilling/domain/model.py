"""Normalised learning records: course progress per person and course, and credentials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.kit.connectors.model import Provenance


class Provider(StrEnum):
    """Course providers; any provider other than the named ones uses the generic shape."""

    ECORNELL = "ecornell"
    ITSLEARNING = "itslearning"
    GENERIC = "generic"


class ProgressStatus(StrEnum):
    """Where a learner stands in a course."""

    ENROLLED = "enrolled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    DROPPED = "dropped"


class CredentialType(StrEnum):
    """Kinds of credential."""

    CERTIFICATE = "certificate"
    BADGE = "badge"
    DIPLOMA = "diploma"
    TRANSCRIPT = "transcript"


@dataclass(frozen=True)
class Learner:
    """A person as the provider identifies them: e-mail (normalised) and/or the provider's user id."""

    email: str = ""
    external_id: str = ""
    given_name: str = ""
    family_name: str = ""
    profile_id: str = ""

    @property
    def key(self) -> str:
        """The identity a record is first keyed by: the e-mail when known, else the provider's id."""
        return f"email:{self.email}" if self.email else f"external:{self.external_id}"

    def merged(self, newer: Learner) -> Learner:
        """This learner with the identifiers a newer report adds (never blanking a known one)."""
        return Learner(
            email=newer.email or self.email,
            external_id=newer.external_id or self.external_id,
            given_name=newer.given_name or self.given_name,
            family_name=newer.family_name or self.family_name,
            profile_id=self.profile_id,
        )


@dataclass(frozen=True)
class Course:
    """A course of a provider; `provider_name` is the generic provider's own name, else empty."""

    provider: Provider
    provider_name: str
    course_id: str
    course_name: str = ""
    course_url: str = ""


@dataclass(frozen=True)
class ProgressReport:
    """What a provider says about one learner in one course (before it is applied)."""

    course: Course
    learner: Learner
    status: ProgressStatus
    reported_at: datetime
    percent: float | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    final_score: float | None = None
    metadata: dict[str, object] | None = None


@dataclass
class Progress:
    """The stored learning progress of one learner in one course."""

    progress_id: str
    company_id: str
    course: Course
    learner: Learner
    learner_key: str
    status: ProgressStatus
    percent: float
    started_at: datetime | None
    completed_at: datetime | None
    final_score: float | None
    metadata: dict[str, object]
    source: Provenance
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class CredentialReport:
    """A credential a provider says it issued."""

    course: Course
    learner: Learner
    credential_type: CredentialType
    issued_at: datetime
    external_credential_id: str = ""
    expires_at: datetime | None = None
    url: str = ""
    verification_code: str = ""

    @property
    def key(self) -> str:
        """Identity of the credential at its provider: its id, else the course, holder and type."""
        if self.external_credential_id:
            return f"id:{self.external_credential_id}"
        return f"course:{self.course.course_id}|{self.learner.key}|{self.credential_type}"


@dataclass
class Credential:
    """A stored credential."""

    credential_id: str
    company_id: str
    credential_key: str
    external_credential_id: str
    course: Course
    learner: Learner
    credential_type: CredentialType
    issued_at: datetime
    expires_at: datetime | None
    url: str
    verification_code: str
    source: Provenance
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    """A validated webhook delivery, normalised: the provider's event id and what it reports."""

    provider: Provider
    event_id: str
    event_type: str
    occurred_at: datetime
    progress: ProgressReport | None = None
    credential: CredentialReport | None = None
