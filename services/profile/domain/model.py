"""Profiles: one per person per company, keyed by normalised e-mail, with their identities and journey."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.kit.errors import FieldViolation
from services.kit.identity import profile_id_for_email
from services.profile.domain.errors import (
    CounterOverflow,
    ExternalIdConflict,
    InvalidProfile,
    ProfileEmailTaken,
    ProfileError,
    ProfileNotFound,
)
from services.profile.domain.journey import Journey

__all__ = [
    "CounterOverflow",
    "ExternalId",
    "ExternalIdConflict",
    "InvalidProfile",
    "PersonRole",
    "Profile",
    "ProfileEmailTaken",
    "ProfileError",
    "ProfileNotFound",
    "Provider",
]

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200
MAX_EXTERNAL_ID_LENGTH = 255
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_EXTERNAL_ID = re.compile(r"^[^\x00-\x1f\x7f]+$")


class PersonRole(StrEnum):
    """The role a person plays in the programmes."""

    PARTICIPANT = "participant"
    VOLUNTEER = "volunteer"


class Provider(StrEnum):
    """Programme sources that hold external identities."""

    KINTELL = "kintell"
    BUDDY = "buddy"
    UPSKILLING = "upskilling"
    DISCORD = "discord"


@dataclass(frozen=True, order=True)
class ExternalId:
    """The person's id in one programme source."""

    provider: Provider
    external_id: str


def normalise_email(raw: str) -> str:
    """The primary identity key: trimmed and lower-cased."""
    return raw.strip().lower()


def validate_profile_id(profile_id: str, field_name: str = "profile_id") -> str:
    """Profile ids are UUIDs; anything else is a malformed request, not a missing profile."""
    try:
        return str(uuid.UUID(profile_id))
    except ValueError:
        raise InvalidProfile(
            f"{field_name} is not a valid id", violations=[FieldViolation(field_name, "must be a UUID")]
        ) from None


def validate_external_id(provider: Provider | None, external_id: str) -> ExternalId:
    """A well-formed external identity; raises InvalidProfile naming each bad field."""
    external_id = external_id.strip()
    violations = [] if provider else [FieldViolation("external_id.provider", "is required")]
    if not external_id:
        violations.append(FieldViolation("external_id.external_id", "is required"))
    elif len(external_id) > MAX_EXTERNAL_ID_LENGTH:
        violations.append(FieldViolation("external_id.external_id", f"must be at most {MAX_EXTERNAL_ID_LENGTH}"))
    elif not _EXTERNAL_ID.match(external_id):
        violations.append(FieldViolation("external_id.external_id", "must not contain control characters"))
    if violations or provider is None:
        raise InvalidProfile("the external id is invalid", violations=violations)
    return ExternalId(provider, external_id)


@dataclass
class Profile:
    """A person in one company: identity fields, external identities and journey."""

    profile_id: str
    company_id: str
    email: str
    given_name: str
    family_name: str
    role: PersonRole
    created_at: datetime
    updated_at: datetime
    external_ids: list[ExternalId] = field(default_factory=list)
    journey: Journey = field(default_factory=Journey)
    merged_into: str | None = None

    @classmethod
    def register(
        cls, *, company_id: str, email: str, given_name: str, family_name: str, role: PersonRole, now: datetime
    ) -> Profile:
        """A new profile, validated; raises InvalidProfile naming every bad field."""
        email = normalise_email(email)
        given_name, family_name = given_name.strip(), family_name.strip()
        violations = (
            check_email(email) + _check_name("given_name", given_name) + _check_name("family_name", family_name)
        )
        if violations:
            raise InvalidProfile("the profile is invalid", violations=violations)
        # The id is derived from (company, e-mail), so other services name the person without a call.
        profile_id = profile_id_for_email(company_id, email)
        return cls(profile_id, company_id, email, given_name, family_name, role, now, now)


def live(profile: Profile | None, profile_id: str) -> Profile:
    """The profile when it exists and was not merged away; else ProfileNotFound (naming the survivor)."""
    if profile is None:
        raise ProfileNotFound("profile not found", metadata={"profile_id": profile_id})
    if profile.merged_into is not None:
        raise ProfileNotFound(
            "profile was merged into another profile",
            metadata={"profile_id": profile_id, "merged_into": profile.merged_into},
        )
    return profile


def check_email(email: str, field_name: str = "email") -> list[FieldViolation]:
    """Violations of a normalised e-mail (empty when it is well-formed)."""
    if not email:
        return [FieldViolation(field_name, "is required")]
    if len(email) > MAX_EMAIL_LENGTH:
        return [FieldViolation(field_name, f"must be at most {MAX_EMAIL_LENGTH} characters")]
    if not _EMAIL.match(email):
        return [FieldViolation(field_name, "is not an e-mail address")]
    return []


def _check_name(field_name: str, value: str) -> list[FieldViolation]:
    if len(value) > MAX_NAME_LENGTH:
        return [FieldViolation(field_name, f"must be at most {MAX_NAME_LENGTH} characters")]
    return []
