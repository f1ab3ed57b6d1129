"""The one place JOSE happens: JWS header and claim checks, and public JWK export, over PyJWT.

Callers (access tokens, service tokens, ID tokens) read the header, choose the key, then verify;
every failure is a `JoseError` whose `check` each caller maps to its own reason code.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.exceptions import InvalidJTIError, InvalidSubjectError
from jwt.utils import base64url_encode

ALGORITHMS = frozenset({"RS256", "ES256"})
# Headers that name a key by reference or inline: a token must never choose the key it is checked with.
KEY_REFERENCE_HEADERS = ("jku", "x5u", "jwk", "x5c")
# RFC 7638 thumbprints are base64url; any other kid (paths, URLs, SQL) never reaches a key lookup.
_KID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_TIME_CLAIMS = ("exp", "nbf", "iat")
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}
_KEY_TYPES = {"RS256": "RSA", "ES256": "EC"}

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
VerifyingKey = jwt.PyJWK | PublicKey


class Check(StrEnum):
    """Which check a token failed."""

    MALFORMED = "malformed"  # not a compact JWS, or undecodable
    ALGORITHM = "algorithm"  # outside the allow-list (none, HS*), or not the named key's
    HEADER = "header"  # names its own key (jku, x5u, jwk, x5c)
    KID = "kid"  # kid missing or not a base64url name
    KEY_UNKNOWN = "key_unknown"  # no published key has this kid
    SIGNATURE = "signature"
    CLAIM_MISSING = "claim_missing"
    CLAIM_INVALID = "claim_invalid"  # a claim of the wrong type (a time that is not a number, ...)
    ISSUER = "issuer"
    AUDIENCE = "audience"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"  # nbf or iat in the future
    TOO_LONG_LIVED = "too_long_lived"  # exp - iat above the caller's maximum lifetime


class JoseError(Exception):
    """A token that failed `check`; `claim` names the claim at fault, when one is."""

    def __init__(self, check: Check, detail: str, *, claim: str | None = None) -> None:
        super().__init__(detail)
        self.check = check
        self.detail = detail
        self.claim = claim


@dataclass(frozen=True)
class Header:
    """The header fields a key is chosen by, read before anything is verified."""

    alg: str
    kid: str | None


@dataclass(frozen=True)
class Expected:
    """What a valid token says: who issued it, for whom, which claims it must carry, and time rules."""

    issuer: str
    audience: str
    required: tuple[str, ...] = ("iss", "aud", "exp", "iat")
    leeway: float = 30.0
    max_lifetime: float | None = None


def read_header(token: str, *, algorithms: Collection[str] = ALGORITHMS, require_kid: bool = False) -> Header:
    """The unverified header; refuses algorithms outside `algorithms`, key references and, with
    `require_kid`, a missing or non-base64url kid (an optional kid must still be a string)."""
    try:
        fields = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise JoseError(Check.MALFORMED, "the token is not a compact JWS") from exc
    alg, kid = fields.get("alg"), fields.get("kid")
    if not isinstance(alg, str) or alg not in algorithms:
        raise JoseError(Check.ALGORITHM, f"algorithm {alg!r} is not accepted")
    if any(name in fields for name in KEY_REFERENCE_HEADERS):
        raise JoseError(Check.HEADER, "tokens may not name their own keys (jku/x5u/jwk/x5c)")
    if require_kid and (not isinstance(kid, str) or not _KID.match(kid)):
        raise JoseError(Check.KID, "the kid header is missing or malformed")
    if kid is not None and not isinstance(kid, str):
        raise JoseError(Check.MALFORMED, "the kid header is not a string")
    return Header(alg=alg, kid=kid)


def unverified_kid(token: str) -> str | None:
    """The base64url `kid` a token names, before anything is verified (None when absent or garbled)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None
    return kid if isinstance(kid, str) and _KID.match(kid) else None


def verify(token: str, key: VerifyingKey | None, *, header: Header, expected: Expected, now: float) -> dict[str, Any]:
    """The claims of `token` once its key, signature, issuer, audience, required claims and times check out.

    `key` is the one `header` names (None: not published); `now` is the caller's clock in epoch seconds.
    """
    if key is None:
        raise JoseError(Check.KEY_UNKNOWN, "the token names a key the issuer does not publish")
    if isinstance(key, jwt.PyJWK) and key.algorithm_name != header.alg:
        raise JoseError(Check.ALGORITHM, "the token's algorithm does not match its key")
    claims = _decoded(token, key, header.alg, expected)
    check_times(claims, now=now, leeway=expected.leeway, max_lifetime=expected.max_lifetime)
    return claims


