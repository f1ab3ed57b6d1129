"""The claims of an access token (RFC 9068 profile) and what the token endpoint answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NotRequired, TypedDict

from services.gateway.domain.keys import MAX_TOKEN_LIFETIME
from services.kit import tenants

ROLES = frozenset({"super_admin", "company_admin", "company_user", "participant", "volunteer", "service"})


@dataclass(frozen=True)
class TokenSettings:
    """Who issues tokens, for whom, and for how long."""

    issuer: str
    audience: str
    lifetime: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if not timedelta(seconds=1) <= self.lifetime <= MAX_TOKEN_LIFETIME:
            raise ValueError(f"token lifetime must be between 1 s and {MAX_TOKEN_LIFETIME}")


class AccessClaims(TypedDict):
    """The payload of an access token."""

    iss: str
    aud: str
    sub: str
    role: str
    iat: int
    nbf: int
    exp: int
    jti: str
    company: NotRequired[str]  # the tenant; super admins have none
    email: NotRequired[str]
    scope: NotRequired[str]


@dataclass(frozen=True)
class IssuedToken:
    """A signed access token and what the client is told about it."""

    access_token: str
    expires_in: int
    scope: str
    claims: AccessClaims


def access_claims(
    *,
    subject: str,
    role: str,
    company: str | None,
    email: str | None,
    scopes: Iterable[str],
    settings: TokenSettings,
    now: datetime,
    lifetime: timedelta | None = None,
) -> AccessClaims:
    """The JWT payload; `company` is the tenant and the only source of it downstream, so it is
    checked against the one tenant grammar however the token is issued (InvalidTenant)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if company is not None and company != "":
        tenants.check(company, field="company")
    issued = int(now.timestamp())
    ttl = settings.lifetime if lifetime is None else min(lifetime, MAX_TOKEN_LIFETIME)
    claims: AccessClaims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": subject,
        "role": role,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl.total_seconds()),
        "jti": uuid.uuid4().hex,
    }
    if company:
        claims["company"] = company
    if email:
        claims["email"] = email
    scope = " ".join(sorted(scopes))
    if scope:
        claims["scope"] = scope
    return claims
