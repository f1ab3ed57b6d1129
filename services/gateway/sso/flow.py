"""SSO login and callback (OpenID Connect authorization code flow with PKCE): one function per command."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.gateway import handlers
from services.gateway.domain import sso as rules
from services.gateway.domain.commands import CompleteSsoLogin, StartSsoLogin
from services.gateway.domain.errors import (
    IdTokenRejected,
    InvalidSsoRequest,
    ProviderRefusedLogin,
    SsoNotConfigured,
    UnknownSsoProvider,
)
from services.gateway.domain.sso import PendingLogin, Provider
from services.gateway.domain.tokens import IssuedToken, TokenSettings
from services.gateway.keys.ring import KeyRing
from services.gateway.repository import GatewayUnitOfWork
from services.gateway.sso import id_tokens
from services.gateway.sso.config import SsoSettings
from services.gateway.sso.oidc import OidcClient
from services.kit import logs
from services.kit.clock import Clock, utc_now
from services.kit.errors import FieldViolation

log = logs.get_logger(__name__)

_LIMITS = {"code": 2048, "state": 256, "redirect_uri": 2048, "login_hint": 254}
_OAUTH_ERROR = re.compile(r"^[a-z_]{1,64}$")


@dataclass(frozen=True)
class SsoParts:
    """What the SSO flow works with: the providers, the relying-party client, the store and the signer."""

    settings: SsoSettings
    oidc: OidcClient
    uow: GatewayUnitOfWork
    keys: KeyRing
    tokens: TokenSettings
    clock: Clock = utc_now
    leeway_seconds: float = 60.0


@dataclass(frozen=True)
class LoginCompleted:
    """The platform token, and where to send the browser with it when the login asked for a redirect."""

    issued: IssuedToken
    redirect_to: str | None


async def start_login(command: StartSsoLogin, *, parts: SsoParts) -> str:
    """Stores a new pending login and returns the provider's authorization URL for it."""
    provider = _provider(parts, command.provider)
    _check_lengths(redirect_uri=command.redirect_uri, login_hint=command.login_hint)
    redirect_uri = rules.allowed_redirect(provider, command.redirect_uri)
    metadata = await parts.oidc.metadata(provider)
    now = parts.clock()
    start = rules.start_login(provider, redirect_uri=redirect_uri, now=now, ttl=parts.settings.login_ttl)
    await asyncio.to_thread(_store, start.pending, parts.uow, now)
    log.info("sso.login.started", provider=provider.name)
    return rules.authorization_url(metadata.authorization_endpoint, provider, start, login_hint=command.login_hint)


async def complete_login(command: CompleteSsoLogin, *, parts: SsoParts) -> LoginCompleted:
    """Consumes the login's state, exchanges the code, validates the ID token and signs the platform token."""
    provider = _provider(parts, command.provider)
    _check_lengths(code=command.code, state=command.state)
    if command.error:
        await _claim(parts, command.state, now=parts.clock())  # a refused login is over: its state is spent
        raise _refused(provider, command)
    _require(code=command.code, state=command.state)
    pending = await _consume(parts, command)
    if command.issuer and command.issuer != (await parts.oidc.metadata(provider)).issuer:
        # RFC 9207: the response names another issuer — a mix-up between providers; never redeem the code.
        raise IdTokenRejected("iss", "the authorization response comes from another issuer", provider=provider.name)
    claims = await _id_token_claims(parts, provider, command.code, pending)
    who = rules.identity(claims, provider)
    issued = await asyncio.to_thread(
        handlers.sign_in, who, uow=parts.uow, keys=parts.keys, settings=parts.tokens, clock=parts.clock
    )
    log.info("sso.login.completed", provider=provider.name, tenant=who.tenant, role=who.role)
    redirect = pending.redirect_uri
    return LoginCompleted(
        issued=issued,
        redirect_to=rules.token_redirect(redirect, access_token=issued.access_token, expires_in=issued.expires_in)
        if redirect
        else None,
    )


async def _id_token_claims(parts: SsoParts, provider: Provider, code: str, pending: PendingLogin) -> dict[str, Any]:
    """The code exchanged (with the login's PKCE verifier) for an ID token, whose claims are returned once the
    provider's signature, the issuer, the audience, the times and the login's nonce check out."""
    metadata = await parts.oidc.metadata(provider)
    id_token = await parts.oidc.exchange_code(provider, metadata, code=code, code_verifier=pending.code_verifier)
    header = id_tokens.header(id_token, provider=provider.name)
    key = await parts.oidc.signing_key(provider, metadata, kid=header.kid, alg=header.alg)
    expected = id_tokens.Expected(
        provider=provider.name,
        issuer=metadata.issuer,
        client_id=provider.client_id,
        now=parts.clock().timestamp(),
        leeway=parts.leeway_seconds,
    )
    claims = id_tokens.verify(id_token, key, header=header, expected=expected)
    rules.check_nonce(claims, pending)
    return claims


def _provider(parts: SsoParts, name: str) -> Provider:
    if not parts.settings.configured:
        raise SsoNotConfigured("SSO is not configured on this gateway")
    provider = parts.settings.providers.get(name)
    if provider is None:
        raise UnknownSsoProvider("no SSO provider is configured under this name", metadata={"provider": name[:63]})
    return provider


def _store(pending: PendingLogin, uow: GatewayUnitOfWork, now: datetime) -> None:
    with uow.begin() as repo:
        repo.sso_logins.purge(now=now)
        repo.sso_logins.add(pending)


async def _consume(parts: SsoParts, command: CompleteSsoLogin) -> PendingLogin:
    now = parts.clock()
    pending, first_use = await _claim(parts, command.state, now=now)
    return rules.check_pending(pending, provider=command.provider, now=now, first_use=first_use)


async def _claim(parts: SsoParts, state: str, *, now: datetime) -> tuple[PendingLogin | None, bool]:
    if not state:
        return None, False

    def claim() -> tuple[PendingLogin | None, bool]:
        with parts.uow.begin() as repo:
            return repo.sso_logins.consume(rules.hash_state(state), now=now)

    return await asyncio.to_thread(claim)


def _refused(provider: Provider, command: CompleteSsoLogin) -> ProviderRefusedLogin:
    error = command.error if _OAUTH_ERROR.match(command.error) else "invalid_error_code"
    # The description is the provider's text: shown to the user, cut short and limited to printable ASCII.
    described = "".join(ch for ch in command.error_description[:200] if " " <= ch <= "~")
    return ProviderRefusedLogin(
        f"the provider refused the login ({error})",
        metadata={"provider": provider.name, "error": error, "error_description": described},
    )


def _check_lengths(**values: str) -> None:
    too_long = [
        FieldViolation(name, f"must be at most {_LIMITS[name]} characters")
        for name, value in values.items()
        if len(value) > _LIMITS[name]
    ]
    if too_long:
        named = "; ".join(f"{v.field} {v.description}" for v in too_long)
        raise InvalidSsoRequest(f"SSO request field too long: {named}", violations=too_long)


def _require(**values: str) -> None:
    missing = [FieldViolation(name, "required") for name, value in values.items() if not value]
    if missing:
        raise InvalidSsoRequest("the callback lacks the provider's code or the login's state", violations=missing)
