"""SSO end to end over real gRPC against a real OpenID Provider on loopback: login → provider → callback → token."""

from __future__ import annotations

import base64
import json
import secrets
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeAlias

import grpc
import httpx
import pytest
import sqlalchemy as sa
import yaml
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from joserfc.jwk import RSAKey

from services.gateway import bootstrap
from services.gateway.sso.oidc import OidcClient
from services.kit.config import ServiceConfig
from services.kit.persistence import db
from services.kit.security.auth import CachedJwks, Principal, TokenValidator
from services.kit.testing import running
from teei.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from tests.oidc_provider import OpenIDProvider, running_provider
from tests.unit.kit.audit.support import stored

Stub: TypeAlias = "gateway_pb2_grpc.GatewayServiceAsyncStub"
KEK = base64.b64encode(b"s" * 32).decode()
GATEWAY = {"TEEI_KEY_ENCRYPTION_KEY": KEK, "TEEI_AUTH_ISSUER": "https://gateway.test", "TEEI_AUTH_AUDIENCE": "teei-api"}
CLIENT_ID, CLIENT_SECRET = "teei-gateway", "op-client-secret-0123456789"
# Where the provider sends the browser back; the test reads the redirect instead of serving this URL.
CALLBACK = "http://localhost/v1/auth/sso/{}/callback"
APP = "https://app.example.test/signed-in"


@dataclass
class ShiftedClock:
    """The wall clock, moved forward when a test says so."""

    offset: timedelta = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Sso:
    """The gateway (stub and database) and the provider its `corp` and `partner` providers point at."""

    stub: Stub
    op: OpenIDProvider
    clock: ShiftedClock
    database: str

    async def login(self, provider: str = "corp", **fields: str) -> tuple[str, tuple[tuple[str, str | bytes], ...]]:
        """SsoLogin: the authorization URL and the response metadata."""
        call = self.stub.SsoLogin(gateway_pb2.SsoLoginRequest(provider=provider, **fields))
        response = await call
        return response.authorization_url, tuple(await call.initial_metadata())

    async def authorize(self, url: str) -> dict[str, str]:
        """The browser at the provider: follows the authorization URL; returns the callback's parameters."""
        async with httpx.AsyncClient() as browser:
            answer = await browser.get(url)
        assert answer.status_code == 302, answer.text
        location = urllib.parse.urlsplit(answer.headers["location"])
        assert location.path.endswith("/callback")
        return dict(urllib.parse.parse_qsl(location.query))

    def callback(self, provider: str = "corp", **params: str) -> Any:
        """SsoCallback with the provider's redirect parameters."""
        return self.stub.SsoCallback(gateway_pb2.SsoCallbackRequest(provider=provider, **params))

    async def sign_in(self, provider: str = "corp") -> dict[str, Any]:
        """A whole login; returns the token response."""
        url, _ = await self.login(provider)
        response = await self.callback(provider, **await self.authorize(url))
        assert response.body.content_type == "application/json"
        answer: dict[str, Any] = json.loads(response.body.data)
        return answer

    async def validator(self) -> TokenValidator:
        """Validates access tokens against the gateway's own JWKS, as every service does."""
        jwks = json_format.MessageToDict(await self.stub.GetJwks(gateway_pb2.GetJwksRequest()))
        return TokenValidator(CachedJwks(lambda: jwks), issuer="https://gateway.test", audience="teei-api")

    def tamper(self, **values: str) -> None:
        """Overwrites columns of every pending login, as an attacker with the database could."""
        engine = db.create_engine(self.database)
        try:
            with engine.begin() as connection:
                connection.execute(sa.text("UPDATE sso_logins SET " + ", ".join(f"{k} = :{k}" for k in values)), values)
        finally:
            engine.dispose()


