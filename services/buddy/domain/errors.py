"""The buddy service's errors: one root, each also a kit error kind the runtime maps to a gRPC status."""

from __future__ import annotations

from services.kit.errors import Conflict, DomainError, FailedPrecondition, InvalidArgument, NotFound


class BuddyError(DomainError):
    """Root of the buddy service's errors."""

    reason = "BUDDY_ERROR"


class InvalidBuddyRequest(BuddyError, InvalidArgument):
    """A request or record breaks a rule; the violations name the fields."""

    reason = "INVALID_BUDDY_REQUEST"


class UnknownKind(BuddyError, InvalidArgument):
    """The record kind in the path is not one of matches, events, checkins, feedback."""

    reason = "UNKNOWN_RECORD_KIND"


class MatchUnknown(BuddyError, FailedPrecondition):
    """A record refers to a match the company has not sent yet (send the match first)."""

    reason = "MATCH_UNKNOWN"


class RecordConflict(BuddyError, Conflict):
    """A record with this external id exists with different people or match; it is not overwritten."""

    reason = "RECORD_CONFLICT"


class DeliveryConflict(BuddyError, Conflict):
    """A webhook delivery id was already used for a different payload."""

    reason = "DELIVERY_CONFLICT"


class RecordNotFound(BuddyError, NotFound):
    """No record with that id in the caller's company."""

    reason = "BUDDY_RECORD_NOT_FOUND"


class ImportNotFound(BuddyError, NotFound):
    """No import batch with that id in the caller's company."""

    reason = "IMPORT_NOT_FOUND"
