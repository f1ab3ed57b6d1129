"""Commands and queries the profile service handles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.profile.domain.activity import PersonChange
from services.profile.domain.journey import EnrolmentStatus, Programme
from services.profile.domain.model import PersonRole, Provider


@dataclass(frozen=True)
class CreateProfile:
    """Register a person in a company."""

    company_id: str
    email: str
    given_name: str
    family_name: str
    role: PersonRole


@dataclass(frozen=True)
class GetProfile:
    """Read one profile of a company."""

    company_id: str
    profile_id: str


@dataclass(frozen=True)
class ListProfiles:
    """A page of a company's profiles, optionally only the one with this e-mail."""

    company_id: str
    email: str = ""
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class LinkExternalId:
    """Bind a programme source's id of the person to a profile."""

    company_id: str
    profile_id: str
    provider: Provider | None
    external_id: str


@dataclass(frozen=True)
class MergeProfiles:
    """Fold a duplicate profile into a surviving one, audited."""

    company_id: str
    profile_id: str
    duplicate_profile_id: str
    reason: str
    actor: str


@dataclass(frozen=True)
class UpsertEnrolment:
    """Set a profile's enrolment in one programme."""

    company_id: str
    profile_id: str
    programme: Programme | None
    status: EnrolmentStatus | None
    start_at: datetime | None = None
    end_at: datetime | None = None


@dataclass(frozen=True)
class SetJourneyFlag:
    """Set a journey flag."""

    company_id: str
    profile_id: str
    flag: str
    value: bool


@dataclass(frozen=True)
class IncrementCounter:
    """Add delta to a counter; a request id makes a replay count once."""

    company_id: str
    profile_id: str
    counter: str
    delta: int
    request_id: str = ""


@dataclass(frozen=True)
class RecordActivity:
    """Apply one programme-source record to every person it names."""

    company_id: str
    provider: Provider
    changes: tuple[PersonChange, ...]
