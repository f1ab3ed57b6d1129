"""The gateway's errors: one root, each also a kit kind; OAuth 2.0 error codes ride in the metadata."""

from __future__ import annotations

from collections.abc import Sequence

from services.kit.errors import (
    AlreadyExists,
    Concealed,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
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


class SsoError(GatewayError):
    """Root of the errors of the OpenID Connect sign-in."""

    reason = "SSO_ERROR"


class SsoNotConfigured(SsoError, FailedPrecondition):
    """No SSO provider is configured (TEEI_SSO_CONFIG is not set)."""

    reason = "SSO_NOT_CONFIGURED"


class UnknownSsoProvider(SsoError, FailedPrecondition):
    """The provider named in the path is not configured."""

    reason = "SSO_PROVIDER_UNKNOWN"


class InvalidSsoRequest(SsoError, InvalidArgument):
    """The login or callback request is malformed; the violations name the fields."""

    reason = "SSO_INVALID_REQUEST"


class RedirectNotAllowed(SsoError, InvalidArgument):
    """The post-login redirect URI is not on the provider's allow-list."""

    reason = "SSO_REDIRECT_NOT_ALLOWED"


class LoginStateInvalid(SsoError, Unauthenticated):
    """The callback's state was never issued, or was issued for another provider."""

    reason = "SSO_STATE_INVALID"


class LoginStateReused(SsoError, Unauthenticated):
    """The callback's state was used already: a login completes once."""

    reason = "SSO_STATE_REUSED"


class LoginStateExpired(SsoError, Unauthenticated):
    """The login took longer than its state lives."""

    reason = "SSO_STATE_EXPIRED"


class ProviderRefusedLogin(SsoError, Unauthenticated):
    """The provider redirected back with an error instead of a code."""

    reason = "SSO_PROVIDER_ERROR"


class CodeExchangeFailed(SsoError, Unauthenticated):
    """The provider's token endpoint refused the authorization code (invalid, replayed, PKCE mismatch...)."""

    reason = "SSO_CODE_REJECTED"


class SsoProviderUnavailable(SsoError, Unavailable):
    """The provider cannot be reached or answered something that is not OpenID Connect."""

    reason = "SSO_PROVIDER_UNAVAILABLE"


class IdTokenRejected(SsoError, Unauthenticated):
    """The ID token failed a check; `check` names it (signature, issuer, audience, nonce...)."""

    reason = "SSO_ID_TOKEN_INVALID"

    def __init__(self, check: str, message: str, *, provider: str = "") -> None:
        super().__init__(message, metadata={"check": check, "provider": provider})
        self.check = check


class EmailNotVerified(SsoError, Unauthenticated):
    """The provider does not vouch for the e-mail address (missing, or not verified)."""

    reason = "SSO_EMAIL_NOT_VERIFIED"


class EmailDomainNotAllowed(SsoError, PermissionDenied):
    """The e-mail's domain is not mapped to any company for this provider."""

    reason = "SSO_DOMAIN_NOT_ALLOWED"


class PrivacyError(GatewayError):
    """Root of the errors of data-subject requests."""

    reason = "PRIVACY_ERROR"


class PrivacyRequestNotFound(PrivacyError, NotFound):
    """No privacy request with this id that the caller may see (another company's is not found either)."""

    reason = "PRIVACY_REQUEST_NOT_FOUND"


class PrivacyRequestNotVisible(PrivacyRequestNotFound, Concealed):
    """A privacy request of another company, or another person's for a caller who sees only their own: answered
    exactly as one that does not exist, and recorded in the audit log as a denied access."""


class InvalidPrivacyRequest(PrivacyError, InvalidArgument):
    """The request names no subject, gives no reason, or is not confirmed; the violations name the fields."""

    reason = "PRIVACY_REQUEST_INVALID"


class SubjectNotIdentified(PrivacyError, FailedPrecondition):
    """The caller's token carries no e-mail, so their own data cannot be found."""

    reason = "PRIVACY_SUBJECT_NOT_IDENTIFIED"


class PrivacyNotConfigured(PrivacyError, FailedPrecondition):
    """No personal-data service is configured (TEEI_PRIVACY_SERVICES): a request would complete having asked nobody."""

    reason = "PRIVACY_NOT_CONFIGURED"


class PrivacyRequestSettled(PrivacyError, FailedPrecondition):
    """The privacy request is completed or failed: nothing more runs for it."""

    reason = "PRIVACY_REQUEST_SETTLED"


class PrivacyBundleExpired(PrivacyError, FailedPrecondition):
    """The export's bundle is no longer kept (deleted 30 days after completion, or by an erasure of the person):
    the request stays as the record it was answered; the data needs a new export request."""

    reason = "PRIVACY_BUNDLE_EXPIRED"


class DiagnosticFailure(RuntimeError):
    """The synthetic failure an operator asks for (`POST /v1/admin/diagnostics:raise`) to check error reports
    end to end. Deliberately not a domain error: it takes the path of any unexpected exception (INTERNAL,
    reported to the error tracker)."""

    def __init__(self, note: str) -> None:
        super().__init__(f"synthetic diagnostic error raised on request: {note or '(no note)'}")
        self.note = note
