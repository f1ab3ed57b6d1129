"""SSO rules without a network: state checks, nonce, e-mail → tenant mapping, post-login redirects."""

from __future__ import annotations

import urllib.parse
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.gateway.domain import sso as rules
from services.gateway.domain.errors import (
    EmailDomainNotAllowed,
    EmailNotVerified,
    IdTokenRejected,
    LoginStateExpired,
    LoginStateInvalid,
    LoginStateReused,
    RedirectNotAllowed,
)
from services.gateway.domain.sso import DomainGrant, Provider
from services.kit.errors import PermissionDenied

ISSUER = "https://idp.example.org"
CLIENT = "teei-gateway"
PROVIDER = Provider(
    name="corp",
    issuer=ISSUER,
    discovery_url=f"{ISSUER}/.well-known/openid-configuration",
    client_id=CLIENT,
    client_secret="s3cret",
    callback_url="https://api.example.com/v1/auth/sso/corp/callback",
    domains={"acme.com": DomainGrant("acme"), "globex.io": DomainGrant("globex", "company_user")},
    allowed_redirects=frozenset({"https://app.example.com/signed-in"}),
)
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_nonce_must_be_the_logins() -> None:
    start = rules.start_login(PROVIDER, redirect_uri=None, now=NOW)
    rules.check_nonce({"nonce": start.pending.nonce}, start.pending)
    for claims in ({"nonce": "other"}, {}):
        with pytest.raises(IdTokenRejected) as caught:
            rules.check_nonce(claims, start.pending)
        assert caught.value.check == "nonce"


def test_state_must_be_issued_for_this_provider_unused_and_unexpired() -> None:
    pending = rules.start_login(PROVIDER, redirect_uri=None, now=NOW).pending
    assert rules.check_pending(pending, provider="corp", now=NOW, first_use=True) is pending
    with pytest.raises(LoginStateInvalid):
        rules.check_pending(None, provider="corp", now=NOW, first_use=False)
    with pytest.raises(LoginStateInvalid):
        rules.check_pending(pending, provider="google", now=NOW, first_use=True)
    with pytest.raises(LoginStateReused):
        rules.check_pending(pending, provider="corp", now=NOW, first_use=False)
    with pytest.raises(LoginStateExpired):
        rules.check_pending(pending, provider="corp", now=NOW + timedelta(minutes=10), first_use=True)


def test_each_login_gets_fresh_secrets() -> None:
    first, second = (rules.start_login(PROVIDER, redirect_uri=None, now=NOW) for _ in range(2))
    assert first.state != second.state
    assert first.pending.nonce != second.pending.nonce
    assert first.pending.code_verifier != second.pending.code_verifier
    assert 43 <= len(first.pending.code_verifier) <= 128


def test_verified_email_domain_maps_to_tenant_and_role() -> None:
    who = rules.identity({"sub": "u-1", "email": "Ada@ACME.com", "email_verified": True}, PROVIDER)
    assert (who.subject, who.email, who.tenant, who.role) == ("corp:u-1", "ada@acme.com", "acme", "company_admin")
    user = rules.identity({"sub": "u-2", "email": "bo@globex.io", "email_verified": "true"}, PROVIDER)
    assert (user.tenant, user.role) == ("globex", "company_user")


def test_azure_vouches_for_the_email_domain_with_xms_edov() -> None:
    azure = replace(PROVIDER, verified_email_claims=("email_verified", "xms_edov"))
    assert rules.identity({"sub": "u-1", "email": "ada@acme.com", "xms_edov": True}, azure).tenant == "acme"
    with pytest.raises(EmailNotVerified):
        rules.identity({"sub": "u-1", "email": "ada@acme.com", "xms_edov": True}, PROVIDER)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "u-1", "email": "ada@acme.com"},
        {"sub": "u-1", "email": "ada@acme.com", "email_verified": False},
        {"sub": "u-1", "email": "ada@acme.com", "email_verified": "false"},
        {"sub": "u-1", "email_verified": True},
    ],
)
def test_unverified_or_missing_email_is_refused(claims: dict[str, Any]) -> None:
    with pytest.raises(EmailNotVerified):
        rules.identity(claims, PROVIDER)


@pytest.mark.parametrize(
    "email", ["ada@evil.com", "ada@sub.acme.com", "ada@acme.com.evil.io", "acme.com", "a@b@acme.com"]
)
def test_domains_not_mapped_are_denied(email: str) -> None:
    with pytest.raises(EmailDomainNotAllowed) as caught:
        rules.identity({"sub": "u-1", "email": email, "email_verified": True}, PROVIDER)
    assert isinstance(caught.value, PermissionDenied)


def test_post_login_redirect_must_be_allow_listed_exactly() -> None:
    assert rules.allowed_redirect(PROVIDER, "") is None
    assert rules.allowed_redirect(PROVIDER, "https://app.example.com/signed-in") == "https://app.example.com/signed-in"
    for uri in ("https://app.example.com/signed-in/x", "https://app.example.com/signed-in?next=//evil.io"):
        with pytest.raises(RedirectNotAllowed):
            rules.allowed_redirect(PROVIDER, uri)


def test_token_rides_in_the_redirects_fragment() -> None:
    url = rules.token_redirect("https://app.example.com/signed-in?tab=1", access_token="a.b.c", expires_in=900)
    parts = urllib.parse.urlsplit(url)
    assert parts.query == "tab=1"
    assert dict(urllib.parse.parse_qsl(parts.fragment)) == {
        "access_token": "a.b.c",
        "token_type": "Bearer",
        "expires_in": "900",
    }
