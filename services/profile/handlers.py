"""One function per command: load → call the domain → commit (one unit of work)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from services.kit.errors import FieldViolation
from services.profile.domain.commands import CreateProfile, GetProfile
from services.profile.domain.model import Profile, ProfileEmailTaken, ProfileNotFound, validate_profile_id
from services.profile.repository import DuplicateProfile, ProfileUnitOfWork

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The production clock."""
    return datetime.now(UTC)


def create_profile(command: CreateProfile, *, uow: ProfileUnitOfWork, clock: Clock = utc_now) -> Profile:
    """Registers a person; a second profile with the same e-mail in the company is refused."""
    profile = Profile.register(
        company_id=command.company_id,
        email=command.email,
        given_name=command.given_name,
        family_name=command.family_name,
        role=command.role,
        now=clock(),
    )
    with uow.begin(company_id=command.company_id) as profiles:
        existing = profiles.get_by_email(profile.email)
        if existing is None:
            try:
                profiles.add(profile)
                return profile
            except DuplicateProfile:
                existing = profiles.get_by_email(profile.email)
    raise ProfileEmailTaken(
        "a profile with this e-mail already exists",
        metadata={"profile_id": existing.profile_id if existing else ""},
        violations=[FieldViolation("email", "already used by another profile")],
    )


def get_profile(query: GetProfile, *, uow: ProfileUnitOfWork) -> Profile:
    """One profile of the caller's company."""
    profile_id = validate_profile_id(query.profile_id)
    with uow.begin(company_id=query.company_id) as profiles:
        profile: Profile | None = profiles.get(profile_id)
    if profile is None:
        raise ProfileNotFound("profile not found", metadata={"profile_id": profile_id})
    return profile