def _provider_settings(op: OpenIDProvider, name: str, client_id: str) -> dict[str, Any]:
    return {
        "issuer": op.issuer,
        "client_id": client_id,
        "client_secret_file": f"{client_id}.secret",
        "redirect_uri": CALLBACK.format(name),
        "domains": {"acme.example": {"tenant": "acme"}, "globex.example": {"tenant": "globex", "role": "company_user"}},
        "allowed_redirect_uris": [APP],
    }


@pytest.fixture
def op() -> Iterator[OpenIDProvider]:
    """The provider, with the gateway registered twice (as two configured providers)."""
    with running_provider() as provider:
        provider.register(CLIENT_ID, CLIENT_SECRET, CALLBACK.format("corp"))
        provider.register("teei-partner", CLIENT_SECRET, CALLBACK.format("partner"))
        yield provider


async def _serve(
    tmp_path: Path, op: OpenIDProvider, *, secret: str = CLIENT_SECRET, oidc: OidcClient | None = None
) -> AsyncIterator[Sso]:
    for client_id in (CLIENT_ID, "teei-partner"):
        (tmp_path / f"{client_id}.secret").write_text(secret)
    providers = {
        name: _provider_settings(op, name, cid) for name, cid in (("corp", CLIENT_ID), ("partner", "teei-partner"))
    }
    (tmp_path / "sso.yaml").write_text(yaml.safe_dump({"providers": providers}))
    clock = ShiftedClock()
    environ = {**GATEWAY, "TEEI_SSO_CONFIG": str(tmp_path / "sso.yaml")}
    service = bootstrap.build(ServiceConfig(grpc_port=0, var_dir=tmp_path), environ=environ, clock=clock, oidc=oidc)
    async with running(service) as (_, channel):
        yield Sso(gateway_pb2_grpc.GatewayServiceStub(channel), op, clock, db.sqlite_url(tmp_path / "gateway.db"))


@pytest.fixture
async def sso(tmp_path: Path, op: OpenIDProvider) -> AsyncIterator[Sso]:
    """The gateway served in-process with SSO providers pointing at the real provider."""
    async for served in _serve(tmp_path, op):
        yield served


async def _error(call: Any) -> tuple[grpc.StatusCode, error_details_pb2.ErrorInfo]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    status = rpc_status.from_call(caught.value)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    return caught.value.code(), info


async def test_login_redirects_the_browser_to_the_provider_with_state_nonce_and_pkce(sso: Sso) -> None:
    url, metadata = await sso.login(login_hint="ada@acme.example")
    assert ("x-teei-http-status", "302") in metadata
    assert ("location", url) in metadata
    assert ("cache-control", "no-store") in metadata
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert url.startswith(f"{sso.op.issuer}/authorize?")
    assert params["code_challenge_method"] == "S256"
    assert params["redirect_uri"] == CALLBACK.format("corp")
    assert params["login_hint"] == "ada@acme.example"
    assert {"state", "nonce", "code_challenge"} <= params.keys()


async def test_full_flow_issues_a_platform_token_for_the_mapped_tenant_and_role(sso: Sso) -> None:
    answer = await sso.sign_in()
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 900
    principal = (await sso.validator()).validate(answer["access_token"])
    assert principal == Principal(
        subject="corp:248289761001",
        tenant="acme",
        role="company_admin",
        email="ada@acme.example",
        token_id=principal.token_id,
    )
    assert sso.op.tokens_issued == 1


async def test_signing_in_twice_finds_the_same_person_and_leaves_nothing_of_them_in_the_database(sso: Sso) -> None:
    sso.op.behaviour.user.email = "pialotta.lindqvist@acme.example"
    sso.op.behaviour.user.name = "Pialotta Lindqvist"
    validator = await sso.validator()
    first = validator.validate((await sso.sign_in())["access_token"])
    url, _ = await sso.login(login_hint="pialotta.lindqvist@acme.example")
    response = await sso.callback(**await sso.authorize(url))
    second = validator.validate(json.loads(response.body.data)["access_token"])
    assert (first.subject, first.email, first.tenant) == (second.subject, second.email, second.tenant)
    assert first.email == "pialotta.lindqvist@acme.example"
    # The pending logins hold hashes and random values only; the sign-in's audit records redact the e-mail.
    path = Path(str(sa.make_url(sso.database).database))
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*")).lower()
    assert [n for n in (b"pialotta", b"lindqvist") if n in raw] == []


