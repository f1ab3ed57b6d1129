"""GatewayService servicer: proto ⇄ command, nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc

from services.gateway import handlers, token_request
from services.gateway.domain.tokens import TokenSettings
from services.gateway.keyring import KeyRing
from services.gateway.repository import GatewayUnitOfWork
from teei.gateway.v1 import gateway_pb2, gateway_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]
_JWK_FIELDS = tuple(gateway_pb2.Jwk.DESCRIPTOR.fields_by_name)
# RFC 6749 section 5.1: token responses must not be cached.
_NO_STORE = (("cache-control", "no-store"), ("pragma", "no-cache"))


class GatewayServicer(gateway_pb2_grpc.GatewayServiceServicer):
    """Serves the JWKS and the token endpoint; the RPCs not built yet answer UNIMPLEMENTED (inherited)."""

    def __init__(
        self, *, uow: GatewayUnitOfWork, keys: KeyRing, settings: TokenSettings, clock: Callable[[], Any]
    ) -> None:
        self._uow = uow
        self._keys = keys
        self._settings = settings
        self._clock = clock

    async def GetJwks(self, request: gateway_pb2.GetJwksRequest, context: Context) -> gateway_pb2.GetJwksResponse:
        published = await asyncio.to_thread(self._keys.published)
        max_age = int(self._keys.policy.jwks_max_age.total_seconds())
        # Envoy's transcoder turns response metadata into HTTP headers.
        await context.send_initial_metadata((("cache-control", f"public, max-age={max_age}"),))
        return gateway_pb2.GetJwksResponse(keys=[to_jwk(key.public_jwk) for key in published])

    async def IssueToken(
        self, request: gateway_pb2.IssueTokenRequest, context: Context
    ) -> gateway_pb2.IssueTokenResponse:
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        command = token_request.parse(request, metadata)
        issued = await asyncio.to_thread(
            handlers.issue_token, command, uow=self._uow, keys=self._keys, settings=self._settings, clock=self._clock
        )
        await context.send_initial_metadata(_NO_STORE)
        return gateway_pb2.IssueTokenResponse(
            access_token=issued.access_token,
            token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
            expires_in=issued.expires_in,
            scope=issued.scope,
        )


def to_jwk(public_jwk: Any) -> gateway_pb2.Jwk:
    """The wire form of one public key."""
    return gateway_pb2.Jwk(**{name: public_jwk[name] for name in _JWK_FIELDS if name in public_jwk})
