"""The profile service's errors: one root, each also a kit error kind the runtime maps to a gRPC status."""

from __future__ import annotations

from services.kit.errors import AlreadyExists, Conflict, DomainError, FailedPrecondition, InvalidArgument, NotFound


class ProfileError(DomainError):
    """Root of the profile service's errors."""

    reason = "PROFILE_ERROR"


class ProfileNotFound(ProfileError, NotFound):
    """No profile with that id in the caller's company (or it was merged into another)."""

    reason = "PROFILE_NOT_FOUND"


class ProfileEmailTaken(ProfileError, AlreadyExists):
    """The company already has a profile with that e-mail."""

    reason = "PROFILE_EMAIL_TAKEN"


class InvalidProfile(ProfileError, InvalidArgument):
    """The profile data breaks a rule; the violations name the fields."""

    reason = "INVALID_PROFILE"


class ExternalIdConflict(ProfileError, Conflict):
    """The external id is already bound to a different profile; only an explicit merge may join them."""

    reason = "EXTERNAL_ID_CONFLICT"


class CounterOverflow(ProfileError, FailedPrecondition):
    """Adding the delta would take the counter outside the signed 64-bit range."""

    reason = "COUNTER_OVERFLOW"
