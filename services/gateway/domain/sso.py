"""OpenID Connect sign-in of company admins: providers, pending logins (state, nonce, PKCE) and identity → tenant."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.gateway.domain.errors import (
    EmailDomainNotAllowed,
    EmailNotVerified,
    IdTokenRejected,
    LoginStateExpired,
    LoginStateInvalid,
    LoginStateReused,
    RedirectNotAllowed,
)

SSO_ROLES = frozenset({"company_admin", "company_user"})
LOGIN_TTL = timedelta(minutes=10)
DEFAULT_SCOPES = ("openid", "email", "profile")
_EMAIL = re.compile(r"^[^@\s]{1,64}@([a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})+)$")


@dataclass(frozen=True)
class DomainGrant:
    """What a verified e-mail of one domain becomes on the platform."""

    tenant: str
    role: str = "company_admin"


@dataclass(frozen=True)
class Provider:
    """One configured OpenID Provider and the gateway's registration at it."""

    name: str
    issuer: str
    discovery_url: str
    client_id: str
    client_secret: str = field(repr=False)
    callback_url: str = ""
    domains: Mapping[str, DomainGrant] = field(default_factory=dict)
    allowed_redirects: frozenset[str] = frozenset()
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    # Claims any one of which, when true, proves the provider verified the e-mail address.
    verified_email_claims: tuple[str, ...] = ("email_verified",)


@dataclass(frozen=True)
class PendingLogin:
    """A login between SsoLogin and SsoCallback; only the hash of its state is kept."""

    state_hash: str
    provider: str
    nonce: str
    code_verifier: str
    redirect_uri: str | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True)
class LoginStart:
    """A fresh login: the state for the browser, what to store, and the PKCE challenge for the provider."""

    state: str
    pending: PendingLogin
    code_challenge: str


@dataclass(frozen=True)
class Identity:
    """The provider-vouched user, mapped to a company and role."""

    subject: str
    email: str
    tenant: str
    role: str


def hash_state(state: str) -> str:
    """What the database keeps of a state: a leaked table row cannot complete a login."""
    return hashlib.sha256(state.encode()).hexdigest()


def s256_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def allowed_redirect(provider: Provider, redirect_uri: str) -> str | None:
    """The post-login redirect, exactly as allow-listed (no prefix matching), or None when none was asked for."""
    if not redirect_uri:
        return None
    if redirect_uri not in provider.allowed_redirects:
        raise RedirectNotAllowed(
            "redirect_uri is not an allowed post-login redirect for this provider", metadata={"provider": provider.name}
        )
    return redirect_uri


def start_login(
    provider: Provider, *, redirect_uri: str | None, now: datetime, ttl: timedelta = LOGIN_TTL
) -> LoginStart:
    """New random state and nonce (256 bits each) and a PKCE verifier (RFC 7636: 43-128 characters)."""
    state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    pending = PendingLogin(
        state_hash=hash_state(state),
        provider=provider.name,
        nonce=secrets.token_urlsafe(32),
        code_verifier=verifier,
        redirect_uri=redirect_uri,
        created_at=now,
        expires_at=now + ttl,
    )
    return LoginStart(state=state, pending=pending, code_challenge=s256_challenge(verifier))


def authorization_url(endpoint: str, provider: Provider, start: LoginStart, *, login_hint: str = "") -> str:
    """The provider's authorization endpoint with the code-flow parameters appended to its own query."""
    params = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": provider.callback_url,
        "scope": " ".join(provider.scopes),
        "state": start.state,
        "nonce": start.pending.nonce,
        "code_challenge": start.code_challenge,
        "code_challenge_method": "S256",
    }
    if login_hint:
        params["login_hint"] = login_hint
    parts = urllib.parse.urlsplit(endpoint)
    query = "&".join(filter(None, (parts.query, urllib.parse.urlencode(params, quote_via=urllib.parse.quote))))
    return urllib.parse.urlunsplit(parts._replace(query=query))


def check_pending(pending: PendingLogin | None, *, provider: str, now: datetime, first_use: bool) -> PendingLogin:
    """The login the callback completes: issued, for this provider, unexpired and used for the first time."""
    if pending is None or pending.provider != provider:
        raise LoginStateInvalid("the state was not issued by a login at this provider", metadata={"provider": provider})
    if not first_use:
        raise LoginStateReused("this login was completed or attempted already", metadata={"provider": provider})
    if now >= pending.expires_at:
        raise LoginStateExpired("the login expired; start again", metadata={"provider": provider})
    return pending


def check_nonce(claims: Mapping[str, Any], pending: PendingLogin) -> None:
    """The ID token answers this login: its nonce is the one sent in the authorization request."""
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), pending.nonce.encode()):
        raise IdTokenRejected("nonce", "the ID token's nonce does not match the login", provider=pending.provider)


def identity(claims: Mapping[str, Any], provider: Provider) -> Identity:
    """The verified e-mail's domain → tenant and role; the subject is namespaced by the provider."""
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise EmailNotVerified("the provider did not share an e-mail address", metadata={"provider": provider.name})
    if not any(_is_true(claims.get(name)) for name in provider.verified_email_claims):
        raise EmailNotVerified(
            "the provider has not verified this e-mail address", metadata={"provider": provider.name}
        )
    normalised = email.strip().lower()
    matched = _EMAIL.match(normalised)
    domain = matched.group(1) if matched else ""
    grant = provider.domains.get(domain)
    if grant is None:
        raise EmailDomainNotAllowed(
            "this e-mail domain may not sign in with this provider",
            metadata={"provider": provider.name, "domain": domain},
        )
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise IdTokenRejected("claims", "the ID token has no subject", provider=provider.name)
    return Identity(subject=f"{provider.name}:{subject}", email=normalised, tenant=grant.tenant, role=grant.role)


def token_redirect(redirect_uri: str, *, access_token: str, expires_in: int) -> str:
    """The post-login redirect with the token in the fragment: never sent to a server, never in access logs."""
    fragment = urllib.parse.urlencode({"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in})
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(redirect_uri)._replace(fragment=fragment))


def _is_true(value: Any) -> bool:
    # Some providers send the boolean as a string.
    return value is True or value == "true"