async def test_second_domain_maps_to_its_own_tenant_and_role(sso: Sso) -> None:
    sso.op.behaviour.user.email = "bo@globex.example"
    principal = (await sso.validator()).validate((await sso.sign_in())["access_token"])
    assert (principal.tenant, principal.role) == ("globex", "company_user")


async def test_callback_answers_no_store_json(sso: Sso) -> None:
    url, _ = await sso.login()
    call = sso.callback(**await sso.authorize(url))
    await call
    assert ("cache-control", "no-store") in tuple(await call.initial_metadata())


async def test_login_with_an_allowed_redirect_sends_the_browser_there_with_the_token_in_the_fragment(sso: Sso) -> None:
    url, _ = await sso.login(redirect_uri=APP)
    call = sso.callback(**await sso.authorize(url))
    response = await call
    metadata = dict(await call.initial_metadata())
    assert metadata["x-teei-http-status"] == "302"
    location = urllib.parse.urlsplit(metadata["location"])
    assert urllib.parse.urlunsplit(location._replace(fragment="")) == APP
    fragment = dict(urllib.parse.parse_qsl(location.fragment))
    assert fragment["token_type"] == "Bearer"
    assert (await sso.validator()).validate(fragment["access_token"]).tenant == "acme"
    assert response.body.content_type.startswith("text/html")


async def test_redirect_not_on_the_allow_list_is_refused(sso: Sso) -> None:
    code, info = await _error(sso.login(redirect_uri="https://evil.example/steal"))
    assert (code, info.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "SSO_REDIRECT_NOT_ALLOWED")


async def test_an_overlong_login_hint_is_refused_naming_it(sso: Sso) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await sso.login(login_hint="a" * 255)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "SSO request field too long: login_hint must be at most 254 characters"


async def test_a_control_character_in_a_login_field_is_refused_naming_it(sso: Sso) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await sso.login(login_hint="ada\x00@acme.com")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "login_hint must not contain control characters (U+0000 at character 4)"
    assert sso.op.tokens_issued == 0


