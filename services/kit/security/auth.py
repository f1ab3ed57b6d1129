"""Access-token validation against a JWKS, the caller's Principal, and the role → permission table."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from services.kit.errors import PermissionDenied, Unauthenticated, Unavailable
from services.kit.security.access import AccessRule
from teei.common.v1 import access_pb2

ALGORITHMS = frozenset({"RS256", "ES256"})
REQUIRED_CLAIMS = ("iss", "aud", "sub", "role", "iat", "exp", "jti")
# Thumbprints (RFC 7638) are base64url; anything else (paths, URLs, SQL) never reaches a key lookup.
_KID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_REFERENCE_HEADERS = ("jku", "x5u", "jwk", "x5c")
JwksFetch = Callable[[], Mapping[str, Any]]
Clock = Callable[[], float]

_ALL = frozenset(name for name in access_pb2.Permission.keys() if name != "PERMISSION_UNSPECIFIED")  # noqa: SIM118
_COMPANY_USER = frozenset({"PERMISSION_COMPANY_DATA_READ", "PERMISSION_PROGRAMMES_READ", "PERMISSION_DATA_EXPORT"})
_COMPANY_ADMIN = _COMPANY_USER | {
    "PERMISSION_COMPANY_DATA_WRITE",
    "PERMISSION_USERS_READ",
    "PERMISSION_USERS_WRITE",
    "PERMISSION_PROGRAMMES_WRITE",
    "PERMISSION_PROGRAMMES_MANAGE",
    "PERMISSION_SETTINGS_MANAGE",
    "PERMISSION_AUDIT_LOGS_READ",
}
ROLE_PERMISSIONS: Mapping[str, frozenset[str]] = {
    "super_admin": _ALL,
    "company_admin": _COMPANY_ADMIN,
    "company_user": _COMPANY_USER,
    "participant": frozenset(
        {"PERMISSION_PROGRAMMES_READ", "PERMISSION_OWN_DATA_EXPORT", "PERMISSION_OWN_DATA_DELETE"}
    ),
    "volunteer": frozenset({"PERMISSION_PROGRAMMES_READ", "PERMISSION_PROGRAMMES_WRITE"}),
    # Service identities hold no role permission: only the RPCs their caller allow-list names.
    "service": frozenset(),
}
ROLES = frozenset(ROLE_PERMISSIONS)


class TokenRejected(Unauthenticated):
    """An access token that does not prove the caller's identity; `reason` names the failed check."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, metadata={"reason": reason})
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    subject: str
    tenant: str | None
    role: str
    email: str | None = None
    token_id: str = ""
    scopes: frozenset[str] = frozenset()


def permissions_for(role: str) -> frozenset[str]:
    """The `teei.common.v1.Permission` names a role holds (none for an unknown role)."""
    return ROLE_PERMISSIONS.get(role, frozenset())


def authorize(
    principal: Principal,
    rule: AccessRule,
    *,
    method: str = "",
    service_allow_list: Mapping[str, frozenset[str]] | None = None,
) -> None:
    """Allows the call or raises PermissionDenied; a service may call only the methods listed for its subject."""
    if rule.public or principal.role == "super_admin":
        return
    if principal.role == "service":
        allowed = (service_allow_list or {}).get(principal.subject, frozenset())
        if method and (method in allowed or f"{method.rsplit('/', 1)[0]}/*" in allowed):
            return
        raise PermissionDenied("this service identity is not allowed to call this RPC", metadata={"method": method})
    if rule.permission is None or rule.permission not in permissions_for(principal.role):
        raise PermissionDenied(
            f"role {principal.role} lacks {rule.permission}", metadata={"permission": rule.permission or ""}
        )


def http_jwks(url: str, *, timeout: float = 5.0) -> JwksFetch:
    """A JWKS fetch over HTTP(S) from `url`."""
    if not url.startswith(("https://", "http://")):
        raise ValueError("the JWKS URL must be http(s)")

    def fetch() -> Mapping[str, Any]:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            document: Mapping[str, Any] = json.loads(response.read(1024 * 1024))
        return document

    return fetch


