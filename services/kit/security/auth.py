"""Access-token validation against a JWKS, the caller's Principal, and the role → permission table."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from services.kit import tenants
from services.kit.clock import EpochClock
from services.kit.errors import PermissionDenied, Unauthenticated, Unavailable
from services.kit.security import jose
from services.kit.security.access import AccessRule
from services.kit.telemetry import metrics
from teei.common.v1 import access_pb2

ALGORITHMS = jose.ALGORITHMS
REQUIRED_CLAIMS = ("iss", "aud", "sub", "role", "iat", "exp", "jti")
MAX_JWKS_BYTES = 1024 * 1024
# Tokens whose signature and claims were verified, kept by validator (most recently used last).
VERIFIED_TOKENS = 4096
JwksFetch = Callable[[], Mapping[str, Any]]

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


_REASONS: Mapping[jose.Check, str] = {
    jose.Check.MALFORMED: "TOKEN_MALFORMED",
    jose.Check.ALGORITHM: "TOKEN_ALGORITHM_NOT_ALLOWED",
    jose.Check.HEADER: "TOKEN_HEADER_NOT_ALLOWED",
    jose.Check.KID: "TOKEN_KID_INVALID",
    jose.Check.KEY_UNKNOWN: "TOKEN_KEY_UNKNOWN",
    jose.Check.SIGNATURE: "TOKEN_SIGNATURE_INVALID",
    jose.Check.CLAIM_MISSING: "TOKEN_CLAIM_MISSING",
    jose.Check.CLAIM_INVALID: "TOKEN_CLAIM_INVALID",
    jose.Check.ISSUER: "TOKEN_ISSUER_INVALID",
    jose.Check.AUDIENCE: "TOKEN_AUDIENCE_INVALID",
    jose.Check.EXPIRED: "TOKEN_EXPIRED",
    jose.Check.NOT_YET_VALID: "TOKEN_NOT_YET_VALID",
    jose.Check.TOO_LONG_LIVED: "TOKEN_TOO_LONG_LIVED",
}


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
    """A JWKS fetch over HTTP(S) from `url`; anything but a 200 JSON object of at most 1 MiB fails."""
    if not url.startswith(("https://", "http://")):
        raise ValueError("the JWKS URL must be http(s)")

    def fetch() -> Mapping[str, Any]:
        with httpx.stream("GET", url, timeout=timeout, headers={"accept": "application/json"}) as response:
            response.raise_for_status()
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError("the JWKS is larger than 1 MiB")
        document = json.loads(body)
        if not isinstance(document, dict):
            raise ValueError("the JWKS is not a JSON object")
        return document

    return fetch


@dataclass
class CachedJwks:
    """Keys from a JWKS fetch, cached for `max_age` s; an unknown kid refetches at most every `min_refetch` s."""

    fetch: JwksFetch
    max_age: float = 300.0
    min_refetch: float = 30.0
    clock: EpochClock = time.monotonic
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
            metrics.JWKS_REFRESHES.labels("failed").inc()
            if self._keys:
                return  # keep validating with the keys we had; the issuer is briefly unreachable
            raise Unavailable("the signing keys cannot be fetched") from exc
        self._keys = _parse_jwks(document)
        self._fetched_at = now
        metrics.JWKS_REFRESHES.labels("ok").inc()
        metrics.JWKS_LAST_REFRESH.set_to_current_time()


def _parse_jwks(document: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document.get("keys", ()):
        kid, alg = entry.get("kid"), entry.get("alg")
        # An entry without its own alg, or one that cannot be used, is skipped: it must not hide the others.
        key = jose.import_jwk(entry, alg=alg) if isinstance(kid, str) and alg in ALGORITHMS else None
        if key is not None:
            keys[kid] = key
    return keys


@dataclass(frozen=True)
class _Verified:
    """A token that passed every check: the key it verified with, its claims and the Principal they give."""

    kid: str
    key: jwt.PyJWK
    claims: Mapping[str, Any]
    principal: Principal


class TokenValidator:
    """Validates RS256/ES256 access tokens against a JWKS and returns the caller's Principal.

    A verified token is remembered by its exact text (at most `capacity`, least recently used dropped),
    so a caller's repeated calls skip decoding and the signature check. A remembered token is still
    refused exactly as before once its times fail (checked on every call with the validator's clock) or
    once the key set no longer holds the very key it verified with (rotated out, or refreshed).
    """

    def __init__(
        self,
        jwks: CachedJwks,
        *,
        issuer: str,
        audience: str,
        leeway: float = 30.0,
        clock: EpochClock = time.time,
        capacity: int = VERIFIED_TOKENS,
    ) -> None:
        self._jwks = jwks
        self._expected = jose.Expected(issuer=issuer, audience=audience, required=REQUIRED_CLAIMS, leeway=leeway)
        self._clock = clock
        self._capacity = capacity
        self._verified: OrderedDict[str, _Verified] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def jwks(self) -> CachedJwks:
        """The key cache this validator reads."""
        return self._jwks

    def kid(self, token: str) -> str | None:
        """The `kid` a token names (unverified unless the token was verified before); None when garbled."""
        with self._lock:
            known = self._verified.get(token)
        return known.kid if known is not None else unverified_kid(token)

    def validate(self, token: str) -> Principal:
        """The Principal the token proves, or TokenRejected (UNAUTHENTICATED) naming the failed check."""
        with self._lock:
            known = self._verified.get(token)
            if known is not None:
                self._verified.move_to_end(token)
        if known is not None and self._still_valid(known):
            return known.principal
        return self._verify(token)

    def _still_valid(self, known: _Verified) -> bool:
        # Same checks as a first validation for what can change after it: the key set and the clock.
        if self._jwks.key(known.kid) is not known.key:
            return False
        try:
            expected = self._expected
            jose.check_times(
                known.claims, now=self._clock(), leeway=expected.leeway, max_lifetime=expected.max_lifetime
            )
        except jose.JoseError:
            return False
        return True

    def _verify(self, token: str) -> Principal:
        try:
            header = jose.read_header(token, algorithms=ALGORITHMS, require_kid=True)
            key = self._jwks.key(header.kid or "")
            claims = jose.verify(token, key, header=header, expected=self._expected, now=self._clock())
        except jose.JoseError as exc:
            self._forget(token)
            raise TokenRejected(_REASONS[exc.check], exc.detail) from exc
        try:
            principal = _principal(claims)
        except TokenRejected:
            self._forget(token)
            raise
        if isinstance(key, jwt.PyJWK):
            self._remember(token, _Verified(header.kid or "", key, claims, principal))
        return principal

    def _remember(self, token: str, verified: _Verified) -> None:
        with self._lock:
            self._verified[token] = verified
            self._verified.move_to_end(token)
            while len(self._verified) > self._capacity:
                self._verified.popitem(last=False)

    def _forget(self, token: str) -> None:
        with self._lock:
            self._verified.pop(token, None)


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
    return jose.unverified_kid(token)


def _principal(claims: Mapping[str, Any]) -> Principal:
    role, subject = claims["role"], claims["sub"]
    if role not in ROLES:
        raise TokenRejected("TOKEN_CLAIM_INVALID", "the token's role is unknown")
    if not isinstance(subject, str) or not subject or not isinstance(claims["jti"], str):
        raise TokenRejected("TOKEN_CLAIM_INVALID", "the token's sub and jti must be non-empty strings")
    email = claims.get("email")
    scope = claims.get("scope", "")
    return Principal(
        subject=subject,
        tenant=_tenant(claims.get("company"), role),
        role=role,
        email=email if isinstance(email, str) and email else None,
        token_id=claims["jti"],
        scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
    )


def _tenant(company: object, role: str) -> str | None:
    """The tenant a `company` claim names: required but for super admins, and in its one spelling."""
    if company is None or company == "":
        if role == "super_admin":
            return None
        raise TokenRejected("TOKEN_CLAIM_MISSING", "the token lacks the 'company' claim")
    if not tenants.is_tenant(company):
        raise TokenRejected("TOKEN_CLAIM_INVALID", f"the token's 'company' claim must be {tenants.GRAMMAR}")
    return company