async def test_unknown_state_is_refused(sso: Sso) -> None:
    url, _ = await sso.login()
    params = await sso.authorize(url)
    code, info = await _error(sso.callback(code=params["code"], state="forged-state"))
    assert (code, info.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SSO_STATE_INVALID")
    assert sso.op.tokens_issued == 0


async def test_state_of_another_provider_is_refused(sso: Sso) -> None:
    url, _ = await sso.login("corp")
    code, info = await _error(sso.callback("partner", **await sso.authorize(url)))
    assert (code, info.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SSO_STATE_INVALID")


async def test_replayed_state_is_refused(sso: Sso) -> None:
    url, _ = await sso.login()
    params = await sso.authorize(url)
    await sso.callback(**params)
    code, info = await _error(sso.callback(**params))
    assert (code, info.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SSO_STATE_REUSED")
    assert sso.op.tokens_issued == 1


async def test_replayed_code_is_refused_by_the_provider(sso: Sso) -> None:
    first_url, _ = await sso.login()
    used = await sso.authorize(first_url)
    await sso.callback(**used)
    second_url, _ = await sso.login()
    fresh_state = (await sso.authorize(second_url))["state"]
    code, info = await _error(sso.callback(code=used["code"], state=fresh_state))
    assert (code, info.reason, info.metadata["error"]) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "SSO_CODE_REJECTED",
        "invalid_grant",
    )
    assert sso.op.refusals[-1]["error_description"] == "Invalid 'code' in request."


async def test_wrong_pkce_verifier_is_refused_by_the_provider(sso: Sso) -> None:
    url, _ = await sso.login()
    params = await sso.authorize(url)
    sso.tamper(code_verifier=secrets.token_urlsafe(48))
    code, info = await _error(sso.callback(**params))
    assert (code, info.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SSO_CODE_REJECTED")
    assert sso.op.refusals[-1] == {"error": "invalid_grant", "error_description": "Code challenge failed."}


async def test_id_token_with_another_nonce_is_refused(sso: Sso) -> None:
    sso.op.behaviour.nonce = "a-nonce-from-another-login"
    url, _ = await sso.login()
    code, info = await _error(sso.callback(**await sso.authorize(url)))
    assert (code, info.reason, info.metadata["check"]) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "SSO_ID_TOKEN_INVALID",
        "nonce",
    )


async def test_tampered_stored_nonce_is_refused(sso: Sso) -> None:
    url, _ = await sso.login()
    params = await sso.authorize(url)
    sso.tamper(nonce="tampered-nonce")
    code, info = await _error(sso.callback(**params))
    assert (code, info.metadata["check"]) == (grpc.StatusCode.UNAUTHENTICATED, "nonce")


async def test_id_token_signed_by_another_key_is_refused(sso: Sso) -> None:
    sso.op.behaviour.signing_key = RSAKey.generate_key(2048)
    url, _ = await sso.login()
    code, info = await _error(sso.callback(**await sso.authorize(url)))
    assert (code, info.reason, info.metadata["check"]) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "SSO_ID_TOKEN_INVALID",
        "signature",
    )


async def test_a_key_rotated_at_the_provider_is_fetched_when_a_token_names_it(
    tmp_path: Path, op: OpenIDProvider
) -> None:
    async for sso in _serve(tmp_path, op, oidc=OidcClient(min_refetch=0.0)):
        await sso.sign_in()
        op.rotate_key()
        assert (await sso.validator()).validate((await sso.sign_in())["access_token"]).tenant == "acme"


async def test_id_token_for_several_audiences_without_azp_is_refused(sso: Sso) -> None:
    sso.op.behaviour.extra_audience = "someone-else"
    url, _ = await sso.login()
    code, info = await _error(sso.callback(**await sso.authorize(url)))
    assert (code, info.metadata["check"]) == (grpc.StatusCode.UNAUTHENTICATED, "azp")


async def test_email_domain_not_allowed_is_denied(sso: Sso) -> None:
    sso.op.behaviour.user.email = "mallory@elsewhere.example"
    url, _ = await sso.login()
    code, info = await _error(sso.callback(**await sso.authorize(url)))
    assert (code, info.reason, info.metadata["domain"]) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "SSO_DOMAIN_NOT_ALLOWED",
        "elsewhere.example",
    )


