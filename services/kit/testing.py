"""Test support shipped with the kit: a token issuer for tests, and a built Service served in-process."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import grpc
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from services.kit.grpc.channels import insecure_channel
from services.kit.grpc.server import GrpcServer, Service
from services.kit.security.auth import CachedJwks, TokenValidator

DEFAULT_ISSUER = "http://localhost:8080"
DEFAULT_AUDIENCE = "teei-api"
# Tests build call metadata at import time (e.g. `ACME = tenant("acme")`) and a whole run takes
# minutes, so test tokens outlive the run; expiry itself is tested with explicit times.
TEST_TOKEN_LIFETIME = 6 * 3600


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Issuer:
    """An RS256 token issuer with its own key, standing in for the gateway in tests of other parts.

    Tokens are real signed JWTs: services validate them exactly as they validate the gateway's.
    """

    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE
    key: rsa.RSAPrivateKey = field(default_factory=_rsa_key)

    @property
    def kid(self) -> str:
        """The key id: a hash of the public key, like the gateway's RFC 7638 thumbprints."""
        numbers = self.key.public_key().public_numbers()
        return uuid.uuid5(uuid.NAMESPACE_OID, f"{numbers.n:x}.{numbers.e:x}").hex

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set publishing this issuer's public key."""
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def claims(
        self,
        *,
        role: str = "company_admin",
        tenant: str | None = "acme",
        subject: str = "user-1",
        lifetime: int = TEST_TOKEN_LIFETIME,
    ) -> dict[str, Any]:
        """The claims of a valid access token; tests change them to build invalid ones."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "role": role,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
        }
        if tenant is not None:
            claims["company"] = tenant
        return claims

    def sign(self, claims: Mapping[str, Any], **header: Any) -> str:
        """`claims` signed with this issuer's key (extra header fields as given)."""
        return jwt.encode(dict(claims), self.key, algorithm="RS256", headers={"kid": self.kid, **header})

    def token(self, *, role: str = "company_admin", tenant: str | None = "acme", subject: str = "user-1") -> str:
        """A valid access token."""
        return self.sign(self.claims(role=role, tenant=tenant, subject=subject))

    def validator(self) -> TokenValidator:
        """A validator trusting only this issuer's key."""
        return TokenValidator(CachedJwks(self.jwks), issuer=self.issuer, audience=self.audience)


ISSUER = Issuer()


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying `token`."""
    return (("authorization", f"Bearer {token}"),)


def tenant(tenant_id: str, *, role: str = "company_admin", subject: str = "user-1") -> tuple[tuple[str, str], ...]:
    """Call metadata of a caller of `tenant_id` with `role`, as a token from the test issuer."""
    return bearer(ISSUER.token(role=role, tenant=tenant_id, subject=subject))


@asynccontextmanager
async def running(
    service: Service, *, issuer: Issuer | None = ISSUER
) -> AsyncIterator[tuple[GrpcServer, grpc.aio.Channel]]:
    """Serves `service` on 127.0.0.1 (a free port) and yields the server and a channel to it.

    The service trusts `issuer` (the test issuer by default); None keeps the service's own keys.
    """
    service = replace(service, config=service.config.model_copy(update={"grpc_host": "127.0.0.1", "grpc_port": 0}))
    if issuer is not None:
        service = replace(service, jwks=issuer.jwks)
    server = GrpcServer(service)
    port = await server.start()
    channel = insecure_channel(f"127.0.0.1:{port}")
    try:
        yield server, channel
    finally:
        await channel.close()
        await server.stop()
