"""Domain error roots shared by every service: plain Python, mapped to gRPC status in one place (status.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request."""

    field: str
    description: str


class DomainError(Exception):
    """Root of every expected error; `reason` is a stable UPPER_SNAKE identifier for clients."""

    reason: str = "DOMAIN_ERROR"

    def __init__(
        self,
        message: str,
        *,
        metadata: Mapping[str, str] | None = None,
        violations: Sequence[FieldViolation] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.metadata = dict(metadata or {})
        self.violations = tuple(violations)


class InvalidArgument(DomainError):
    """The request is malformed; `violations` names each bad field."""

    reason = "INVALID_ARGUMENT"


class NotFound(DomainError):
    """The addressed resource does not exist (or is not visible to the caller's tenant)."""

    reason = "NOT_FOUND"


class Concealed(NotFound):
    """Access refused but answered as NOT_FOUND, so the caller learns nothing of what exists (another
    company's record, another person's request). Unlike a plain NotFound it is a refusal, recorded in the
    audit log as denied; `resource` and `tenant` (its owner) are for that record and never reach the caller."""

    def __init__(
        self, message: str, *, resource: str, tenant: str | None, metadata: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message, metadata=metadata)
        self.resource = resource
        self.tenant = tenant


class AlreadyExists(DomainError):
    """A resource with the same identity already exists."""

    reason = "ALREADY_EXISTS"


class Conflict(DomainError):
    """The request conflicts with the current state and must not be applied silently."""

    reason = "CONFLICT"


class FailedPrecondition(DomainError):
    """The system is not in a state in which the request can run."""

    reason = "FAILED_PRECONDITION"


class Unauthenticated(DomainError):
    """The caller's identity is missing or invalid."""

    reason = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""

    reason = "PERMISSION_DENIED"


class Unimplemented(DomainError):
    """The contract declares the RPC but its behaviour is not built yet (HTTP 501)."""

    reason = "UNIMPLEMENTED"


class Unavailable(DomainError):
    """A dependency or the service itself is temporarily unavailable; retry later."""

    reason = "UNAVAILABLE"