@pytest.mark.parametrize("verified", [False, None])
async def test_unverified_email_is_refused(sso: Sso, verified: bool | None) -> None:
    sso.op.behaviour.user.email_verified = verified
    url, _ = await sso.login()
    code, info = await _error(sso.callback(**await sso.authorize(url)))
    assert (code, info.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SSO_EMAIL_NOT_VERIFIED")


async def test_expired_state_is_refused(sso: Sso) -> None:
    url, _ = await sso.login()
    params = await sso.authorize(url)
    sso.clock.offset = timedelta(minutes=10, seconds=1)
    code, info = await _error(sso.callback(**params))
    assert (code, info.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SSO_STATE_EXPIRED")
    assert sso.op.tokens_issued == 0


async def test_provider_error_is_reported_and_spends_the_state(sso: Sso) -> None:
    url, _ = await sso.login()
    state = (await sso.authorize(url))["state"]
    code, info = await _error(sso.callback(state=state, error="access_denied", error_description="User said no"))
    assert (code, info.reason, info.metadata["error"]) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "SSO_PROVIDER_ERROR",
        "access_denied",
    )
    assert info.metadata["error_description"] == "User said no"
    code, info = await _error(sso.callback(state=state, code="late-code"))
    assert info.reason == "SSO_STATE_REUSED"


async def test_callback_without_code_or_state_is_invalid(sso: Sso) -> None:
    code, info = await _error(sso.callback(state="s"))
    assert (code, info.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "SSO_INVALID_REQUEST")


async def test_unknown_provider_is_a_failed_precondition(sso: Sso) -> None:
    for call in (sso.login("nobody"), sso.callback("nobody", code="c", state="s")):
        code, info = await _error(call)
        assert (code, info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SSO_PROVIDER_UNKNOWN")


async def test_wrong_client_secret_is_refused_by_the_provider(tmp_path: Path, op: OpenIDProvider) -> None:
    async for sso in _serve(tmp_path, op, secret="not-the-registered-secret"):
        url, _ = await sso.login()
        code, info = await _error(sso.callback(**await sso.authorize(url)))
        assert (code, info.reason, info.metadata["error"]) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "SSO_CODE_REJECTED",
            "invalid_client",
        )


async def test_client_secret_post_is_used_when_the_provider_offers_only_that(tmp_path: Path) -> None:
    with running_provider(auth_methods=("client_secret_post",)) as op:
        op.register(CLIENT_ID, CLIENT_SECRET, CALLBACK.format("corp"))
        async for sso in _serve(tmp_path, op):
            assert (await sso.validator()).validate((await sso.sign_in())["access_token"]).tenant == "acme"


async def test_sso_not_configured_is_a_failed_precondition(tmp_path: Path) -> None:
    service = bootstrap.build(ServiceConfig(grpc_port=0, var_dir=tmp_path), environ=GATEWAY)
    async with running(service) as (_, channel):
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        code, info = await _error(stub.SsoLogin(gateway_pb2.SsoLoginRequest(provider="google")))
    assert (code, info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SSO_NOT_CONFIGURED")


async def test_unreachable_provider_is_unavailable(tmp_path: Path) -> None:
    with running_provider() as op:
        pass  # stopped: its port no longer answers
    async for sso in _serve(tmp_path, op):
        code, info = await _error(sso.login())
        assert (code, info.reason) == (grpc.StatusCode.UNAVAILABLE, "SSO_PROVIDER_UNAVAILABLE")


async def test_a_response_naming_another_issuer_is_refused_before_the_code_is_redeemed(sso: Sso) -> None:
    """RFC 9207 mix-up defence: the callback's `iss` must be the provider's own issuer."""
    url, _ = await sso.login()
    params = await sso.authorize(url)
    code, info = await _error(sso.callback(**params, iss="https://idp.evil.example"))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert info.metadata["check"] == "iss"
    assert sso.op.tokens_issued == 0


async def test_the_providers_own_issuer_and_extra_parameters_are_accepted(sso: Sso) -> None:
    """Google and Azure add parameters of their own to the redirect; the edge passes them through."""
    url, _ = await sso.login()
    params = await sso.authorize(url)
    extra = {"iss": sso.op.issuer, "scope": "openid email", "authuser": "0", "prompt": "none", "session_state": "s"}
    response = await sso.callback(**params, **extra)
    assert response.body.content_type == "application/json"


async def test_a_sign_in_is_audited_under_the_identity_the_provider_proved(sso: Sso) -> None:
    answer = await sso.sign_in()
    principal = (await sso.validator()).validate(answer["access_token"])
    (record,) = [r for r in stored(sso.database) if r.action == "sign_in.completed"]
    assert (record.actor, record.actor_kind, record.tenant) == ("corp:248289761001", "user", "acme")
    assert record.resource == f"token:{principal.token_id}"
    assert "ada@acme.example" not in record.diff
