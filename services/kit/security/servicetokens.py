"""Short-lived service JWTs on internal calls, bound to the caller's mTLS certificate.

A mesh service calling another signs a token with the private key of its own mesh certificate
(ES256, the key `teei certs` issued): `iss` = `sub` = its SPIFFE ID, `aud` = the callee's SPIFFE
ID, a lifetime of one minute and a fresh `jti`. The callee verifies the signature with the public
key of the client certificate the TLS handshake just verified, so a token is worthless without
the key that signed it, cannot be replayed to another service (audience), and goes stale quickly.
No shared secret and no extra key distribution: rotating the certificate rotates the signing key.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.kit import tenants
from services.kit.clock import EpochClock
from services.kit.security import jose, tenancy
from services.kit.security.auth import TokenRejected
from services.kit.security.certificates import read_pair, spiffe_id, spiffe_id_of

HEADER = "x-teei-service-token"
_TENANT = tenants.PATTERN
LIFETIME_SECONDS = 60
LEEWAY_SECONDS = 5
ALGORITHM = "ES256"


@dataclass
class ServiceTokenSigner:
    """Mints service tokens for `name` from its mesh key; reuses one per audience for half its life."""

    cert_dir: Path
    name: str
    clock: EpochClock = time.time
    _cache: dict[tuple[str, str | None], tuple[str, float]] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def token_for(self, callee: str, *, tenant: str | None = None) -> str:
        """A valid token whose audience is the SPIFFE ID of `callee`; with `tenant`, the caller acts for
        that tenant on its own (allowed only for the RPCs the trust policy grants it)."""
        if tenant is not None and not _TENANT.fullmatch(tenant):
            raise ValueError("tenant must be a company id (lower-case letters, digits, '-' or '_')")
        now = self.clock()
        with self._lock:
            cached = self._cache.get((callee, tenant))
            if cached is not None and cached[1] - now > LIFETIME_SECONDS / 2:
                return cached[0]
            token, expires = self._mint(callee, tenant, int(now))
            self._cache[(callee, tenant)] = (token, float(expires))
            return token

    def _mint(self, callee: str, tenant: str | None, now: int) -> tuple[str, int]:
        # Read the key every time a token is minted, so a rotated certificate is used at once.
        key = serialization.load_pem_private_key(read_pair(self.cert_dir, self.name).key, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"the mesh key of {self.name} is not an EC key; service tokens are {ALGORITHM}")
        identity, expires = spiffe_id(self.name), now + LIFETIME_SECONDS
        claims: dict[str, object] = {"iss": identity, "sub": identity, "aud": spiffe_id(callee), "iat": now}
        claims |= {"exp": expires, "jti": uuid.uuid4().hex}
        if tenant is not None:
            claims["tenant"] = tenant
        return jose.sign(claims, key, alg=ALGORITHM), expires


_acting_for: ContextVar[str | None] = ContextVar("teei_acting_for", default=None)


@contextmanager
def acting_for(tenant: str) -> Iterator[None]:
    """Internal calls made in this block carry service tokens that act for `tenant` (background work
    with no end user's token, e.g. a retrier); the callee allows it only for RPCs the policy grants."""
    token = _acting_for.set(tenant)
    try:
        yield
    finally:
        _acting_for.reset(token)


def verify(token: str, peer_cert_pem: bytes, *, callee: str, clock: EpochClock = time.time) -> tenancy.ServiceCaller:
    """The caller proven by `token` (signed by the key of the verified peer certificate, meant for
    `callee`) and the tenant it acts for, if any; TokenRejected (UNAUTHENTICATED) otherwise."""
    certificate = x509.load_pem_x509_certificate(peer_cert_pem)
    identity = spiffe_id_of(certificate)
    if identity is None:
        raise TokenRejected("SERVICE_TOKEN_NO_IDENTITY", "the peer certificate carries no mesh identity")
    claims = _decode(token, certificate, issuer=identity, audience=spiffe_id(callee), now=clock())
    if claims["sub"] != identity:
        raise TokenRejected("SERVICE_TOKEN_ISSUER_INVALID", "the service token's subject is not the caller")
    tenant = claims.get("tenant")
    if tenant is not None and (not isinstance(tenant, str) or not _TENANT.fullmatch(tenant)):
        raise TokenRejected("SERVICE_TOKEN_CLAIM_INVALID", "the service token names a malformed tenant")
    return tenancy.ServiceCaller(identity, tenant)


# Every failure of the shared checks, as the reasons service-token callers see.
_REASONS: Mapping[jose.Check, tuple[str, str]] = {
    jose.Check.ALGORITHM: ("SERVICE_TOKEN_ALGORITHM_NOT_ALLOWED", "service tokens are ES256"),
    jose.Check.SIGNATURE: ("SERVICE_TOKEN_SIGNATURE_INVALID", "not signed by the caller's certificate key"),
    jose.Check.AUDIENCE: ("SERVICE_TOKEN_AUDIENCE_INVALID", "the service token is meant for another service"),
    jose.Check.ISSUER: ("SERVICE_TOKEN_ISSUER_INVALID", "the service token names another caller"),
    jose.Check.EXPIRED: ("SERVICE_TOKEN_EXPIRED", "the service token has expired"),
    jose.Check.NOT_YET_VALID: ("SERVICE_TOKEN_NOT_YET_VALID", "the service token is not valid yet"),
    jose.Check.TOO_LONG_LIVED: ("SERVICE_TOKEN_TOO_LONG_LIVED", "service tokens live at most a minute"),
}
_MALFORMED = ("SERVICE_TOKEN_MALFORMED", "the service token cannot be decoded")


def _decode(token: str, certificate: x509.Certificate, *, issuer: str, audience: str, now: float) -> Mapping[str, Any]:
    """The claims of an ES256 token signed by `certificate`'s key, from `issuer` to `audience`, valid at `now`."""
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise TokenRejected("SERVICE_TOKEN_SIGNATURE_INVALID", "the caller's certificate key cannot sign ES256")
    expected = jose.Expected(
        issuer=issuer,
        audience=audience,
        required=("iss", "sub", "aud", "iat", "exp", "jti"),
        leeway=LEEWAY_SECONDS,
        max_lifetime=LIFETIME_SECONDS,
    )
    try:
        header = jose.read_header(token, algorithms=(ALGORITHM,))
        return jose.verify(token, key, header=header, expected=expected, now=now)
    except jose.JoseError as exc:
        reason, message = _REASONS.get(exc.check, _MALFORMED)
        raise TokenRejected(reason, message) from exc


class _Metadata(grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    """Adds the service token for one callee to every call on a channel."""

    def __init__(self, signer: ServiceTokenSigner, callee: str) -> None:
        self._signer, self._callee = signer, callee

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata[HEADER] = self._signer.token_for(self._callee, tenant=_acting_for.get())
        bearer = tenancy.current_bearer()
        if bearer is not None and not metadata.get_all("authorization"):
            metadata["authorization"] = f"Bearer {bearer}"
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )

    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(self._details(client_call_details), request)

    async def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(self._details(client_call_details), request)


def client_interceptor(signer: ServiceTokenSigner, callee: str) -> grpc.aio.ClientInterceptor:
    """The client interceptor that authenticates calls from `signer`'s service to `callee`."""
    interceptor: grpc.aio.ClientInterceptor = _Metadata(signer, callee)
    return interceptor
