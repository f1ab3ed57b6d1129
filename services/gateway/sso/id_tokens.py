"""A provider's ID token (OpenID Connect Core section 3.1.3.7), checked by the kit's JOSE: signature, issuer,
audience, times, and the authorized party when the token names several audiences."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from services.gateway.domain.errors import IdTokenRejected
from services.kit.security import jose
from services.kit.security.jose import Check

REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat")
# The `check` an IdTokenRejected names, as the login's error metadata reports it.
_CHECKS: Mapping[Check, str] = {
    Check.MALFORMED: "malformed",
    Check.ALGORITHM: "algorithm",
    Check.HEADER: "header",
    Check.KID: "kid",
    Check.KEY_UNKNOWN: "kid",
    Check.SIGNATURE: "signature",
    Check.CLAIM_MISSING: "claims",
    Check.CLAIM_INVALID: "claims",
    Check.TOO_LONG_LIVED: "claims",
    Check.ISSUER: "issuer",
    Check.AUDIENCE: "audience",
    Check.EXPIRED: "expired",
    Check.NOT_YET_VALID: "not_yet_valid",
}


@dataclass(frozen=True)
class Expected:
    """What a valid ID token of this login must say."""

    provider: str
    issuer: str
    client_id: str
    now: float
    leeway: float = 60.0


def header(token: str, *, provider: str) -> jose.Header:
    """The token's algorithm (RS256 or ES256 only) and key id, read before any key is chosen."""
    try:
        return jose.read_header(token)
    except jose.JoseError as exc:
        raise _rejected(exc, provider) from exc


def verify(token: str, key: jwt.PyJWK | None, *, header: jose.Header, expected: Expected) -> dict[str, Any]:
    """The claims of a token signed by `key` for this client by this issuer, within its lifetime."""
    rules = jose.Expected(
        issuer=expected.issuer, audience=expected.client_id, required=REQUIRED_CLAIMS, leeway=expected.leeway
    )
    try:
        claims = jose.verify(token, key, header=header, expected=rules, now=expected.now)
    except jose.JoseError as exc:
        raise _rejected(exc, expected.provider) from exc
    _check_authorized_party(claims, expected)
    return claims


def _check_authorized_party(claims: Mapping[str, Any], expected: Expected) -> None:
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != expected.client_id:
        raise IdTokenRejected("azp", "the ID token was issued to another party", provider=expected.provider)


def _rejected(error: jose.JoseError, provider: str) -> IdTokenRejected:
    return IdTokenRejected(_CHECKS[error.check], f"ID token: {error.detail}", provider=provider)
