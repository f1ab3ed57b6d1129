"""Commands the gateway handles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class IssueToken:
    """OAuth 2.0 client-credentials token request (values already taken from body, fields or header)."""

    grant_type: str
    client_id: str
    client_secret: str
    scope: str = ""
    audience: str = ""


@dataclass(frozen=True)
class RotateKeys:
    """Promote next → active, retire the active key, publish a new next key."""

    algorithm: str = "RS256"
    force: bool = False


@dataclass(frozen=True)
class RegisterClient:
    """Register a machine client of one company."""

    client_id: str
    company_id: str
    role: str
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MintToken:
    """A development token for any role and tenant, signed with the active key."""

    role: str
    company_id: str | None
    subject: str
    email: str | None = None
    lifetime: timedelta | None = None


@dataclass(frozen=True)
class StartSsoLogin:
    """Begin an OpenID Connect login at a provider."""

    provider: str
    redirect_uri: str = ""
    login_hint: str = ""


@dataclass(frozen=True)
class CompleteSsoLogin:
    """The provider's redirect back: a code and the login's state, or an error."""

    provider: str
    code: str = ""
    state: str = ""
    error: str = ""
    error_description: str = ""
    issuer: str = ""  # RFC 9207 `iss` of the authorization response, when the provider sends it


@dataclass(frozen=True)
class ReceivePrivacyRequest:
    """A data-subject request: export or erase the subject's data; `client_key` makes a repeat the same request."""

    kind: str  # "export" or "erasure"
    company_id: str
    requested_by: str
    profile_id: str = ""
    email: str = ""
    reason: str = ""
    own: bool = False
    confirm: bool = False
    client_key: str = ""
