"""The test OpenID Provider skips no check: PKCE, registered redirect URIs, client authentication, single-use codes."""

from __future__ import annotations

import base64
import hashlib
import secrets
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from tests.oidc_provider import OpenIDProvider, running_provider

CALLBACK = "http://localhost/cb"
SECRET = "provider-test-secret"


@pytest.fixture
def op() -> Iterator[OpenIDProvider]:
    """A provider with one registered client."""
    with running_provider() as provider:
        provider.register("app", SECRET, CALLBACK)
        yield provider


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def _authorize(op: OpenIDProvider, challenge: str | None, **changes: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": "app",
        "redirect_uri": CALLBACK,
        "scope": "openid email",
        "state": "st",
        "nonce": secrets.token_urlsafe(16),
        **({"code_challenge": challenge, "code_challenge_method": "S256"} if challenge else {}),
        **changes,
    }
    return httpx.get(f"{op.issuer}/authorize", params=params)


def _code(answer: httpx.Response) -> str:
    assert answer.status_code == 302, answer.text
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer.headers["location"]).query))["code"]


def _token(
    op: OpenIDProvider, code: str, verifier: str, *, auth: Any = ("app", SECRET), **changes: str
) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier}
    return httpx.post(f"{op.issuer}/token", data={**form, **changes}, auth=auth)


def test_a_correct_exchange_gives_an_id_token_signed_by_the_published_key(op: OpenIDProvider) -> None:
    verifier, challenge = _pkce()
    answer = _token(op, _code(_authorize(op, challenge, nonce="n-1")), verifier)
    assert answer.status_code == 200, answer.text
    id_token = answer.json()["id_token"]
    key = jwt.PyJWK(op.jwks()["keys"][0])
    claims = jwt.decode(id_token, key, algorithms=["RS256"], audience="app", issuer=op.issuer)
    assert (claims["nonce"], claims["email"], claims["email_verified"]) == ("n-1", "ada@acme.example", True)


def test_authorization_without_pkce_s256_is_refused(op: OpenIDProvider) -> None:
    answer = _authorize(op, None)
    assert "error=invalid_request" in answer.headers["location"]
    _, challenge = _pkce()
    assert "error=invalid_request" in _authorize(op, challenge, code_challenge_method="plain").headers["location"]


def test_unregistered_redirect_uri_is_refused_without_redirecting(op: OpenIDProvider) -> None:
    _, challenge = _pkce()
    answer = _authorize(op, challenge, redirect_uri="https://evil.example/cb")
    assert answer.status_code == 400
    assert "location" not in answer.headers


def test_token_endpoint_checks_client_secret_verifier_redirect_uri_and_single_use(op: OpenIDProvider) -> None:
    verifier, challenge = _pkce()
    code = _code(_authorize(op, challenge))
    assert _token(op, code, verifier, auth=("app", "wrong")).json()["error"] == "invalid_client"
    assert _token(op, code, verifier, auth=None).json()["error"] == "invalid_client"
    assert _token(op, code, secrets.token_urlsafe(48)).json()["error"] == "invalid_grant"
    # Each refusal above that reached the code consumed it: codes are claimed on first presentation.
    code = _code(_authorize(op, challenge))
    assert _token(op, code, verifier, redirect_uri="http://localhost/other").json()["error"] == "invalid_grant"
    code = _code(_authorize(op, challenge))
    assert _token(op, code, verifier).status_code == 200
    assert _token(op, code, verifier).json()["error"] == "invalid_grant"
