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
