"""Errors of the safety service, each also of the kit kind that fixes its gRPC status."""

from __future__ import annotations

from services.kit.errors import Conflict, DomainError, FailedPrecondition, InvalidArgument, NotFound


class SafetyError(DomainError):
    """Root of the safety service's errors."""

    reason = "SAFETY_ERROR"


class InvalidScreening(SafetyError, InvalidArgument):
    """The text cannot be screened (empty or too long); the violation names the field."""

    reason = "INVALID_SCREENING"


class InvalidSafetyRequest(SafetyError, InvalidArgument):
    """A request field is malformed; the violations name the fields."""

    reason = "INVALID_SAFETY_REQUEST"


class FlagNotFound(SafetyError, NotFound):
    """No flag with that id in the caller's company."""

    reason = "FLAG_NOT_FOUND"


class ReviewNotFound(SafetyError, NotFound):
    """No review with that id in the caller's company."""

    reason = "REVIEW_NOT_FOUND"


class ReviewAlreadyDecided(SafetyError, Conflict):
    """The review is approved or rejected (or was decided meanwhile); a decision is never overwritten."""

    reason = "REVIEW_ALREADY_DECIDED"


class ClassifierArtifactInvalid(SafetyError, FailedPrecondition):
    """The trained classifier's files are missing, altered (a hash differs from the manifest) or of another format."""

    reason = "CLASSIFIER_ARTIFACT_INVALID"