# Checked in this order: the first matching class names the failure.
_FAILURES: tuple[tuple[type[jwt.PyJWTError], Check, str], ...] = (
    (jwt.InvalidSignatureError, Check.SIGNATURE, "the token's signature does not verify"),
    (jwt.MissingRequiredClaimError, Check.CLAIM_MISSING, "the token lacks a required claim"),
    (jwt.InvalidIssuerError, Check.ISSUER, "the token was issued by someone else"),
    (jwt.InvalidAudienceError, Check.AUDIENCE, "the token is meant for another audience"),
    (InvalidSubjectError, Check.CLAIM_INVALID, "the token's sub must be a string"),
    (InvalidJTIError, Check.CLAIM_INVALID, "the token's jti must be a string"),
    (jwt.InvalidAlgorithmError, Check.ALGORITHM, "the token's algorithm is not accepted"),
    (jwt.PyJWTError, Check.MALFORMED, "the token cannot be decoded"),
)


def _decoded(token: str, key: VerifyingKey, alg: str, expected: Expected) -> dict[str, Any]:
    # PyJWT reads the wall clock for exp/nbf/iat; times are checked by check_times with the caller's clock.
    options: Any = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "require": list(expected.required)}
    try:
        return jwt.decode(
            token, key, algorithms=[alg], audience=expected.audience, issuer=expected.issuer, options=options
        )
    except jwt.PyJWTError as exc:
        check, detail = next((check, text) for kind, check, text in _FAILURES if isinstance(exc, kind))
        claim = exc.claim if isinstance(exc, jwt.MissingRequiredClaimError) else None
        raise JoseError(
            check, detail if claim is None else f"the token lacks the {claim!r} claim", claim=claim
        ) from exc


def check_times(claims: Mapping[str, Any], *, now: float, leeway: float, max_lifetime: float | None = None) -> None:
    """exp in the past, nbf or iat in the future (each beyond `leeway` s), or a lifetime above `max_lifetime`."""
    for name in _TIME_CLAIMS:
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise JoseError(Check.CLAIM_INVALID, f"the {name!r} claim must be a number", claim=name)
    if "exp" in claims and claims["exp"] <= now - leeway:
        raise JoseError(Check.EXPIRED, "the token has expired", claim="exp")
    for name in ("nbf", "iat"):
        if name in claims and claims[name] > now + leeway:
            raise JoseError(Check.NOT_YET_VALID, "the token is not valid yet", claim=name)
    lifetime = claims["exp"] - claims["iat"] if "exp" in claims and "iat" in claims else None
    if max_lifetime is not None and lifetime is not None and lifetime > max_lifetime + leeway:
        raise JoseError(Check.TOO_LONG_LIVED, f"the token lives longer than {max_lifetime:g} s", claim="exp")


def import_jwk(entry: Mapping[str, Any], *, alg: str) -> jwt.PyJWK | None:
    """A published signing key usable with `alg`, or None (wrong type, not for signatures, or broken)."""
    if alg not in ALGORITHMS or entry.get("kty") != _KEY_TYPES[alg]:
        return None
    if entry.get("use", "sig") != "sig" or entry.get("alg", alg) != alg:
        return None
    try:
        return jwt.PyJWK(dict(entry), algorithm=alg)
    except jwt.PyJWTError:
        return None


def public_jwk(key: PublicKey | PrivateKey, *, alg: str) -> dict[str, str]:
    """The public JWK of `key` for a JWKS: PyJWT's export with `use`, `alg` and its thumbprint as `kid`."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) else key
    if alg == "RS256" and isinstance(public, rsa.RSAPublicKey):
        exported = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif alg == "ES256" and isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP256R1):
        exported = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        raise ValueError(f"a {type(public).__name__} cannot sign {alg!r}")
    # PyJWT adds key_ops; a JWKS entry says `use: sig` instead (RFC 7517 section 4.3: not both).
    jwk = {name: str(value) for name, value in exported.items() if name != "key_ops"} | {"use": "sig", "alg": alg}
    return jwk | {"kid": thumbprint(jwk)}


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK: its key type's required members, sorted, no whitespace."""
    # PyJWT has no thumbprint; the canonical form is the RFC's, over PyJWT's member encoding.
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return base64url_encode(hashlib.sha256(canonical.encode()).digest()).decode()


def sign(claims: Mapping[str, Any], key: PrivateKey, *, alg: str, headers: Mapping[str, str] | None = None) -> str:
    """A compact JWS of `claims` signed with `key`."""
    return jwt.encode(dict(claims), key, algorithm=alg, headers=dict(headers) if headers else None)
