"""SSO rules without a network: ID-token checks, state checks, e-mail → tenant mapping, post-login redirects."""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.gateway import id_tokens
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
from services.kit.errors import PermissionDenied, Unauthenticated

ISSUER = "https://idp.example.org"
CLIENT = "teei-gateway"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
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


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "u-1", "aud": CLIENT, "iat": now, "exp": now + 300, "nonce": "n-1"}
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _b64(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def _sign(claims: dict[str, Any], *, key: Any = RSA_KEY, alg: str = "RS256", **header: Any) -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": "k1", **header})


def _verify(token: str, *, key: Any = RSA_KEY, alg: str = "RS256", now: float | None = None) -> dict[str, Any]:
    public = jwt.PyJWK(jwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key(), as_dict=True), alg)
    expected = id_tokens.Expected(provider="corp", issuer=ISSUER, client_id=CLIENT, now=now or time.time())
    return id_tokens.verify(token, public, alg=alg, expected=expected)


def _header_and_claims(token: str) -> dict[str, Any]:
    id_tokens.header(token, provider="corp")
    return _verify(token)


def _rejected(token: str) -> str:
    with pytest.raises(IdTokenRejected) as caught:
        _header_and_claims(token)
    assert isinstance(caught.value, Unauthenticated)
    return caught.value.check


def test_a_valid_rs256_or_es256_id_token_gives_its_claims() -> None:
    assert _verify(_sign(_claims()))["sub"] == "u-1"
    assert _verify(_sign(_claims(), key=EC_KEY, alg="ES256"), key=EC_KEY, alg="ES256")["sub"] == "u-1"
    assert id_tokens.header(_sign(_claims()), provider="corp") == ("RS256", "k1")


def test_symmetric_and_unsigned_tokens_are_refused_before_any_key_is_chosen() -> None:
    assert _rejected(jwt.encode(_claims(), "k" * 32, algorithm="HS256")) == "algorithm"
    unsigned = b".".join(_b64(json.dumps(part).encode()) for part in ({"alg": "none"}, _claims())) + b"."
    assert _rejected(unsigned.decode()) == "algorithm"
    assert _rejected("not-a-jwt") == "malformed"


def test_tokens_naming_their_own_key_are_refused() -> None:
    assert _rejected(_sign(_claims(), jku="https://evil.example/jwks")) == "header"


def test_signature_by_another_key_is_refused() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert _rejected(_sign(_claims(), key=other)) == "signature"


def test_unknown_key_is_refused() -> None:
    with pytest.raises(IdTokenRejected) as caught:
        id_tokens.verify(_sign(_claims()), None, alg="RS256", expected=id_tokens.Expected("corp", ISSUER, CLIENT, 0))
    assert caught.value.check == "kid"


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"iss": "https://other.example"}, "issuer"),
        ({"aud": "another-client"}, "audience"),
        ({"aud": [CLIENT, "another-client"]}, "azp"),
        ({"aud": [CLIENT, "another-client"], "azp": "another-client"}, "azp"),
        ({"azp": "another-client"}, "azp"),
        ({"sub": None}, "claims"),
        ({"exp": None}, "claims"),
        ({"exp": -120}, "expired"),  # times are offsets from the moment the test runs
        ({"iat": +600}, "not_yet_valid"),
    ],
)
def test_each_failed_check_is_named(changes: dict[str, Any], check: str) -> None:
    now = int(time.time())
    timed = {k: now + v if k in {"exp", "iat"} and v is not None else v for k, v in changes.items()}
    assert _rejected(_sign(_claims(**timed))) == check


def test_several_audiences_pass_when_the_authorized_party_is_this_client() -> None:
    assert _verify(_sign(_claims(aud=[CLIENT, "other"], azp=CLIENT)))["azp"] == CLIENT


def test_small_clock_skew_is_tolerated() -> None:
    assert _verify(_sign(_claims(exp=int(time.time()) - 30)))["sub"] == "u-1"


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
