"""GatewayService servicer: proto → command through wire, the handler or SSO flow, domain → proto."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn

import grpc

from services.gateway import handlers, wire
from services.gateway.domain.errors import DiagnosticFailure
from services.gateway.domain.tokens import TokenSettings
from services.gateway.keys.ring import KeyRing
from services.gateway.repository import GatewayUnitOfWork
from services.gateway.sso import flow
from services.kit.grpc.unbuilt import NotBuilt
from teei.gateway.v1 import gateway_pb2, gateway_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]


class GatewayServicer(gateway_pb2_grpc.GatewayServiceServicer):
    """Serves the JWKS, the token endpoint and SSO."""

    # Declared by the contract, answered UNIMPLEMENTED (501) until built.
    ExportOwnData = NotBuilt("privacy export")
    DeleteOwnData = NotBuilt("privacy erasure")
    ExportSubjectData = NotBuilt("privacy export")
    DeleteSubjectData = NotBuilt("privacy erasure")
    GetPrivacyRequest = NotBuilt("privacy requests")
    ListPrivacyRequests = NotBuilt("privacy requests")

    def __init__(
        self,
        *,
        uow: GatewayUnitOfWork,
        keys: KeyRing,
        settings: TokenSettings,
        clock: Callable[[], datetime],
        sso_parts: flow.SsoParts,
    ) -> None:
        self._uow = uow
        self._keys = keys
        self._settings = settings
        self._clock = clock
        self._sso = sso_parts

    async def GetJwks(self, request: gateway_pb2.GetJwksRequest, context: Context) -> gateway_pb2.GetJwksResponse:
        published = await asyncio.to_thread(self._keys.published)
        max_age = int(self._keys.policy.jwks_max_age.total_seconds())
        # Envoy's transcoder turns response metadata into HTTP headers.
        await context.send_initial_metadata((("cache-control", f"public, max-age={max_age}"),))
        return wire.jwks_response(published)

    async def IssueToken(
        self, request: gateway_pb2.IssueTokenRequest, context: Context
    ) -> gateway_pb2.IssueTokenResponse:
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        command = wire.issue_token(request, metadata)
        issued = await asyncio.to_thread(
            handlers.issue_token, command, uow=self._uow, keys=self._keys, settings=self._settings, clock=self._clock
        )
        await context.send_initial_metadata(wire.NO_STORE)
        return wire.issue_token_response(issued)

    async def SsoLogin(self, request: gateway_pb2.SsoLoginRequest, context: Context) -> gateway_pb2.SsoLoginResponse:
        url = await flow.start_login(wire.start_sso_login(request), parts=self._sso)
        await context.send_initial_metadata(wire.redirect_headers(url))
        return gateway_pb2.SsoLoginResponse(body=wire.redirect_page(url), authorization_url=url)

    async def SsoCallback(
        self, request: gateway_pb2.SsoCallbackRequest, context: Context
    ) -> gateway_pb2.SsoCallbackResponse:
        completed = await flow.complete_login(wire.complete_sso_login(request), parts=self._sso)
        if completed.redirect_to:
            await context.send_initial_metadata(wire.redirect_headers(completed.redirect_to))
            return gateway_pb2.SsoCallbackResponse(body=wire.redirect_page(completed.redirect_to))
        await context.send_initial_metadata(wire.NO_STORE)
        return gateway_pb2.SsoCallbackResponse(body=wire.token_body(completed.issued))

    async def RaiseDiagnosticError(
        self, request: gateway_pb2.RaiseDiagnosticErrorRequest, context: Context
    ) -> NoReturn:
        raise DiagnosticFailure(wire.diagnostic_note(request))