@dataclass
class CachedJwks:
    """Keys from a JWKS fetch, cached for `max_age` s; an unknown kid refetches at most every `min_refetch` s."""

    fetch: JwksFetch
    max_age: float = 300.0
    min_refetch: float = 30.0
    clock: Clock = time.monotonic
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict, init=False)
    _fetched_at: float | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The public key named `kid`, or None when the issuer does not publish it."""
        with self._lock:
            now = self.clock()
            if self._due(kid, now):
                self._refresh(now)
            return self._keys.get(kid)

    def needs_fetch(self, kid: str) -> bool:
        """Whether `key(kid)` would fetch the key set now (callers on an event loop fetch in a thread)."""
        with self._lock:
            return self._due(kid, self.clock())

    def _due(self, kid: str, now: float) -> bool:
        if self._fetched_at is None or now - self._fetched_at >= self.max_age:
            return True
        return kid not in self._keys and now - self._fetched_at >= self.min_refetch

    def _refresh(self, now: float) -> None:
        try:
            document = self.fetch()
        except Exception as exc:
            if self._keys:
                return  # keep validating with the keys we had; the issuer is briefly unreachable
            raise Unavailable("the signing keys cannot be fetched") from exc
        self._keys = _parse_jwks(document)
        self._fetched_at = now


def _parse_jwks(document: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document.get("keys", ()):
        kid, alg = entry.get("kid"), entry.get("alg")
        if isinstance(kid, str) and alg in ALGORITHMS and entry.get("use", "sig") == "sig":
            try:
                keys[kid] = jwt.PyJWK(dict(entry), algorithm=alg)
            except jwt.PyJWTError:
                continue  # one unusable key must not hide the others
    return keys


class TokenValidator:
    """Validates RS256/ES256 access tokens against a JWKS and returns the caller's Principal."""

    def __init__(
        self, jwks: CachedJwks, *, issuer: str, audience: str, leeway: float = 30.0, clock: Clock = time.time
    ) -> None:
        self._jwks = jwks
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._clock = clock

    @property
    def jwks(self) -> CachedJwks:
        """The key cache this validator reads."""
        return self._jwks

    def validate(self, token: str) -> Principal:
        """The Principal the token proves, or TokenRejected (UNAUTHENTICATED) naming the failed check."""
        header = _header(token)
        key = self._key_for(header)
        claims = self._verified_claims(token, key, header["alg"])
        self._check_times(claims)
        return _principal(claims)

    def _key_for(self, header: Mapping[str, Any]) -> jwt.PyJWK:
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise TokenRejected("TOKEN_ALGORITHM_NOT_ALLOWED", f"algorithm {alg!r} is not accepted")
        if any(name in header for name in _REFERENCE_HEADERS):
            raise TokenRejected("TOKEN_HEADER_NOT_ALLOWED", "tokens may not name their own keys (jku/x5u/jwk/x5c)")
        if not isinstance(kid, str) or not _KID.match(kid):
            raise TokenRejected("TOKEN_KID_INVALID", "the kid header is missing or malformed")
        key = self._jwks.key(kid)
        if key is None:
            raise TokenRejected("TOKEN_KEY_UNKNOWN", "the token names a key the issuer does not publish")
        if key.algorithm_name != alg:
            raise TokenRejected("TOKEN_ALGORITHM_NOT_ALLOWED", "the token's algorithm does not match its key")
        return key

    def _verified_claims(self, token: str, key: jwt.PyJWK, alg: str) -> dict[str, Any]:
        # Times are checked by _check_times against the injected clock, so PyJWT skips them.
        options: Any = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "require": list(REQUIRED_CLAIMS)}
        try:
            return jwt.decode(
                token, key, algorithms=[alg], audience=self._audience, issuer=self._issuer, options=options
            )
        except jwt.InvalidSignatureError as exc:
            raise TokenRejected("TOKEN_SIGNATURE_INVALID", "the token's signature does not verify") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected("TOKEN_CLAIM_MISSING", f"the token lacks the {exc.claim!r} claim") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenRejected("TOKEN_ISSUER_INVALID", "the token was issued by someone else") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenRejected("TOKEN_AUDIENCE_INVALID", "the token is meant for another audience") from exc
        except jwt.PyJWTError as exc:
            raise TokenRejected("TOKEN_MALFORMED", "the token cannot be decoded") from exc

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now, leeway = self._clock(), self._leeway
        for name in ("iat", "exp", "nbf"):
            if name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], int | float)):
                raise TokenRejected("TOKEN_CLAIM_INVALID", f"the {name!r} claim must be a number")
        if claims["exp"] <= now - leeway:
            raise TokenRejected("TOKEN_EXPIRED", "the token has expired")
        if claims.get("nbf", claims["iat"]) > now + leeway or claims["iat"] > now + leeway:
            raise TokenRejected("TOKEN_NOT_YET_VALID", "the token is not valid yet")


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` value, or TokenRejected."""
    if not authorization:
        raise TokenRejected("TOKEN_MISSING", "this RPC needs an access token: send 'authorization: Bearer <token>'")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise TokenRejected("TOKEN_MALFORMED", "the authorization header must be 'Bearer <token>'")
    return token


def unverified_kid(token: str) -> str | None:
    """The `kid` a token names, before anything is verified (None when it names none or is garbled)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None
    return kid if isinstance(kid, str) and _KID.match(kid) else None


def _header(token: str) -> dict[str, Any]:
    try:
        header: dict[str, Any] = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenRejected("TOKEN_MALFORMED", "the token is not a compact JWS") from exc
    return header


def _principal(claims: Mapping[str, Any]) -> Principal:
    role, company, subject = claims["role"], claims.get("company"), claims["sub"]
    if role not in ROLES:
        raise TokenRejected("TOKEN_CLAIM_INVALID", "the token's role is unknown")
    if not isinstance(subject, str) or not subject or not isinstance(claims["jti"], str):
        raise TokenRejected("TOKEN_CLAIM_INVALID", "the token's sub and jti must be non-empty strings")
    if role != "super_admin" and (not isinstance(company, str) or not company):
        raise TokenRejected("TOKEN_CLAIM_MISSING", "the token lacks the 'company' claim")
    email = claims.get("email")
    scope = claims.get("scope", "")
    return Principal(
        subject=subject,
        tenant=company or None,
        role=role,
        email=email if isinstance(email, str) and email else None,
        token_id=claims["jti"],
        scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
    )
