"""The Kintell connector's errors: one root, each also a kit error kind mapped to a gRPC status."""

from __future__ import annotations

from services.kit.errors import Conflict, DomainError, InvalidArgument, NotFound


class KintellError(DomainError):
    """Root of the Kintell connector's errors."""

    reason = "KINTELL_ERROR"


class SessionNotFound(KintellError, NotFound):
    """No session with that id in the caller's company."""

    reason = "SESSION_NOT_FOUND"


class ImportNotFound(KintellError, NotFound):
    """No import batch with that id in the caller's company."""

    reason = "IMPORT_NOT_FOUND"


class InvalidRequest(KintellError, InvalidArgument):
    """A request field breaks a rule; the violations name the fields."""

    reason = "INVALID_REQUEST"


class InvalidWebhook(KintellError, InvalidArgument):
    """A webhook body is not the JSON this connector accepts; the violations name the fields."""

    reason = "INVALID_WEBHOOK"


class DeliveryConflict(KintellError, Conflict):
    """A delivery id was seen before with a different body: never applied twice, never silently."""

    reason = "DELIVERY_CONFLICT"


class SessionTypeConflict(KintellError, Conflict):
    """The session id is already stored with the other session type."""

    reason = "SESSION_TYPE_CONFLICT"
