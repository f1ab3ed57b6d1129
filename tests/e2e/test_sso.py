"""SSO through the edge of the running mesh: a browser follows real 302 redirects from the edge to a
local OpenID Provider (authlib) and back, and ends with a platform token the mesh accepts."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator

import httpx
import pytest
import yaml

from services.cli import spec
from services.cli.launcher import Mesh
from tests.oidc_provider import OpenIDProvider, running_provider

pytestmark = pytest.mark.e2e
CLIENT_ID, CLIENT_SECRET = "teei-mesh", "op-client-secret"


@pytest.fixture(scope="module")
def provider() -> Iterator[OpenIDProvider]:
    with running_provider() as op:
        yield op


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, provider: OpenIDProvider) -> Iterator[Mesh]:
    folder = tmp_path_factory.mktemp("sso")
    resources = spec.with_free_ports(spec.load())
    edge_port = next(r.port for r in resources if r.kind == "envoy")
    callback = f"http://127.0.0.1:{edge_port}/v1/auth/sso/corp/callback"
    provider.register(CLIENT_ID, CLIENT_SECRET, callback)
    (folder / "client.secret").write_text(CLIENT_SECRET)
    config = {
        "providers": {
            "corp": {
                "issuer": provider.issuer,
                "client_id": CLIENT_ID,
                "client_secret_file": str(folder / "client.secret"),
                "redirect_uri": callback,
                "domains": {"acme.example": {"tenant": "acme", "role": "company_admin"}},
            }
        }
    }
    (folder / "sso.yaml").write_text(yaml.safe_dump(config))
    environ = {**os.environ, "TEEI_SSO_CONFIG": str(folder / "sso.yaml")}
    running = Mesh(resources=resources, var_dir=folder / "var", environ=environ, health_interval_ms=200)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _follow_to_callback(browser: httpx.Client, mesh: Mesh) -> str:
    """Login at the edge → 302 to the provider → 302 back to the edge's callback URL (returned)."""
    login = browser.get(f"{mesh.edge_url}/v1/auth/sso/corp/login")
    assert login.status_code == 302, login.text
    assert login.headers["cache-control"] == "no-store"
    assert "x-teei-http-status" not in login.headers
    authorize = login.headers["location"]
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize).query))
    assert params["code_challenge_method"] == "S256"
    assert {"state", "nonce", "code_challenge"} <= params.keys()
    at_provider = browser.get(authorize)
    assert at_provider.status_code == 302
    back: str = at_provider.headers["location"]
    assert back.startswith(f"{mesh.edge_url}/v1/auth/sso/corp/callback?")
    return back


def test_a_company_admin_signs_in_through_the_edge_and_uses_the_token(mesh: Mesh) -> None:
    with httpx.Client(timeout=30.0) as browser:
        callback = browser.get(_follow_to_callback(browser, mesh))
        assert callback.status_code == 200, callback.text
        answer = callback.json()
        assert answer["token_type"] == "Bearer"
        signed_in = {"authorization": f"Bearer {answer['access_token']}"}
        assert browser.get(f"{mesh.edge_url}/v1/profiles", headers=signed_in).status_code == 200
        # A replayed callback (same code and state) is refused.
        again = browser.get(callback.request.url)
        assert again.status_code == 401


def test_a_callback_with_a_forged_state_is_401(mesh: Mesh) -> None:
    with httpx.Client(timeout=30.0) as browser:
        back = urllib.parse.urlsplit(_follow_to_callback(browser, mesh))
        params = dict(urllib.parse.parse_qsl(back.query))
        params["state"] = "forged-" + params["state"][:20]
        forged = browser.get(f"{mesh.edge_url}{back.path}", params=params)
    assert forged.status_code == 401
    assert forged.json()["code"] == 16
