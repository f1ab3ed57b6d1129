"""GatewayService servicer: proto ⇄ command, nothing else."""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Callable
from typing import Any

import grpc
from google.api import httpbody_pb2

from services.gateway import handlers, sso, token_request
from services.gateway.domain.commands import CompleteSsoLogin, StartSsoLogin
from services.gateway.domain.tokens import IssuedToken, TokenSettings
from services.gateway.keyring import KeyRing
from services.gateway.repository import GatewayUnitOfWork
from teei.gateway.v1 import gateway_pb2, gateway_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]
_JWK_FIELDS = tuple(gateway_pb2.Jwk.DESCRIPTOR.fields_by_name)
# RFC 6749 section 5.1: token responses must not be cached.
_NO_STORE = (("cache-control", "no-store"), ("pragma", "no-cache"))
# The edge turns these two headers into an HTTP 302 (initial metadata become response headers).
HTTP_STATUS_HEADER = "x-teei-http-status"


class GatewayServicer(gateway_pb2_grpc.GatewayServiceServicer):
    """Serves the JWKS, the token endpoint and SSO; the RPCs not built yet answer UNIMPLEMENTED (inherited)."""

    def __init__(
        self,
        *,
        uow: GatewayUnitOfWork,
        keys: KeyRing,
        settings: TokenSettings,
        clock: Callable[[], Any],
        sso_parts: sso.SsoParts,
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

    async def SsoLogin(self, request: gateway_pb2.SsoLoginRequest, context: Context) -> gateway_pb2.SsoLoginResponse:
        command = StartSsoLogin(
            provider=request.provider, redirect_uri=request.redirect_uri, login_hint=request.login_hint
        )
        url = await sso.start_login(command, parts=self._sso)
        await context.send_initial_metadata(redirect_headers(url))
        return gateway_pb2.SsoLoginResponse(body=redirect_page(url), authorization_url=url)

    async def SsoCallback(
        self, request: gateway_pb2.SsoCallbackRequest, context: Context
    ) -> gateway_pb2.SsoCallbackResponse:
        fields = ("provider", "code", "state", "error", "error_description")
        command = CompleteSsoLogin(**{name: getattr(request, name) for name in fields}, issuer=request.iss)
        completed = await sso.complete_login(command, parts=self._sso)
        if completed.redirect_to:
            await context.send_initial_metadata(redirect_headers(completed.redirect_to))
            return gateway_pb2.SsoCallbackResponse(body=redirect_page(completed.redirect_to))
        await context.send_initial_metadata(_NO_STORE)
        return gateway_pb2.SsoCallbackResponse(body=token_body(completed.issued))


def redirect_headers(url: str) -> tuple[tuple[str, str], ...]:
    """Response metadata of a browser redirect; nothing of it may be cached or leak as a referrer."""
    return ((HTTP_STATUS_HEADER, "302"), ("location", url), *_NO_STORE, ("referrer-policy", "no-referrer"))


def redirect_page(url: str) -> httpbody_pb2.HttpBody:
    """A minimal page linking to `url`, for clients that do not follow the redirect."""
    link = html.escape(url, quote=True)
    page = f'<!doctype html><meta charset="utf-8"><title>Redirecting</title><p><a href="{link}">Continue</a></p>'
    return httpbody_pb2.HttpBody(content_type="text/html; charset=utf-8", data=page.encode())


def token_body(issued: IssuedToken) -> httpbody_pb2.HttpBody:
    """The OAuth 2.0 token response (RFC 6749 section 5.1) as JSON."""
    answer = {"access_token": issued.access_token, "token_type": "Bearer", "expires_in": issued.expires_in}
    return httpbody_pb2.HttpBody(content_type="application/json", data=json.dumps(answer).encode())


def to_jwk(public_jwk: Any) -> gateway_pb2.Jwk:
    """The wire form of one public key."""
    return gateway_pb2.Jwk(**{name: public_jwk[name] for name in _JWK_FIELDS if name in public_jwk})
