"""The upskilling connector's errors: one root, each also a kit error kind the runtime maps to a gRPC status."""

from __future__ import annotations

from services.kit.errors import DomainError, InvalidArgument, NotFound


class UpskillingError(DomainError):
    """Root of the upskilling connector's errors."""

    reason = "UPSKILLING_ERROR"


class InvalidWebhook(UpskillingError, InvalidArgument):
    """A webhook delivery is not valid JSON of the provider's shape; the violations name the fields."""

    reason = "INVALID_WEBHOOK"


class InvalidRequest(UpskillingError, InvalidArgument):
    """A request field (id, filter, page token, import kind) is malformed."""

    reason = "INVALID_REQUEST"


class ProgressNotFound(UpskillingError, NotFound):
    """No progress record with that id in the caller's company."""

    reason = "PROGRESS_NOT_FOUND"


class CredentialNotFound(UpskillingError, NotFound):
    """No credential with that id in the caller's company."""

    reason = "CREDENTIAL_NOT_FOUND"


class ImportNotFound(UpskillingError, NotFound):
    """No import batch with that id in the caller's company."""

    reason = "IMPORT_NOT_FOUND"
