"""Q2Q's errors: one root, each mapped to a gRPC status by the kit's interceptor."""

from __future__ import annotations

from services.kit.errors import Conflict, DomainError, FailedPrecondition, InvalidArgument


class Q2qError(DomainError):
    """Root of the Q2Q service's errors."""

    reason = "Q2Q_ERROR"


class InvalidQ2qRequest(Q2qError, InvalidArgument):
    """A request breaks an input rule; the violations name the fields."""

    reason = "INVALID_Q2Q_REQUEST"


class SourceAlreadyClassified(Q2qError, Conflict):
    """The source was classified before from a different text; nothing is replaced silently."""

    reason = "SOURCE_ALREADY_CLASSIFIED"


class ScreeningNotConfigured(Q2qError, FailedPrecondition):
    """Storing needs Safety's screening, and no Safety address is configured: nothing unscreened is kept."""

    reason = "SCREENING_NOT_CONFIGURED"


class ScreeningRefused(Q2qError, FailedPrecondition):
    """Safety answered the screening with an error (not an outage): the text is neither scored nor kept."""

    reason = "SCREENING_REFUSED"


class ModelArtifactInvalid(Q2qError, FailedPrecondition):
    """The trained model's files are missing, altered (a hash differs from the manifest) or of another format."""

    reason = "MODEL_ARTIFACT_INVALID"
