"""Profiles: one per person per company, keyed by normalised e-mail."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.kit.errors import AlreadyExists, DomainError, FieldViolation, InvalidArgument, NotFound

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ProfileError(DomainError):
    """Root of the profile service's errors."""

    reason = "PROFILE_ERROR"


class ProfileNotFound(ProfileError, NotFound):
    """No profile with that id in the caller's company."""

    reason = "PROFILE_NOT_FOUND"


class ProfileEmailTaken(ProfileError, AlreadyExists):
    """The company already has a profile with that e-mail."""

    reason = "PROFILE_EMAIL_TAKEN"


class InvalidProfile(ProfileError, InvalidArgument):
    """The profile data breaks a rule; the violations name the fields."""

    reason = "INVALID_PROFILE"


class PersonRole(StrEnum):
    """The role a person plays in the programmes."""

    PARTICIPANT = "participant"
    VOLUNTEER = "volunteer"


def normalise_email(raw: str) -> str:
    """The primary identity key: trimmed and lower-cased."""
    return raw.strip().lower()


def validate_profile_id(profile_id: str) -> str:
    """Profile ids are UUIDs; anything else is a malformed request, not a missing profile."""
    try:
        return str(uuid.UUID(profile_id))
    except ValueError:
        raise InvalidProfile(
            "profile_id is not a valid id", violations=[FieldViolation("profile_id", "must be a UUID")]
        ) from None


@dataclass
class Profile:
    """A person in one company."""

    profile_id: str
    company_id: str
    email: str
    given_name: str
    family_name: str
    role: PersonRole
    created_at: datetime
    updated_at: datetime

    @classmethod
    def register(
        cls, *, company_id: str, email: str, given_name: str, family_name: str, role: PersonRole, now: datetime
    ) -> Profile:
        """A new profile, validated; raises InvalidProfile naming every bad field."""
        email = normalise_email(email)
        given_name, family_name = given_name.strip(), family_name.strip()
        violations = (
            _check_email(email) + _check_name("given_name", given_name) + _check_name("family_name", family_name)
        )
        if violations:
            raise InvalidProfile("the profile is invalid", violations=violations)
        return cls(str(uuid.uuid4()), company_id, email, given_name, family_name, role, now, now)


def _check_email(email: str) -> list[FieldViolation]:
    if not email:
        return [FieldViolation("email", "is required")]
    if len(email) > MAX_EMAIL_LENGTH:
        return [FieldViolation("email", f"must be at most {MAX_EMAIL_LENGTH} characters")]
    if not _EMAIL.match(email):
        return [FieldViolation("email", "is not an e-mail address")]
    return []


def _check_name(field: str, value: str) -> list[FieldViolation]:
    if len(value) > MAX_NAME_LENGTH:
        return [FieldViolation(field, f"must be at most {MAX_NAME_LENGTH} characters")]
    return []
