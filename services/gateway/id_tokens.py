"""Validation of a provider's ID token (OpenID Connect Core section 3.1.3.7): signature, issuer, audience, times."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from services.gateway.domain.errors import IdTokenRejected

ALGORITHMS = frozenset({"RS256", "ES256"})
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat")
_REFERENCE_HEADERS = ("jku", "x5u", "jwk")


@dataclass(frozen=True)
class Expected:
    """What a valid ID token of this login must say."""

    provider: str
    issuer: str
    client_id: str
    now: float
    leeway: float = 60.0


def header(token: str, *, provider: str) -> tuple[str, str | None]:
    """The token's algorithm (RS256 or ES256 only) and key id, read before any key is chosen."""
    try:
        fields: dict[str, Any] = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise IdTokenRejected("malformed", "the ID token is not a compact JWS", provider=provider) from exc
    alg, kid = fields.get("alg"), fields.get("kid")
    if alg not in ALGORITHMS:
        raise IdTokenRejected("algorithm", f"ID tokens signed with {alg!r} are not accepted", provider=provider)
    if any(name in fields for name in _REFERENCE_HEADERS):
        raise IdTokenRejected("header", "the ID token names its own key", provider=provider)
    if kid is not None and not isinstance(kid, str):
        raise IdTokenRejected("kid", "the ID token's kid is not a string", provider=provider)
    return str(alg), kid


def verify(token: str, key: jwt.PyJWK | None, *, alg: str, expected: Expected) -> dict[str, Any]:
    """The claims of a token signed by `key` for this client by this issuer, within its lifetime."""
    if key is None:
        raise IdTokenRejected(
            "kid", "the ID token names a key the provider does not publish", provider=expected.provider
        )
    claims = _decoded(token, key, alg, expected)
    _check_authorized_party(claims, expected)
    _check_times(claims, expected)
    return claims


def _decoded(token: str, key: jwt.PyJWK, alg: str, expected: Expected) -> dict[str, Any]:
    # Times are checked against the gateway's clock below, so PyJWT skips them.
    options: Any = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "require": list(REQUIRED_CLAIMS)}
    failures: tuple[tuple[type[jwt.PyJWTError], str, str], ...] = (
        (jwt.InvalidSignatureError, "signature", "the ID token's signature does not verify"),
        (jwt.MissingRequiredClaimError, "claims", "the ID token lacks a required claim"),
        (jwt.InvalidIssuerError, "issuer", "the ID token was issued by someone else"),
        (jwt.InvalidAudienceError, "audience", "the ID token is meant for another client"),
        (jwt.PyJWTError, "malformed", "the ID token cannot be decoded"),
    )
    try:
        return jwt.decode(
            token, key, algorithms=[alg], audience=expected.client_id, issuer=expected.issuer, options=options
        )
    except jwt.PyJWTError as exc:
        check, message = next((check, text) for kind, check, text in failures if isinstance(exc, kind))
        raise IdTokenRejected(check, message, provider=expected.provider) from exc


def _check_authorized_party(claims: Mapping[str, Any], expected: Expected) -> None:
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != expected.client_id:
        raise IdTokenRejected("azp", "the ID token was issued to another party", provider=expected.provider)


def _check_times(claims: Mapping[str, Any], expected: Expected) -> None:
    now, leeway = expected.now, expected.leeway
    for name in ("exp", "iat"):
        if isinstance(claims[name], bool) or not isinstance(claims[name], int | float):
            raise IdTokenRejected(
                "claims", f"the ID token's {name!r} claim must be a number", provider=expected.provider
            )
    if claims["exp"] <= now - leeway:
        raise IdTokenRejected("expired", "the ID token has expired", provider=expected.provider)
    if claims["iat"] > now + leeway:
        raise IdTokenRejected("not_yet_valid", "the ID token was issued in the future", provider=expected.provider)
