"""The gateway's errors: one root, each also a kit kind; OAuth 2.0 error codes ride in the metadata."""

from __future__ import annotations

from collections.abc import Sequence

from services.kit.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Unauthenticated,
    Unavailable,
)


class GatewayError(DomainError):
    """Root of the gateway's errors."""

    reason = "GATEWAY_ERROR"


class OAuthError(GatewayError):
    """An error of the token endpoint; `oauth_error` is the RFC 6749 section 5.2 code."""

    oauth_error = "invalid_request"

    def __init__(self, message: str, *, violations: Sequence[FieldViolation] = ()) -> None:
        super().__init__(message, metadata={"error": self.oauth_error}, violations=violations)


class InvalidClient(OAuthError, Unauthenticated):
    """Unknown client, wrong secret or missing client authentication (one answer for all: no oracle)."""

    reason = "INVALID_CLIENT"
    oauth_error = "invalid_client"


class InvalidTokenRequest(OAuthError, InvalidArgument):
    """The token request is malformed."""

    reason = "INVALID_REQUEST"


class UnsupportedGrantType(OAuthError, InvalidArgument):
    """Only the client-credentials grant is offered."""

    reason = "UNSUPPORTED_GRANT_TYPE"
    oauth_error = "unsupported_grant_type"


class InvalidScope(OAuthError, InvalidArgument):
    """A requested scope was not granted to the client."""

    reason = "INVALID_SCOPE"
    oauth_error = "invalid_scope"


class InvalidTarget(OAuthError, InvalidArgument):
    """The requested audience is not one this gateway issues tokens for (RFC 8707)."""

    reason = "INVALID_TARGET"
    oauth_error = "invalid_target"


class InvalidClientSpec(GatewayError, InvalidArgument):
    """A client registration breaks a rule; the violations name the fields."""

    reason = "INVALID_CLIENT_SPEC"


class ClientExists(GatewayError, AlreadyExists):
    """A client with this id is registered already."""

    reason = "CLIENT_EXISTS"


class RotationTooEarly(GatewayError, FailedPrecondition):
    """The next key has not been published for a whole JWKS cache period yet."""

    reason = "ROTATION_TOO_EARLY"


class NoSigningKey(GatewayError, Unavailable):
    """No active signing key: the key ring was never initialised."""

    reason = "NO_SIGNING_KEY"


class KeyUnsealFailed(GatewayError, FailedPrecondition):
    """A private key cannot be decrypted: the key-encryption key differs from the one that sealed it."""

    reason = "KEY_UNSEAL_FAILED"
