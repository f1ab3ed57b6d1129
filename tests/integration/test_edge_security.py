"""Security of the edge, checked against the real Envoy.

One Envoy per module runs in front of one grpc.aio upstream serving a few real contracts
(ProfileService.GetProfile, GatewayService.SsoLogin, KintellService.ImportSessions) and the
generic `test.Echo/Echo`, a JWKS server publishing `testing.ISSUER`'s key, and a small rate-limit
service (envoy.service.ratelimit.v3) that records the descriptors it is asked about and answers
OVER_LIMIT for tenants named "throttled*" after a few calls. Every refusal is checked over REST
and over native gRPC through the same edge port.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from envoy.service.ratelimit.v3 import rls_pb2
from google.api import httpbody_pb2
from google.protobuf import duration_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.cli import certs
from services.cli.edge import EdgeSettings, JwtSettings, RateLimitSettings, Upstream, UpstreamTls
from services.cli.spec import free_port
from services.kit import testing
from services.kit.security import mtls
from services.kit.security.auth import ROLE_PERMISSIONS
from teei.gateway.v1 import gateway_pb2
from teei.kintell.v1 import kintell_pb2
from teei.profile.v1 import profile_pb2
from tests.integration.test_edge_config import (
    BUF,
    ECHO_METHOD,
    ECHO_RULE,
    ECHO_SERVICE,
    FORGED_IDENTITY_HEADERS,
    REPO,
    _Edge,
    _Loop,
    _poll,
    _start_envoy,
    _stop_envoy,
    auth_header,
    await_keys_loaded,
)
from tests.support import JwksServer

PROFILE_SERVICE = "teei.profile.v1.ProfileService"
GATEWAY_SERVICE = "teei.gateway.v1.GatewayService"
KINTELL_SERVICE = "teei.kintell.v1.KintellService"
GET_PROFILE = f"/{PROFILE_SERVICE}/GetProfile"
SSO_LOGIN = f"/{GATEWAY_SERVICE}/SsoLogin"
GET_JWKS = f"/{GATEWAY_SERVICE}/GetJwks"
IDP_URL = "https://idp.example/authorize?state=s-1"
THROTTLED_AFTER = 2
RLS_SERVICE = "envoy.service.ratelimit.v3.RateLimitService"
SECURITY_HEADERS = {
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}
MIB = 1024 * 1024

Descriptors = list[list[tuple[str, str]]]


# --- upstream --------------------------------------------------------------------------


@dataclass
class _Upstream:
    server: grpc.aio.Server
    port: int
    seen: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    uploaded: list[int] = field(default_factory=list)

    def calls(self, method: str) -> list[dict[str, str]]:
        return self.seen.setdefault(method, [])


def _record(upstream: _Upstream, method: str, context: grpc.aio.ServicerContext[Any, Any]) -> dict[str, str]:
    metadata = {key: str(value) for key, value in context.invocation_metadata() or ()}
    upstream.calls(method).append(metadata)
    return metadata


def _handlers(upstream: _Upstream) -> list[grpc.GenericRpcHandler]:
    async def get_profile(
        request: profile_pb2.GetProfileRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> profile_pb2.GetProfileResponse:
        _record(upstream, GET_PROFILE, context)
        return profile_pb2.GetProfileResponse(profile=profile_pb2.Profile(profile_id=request.profile_id))

    async def sso_login(
        request: gateway_pb2.SsoLoginRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> gateway_pb2.SsoLoginResponse:
        _record(upstream, SSO_LOGIN, context)
        await context.send_initial_metadata((("x-teei-http-status", "302"), ("location", IDP_URL)))
        page = httpbody_pb2.HttpBody(content_type="text/html", data=b"<a href='idp'>continue</a>")
        return gateway_pb2.SsoLoginResponse(body=page, authorization_url=IDP_URL)

    async def get_jwks(
        request: gateway_pb2.GetJwksRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> gateway_pb2.GetJwksResponse:
        _record(upstream, GET_JWKS, context)
        fields = gateway_pb2.Jwk.DESCRIPTOR.fields_by_name
        keys = [{name: value for name, value in key.items() if name in fields} for key in testing.ISSUER.jwks()["keys"]]
        return gateway_pb2.GetJwksResponse(keys=[gateway_pb2.Jwk(**key) for key in keys])

    async def import_sessions(
        request: kintell_pb2.ImportSessionsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> kintell_pb2.ImportSessionsResponse:
        _record(upstream, "ImportSessions", context)
        upstream.uploaded.append(len(request.body.data))
        return kintell_pb2.ImportSessionsResponse()

    async def echo(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        return json.dumps(sorted(_record(upstream, ECHO_METHOD, context))).encode()

    def unary(function: Any, request: Any, response: Any) -> grpc.RpcMethodHandler[Any, Any]:
        return grpc.unary_unary_rpc_method_handler(
            function, request_deserializer=request.FromString, response_serializer=response.SerializeToString
        )

    return [
        grpc.method_handlers_generic_handler(
            PROFILE_SERVICE,
            {"GetProfile": unary(get_profile, profile_pb2.GetProfileRequest, profile_pb2.GetProfileResponse)},
        ),
        grpc.method_handlers_generic_handler(
            GATEWAY_SERVICE,
            {
                "SsoLogin": unary(sso_login, gateway_pb2.SsoLoginRequest, gateway_pb2.SsoLoginResponse),
                "GetJwks": unary(get_jwks, gateway_pb2.GetJwksRequest, gateway_pb2.GetJwksResponse),
            },
        ),
        grpc.method_handlers_generic_handler(
            KINTELL_SERVICE,
            {
                "ImportSessions": unary(
                    import_sessions, kintell_pb2.ImportSessionsRequest, kintell_pb2.ImportSessionsResponse
                )
            },
        ),
        grpc.method_handlers_generic_handler(ECHO_SERVICE, {"Echo": grpc.unary_unary_rpc_method_handler(echo)}),
    ]


SERVICES = (PROFILE_SERVICE, GATEWAY_SERVICE, KINTELL_SERVICE, ECHO_SERVICE)


async def _start_upstream() -> _Upstream:
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 16 * MIB)])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    upstream = _Upstream(server=server, port=server.add_insecure_port("127.0.0.1:0"))
    server.add_generic_rpc_handlers(_handlers(upstream))
    for service in SERVICES:
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    await server.start()
    return upstream


# --- rate-limit service ----------------------------------------------------------------


class _RateLimitService:
    """Records every query; a tenant named throttled* is over its limit after THROTTLED_AFTER calls."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, Descriptors]] = []
        self.calls_by_tenant: dict[str, int] = {}

    async def should_rate_limit(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        descriptors = [[(entry.key, entry.value) for entry in d.entries] for d in request.descriptors]
        self.queries.append((request.domain, descriptors))
        tenant = next((value for d in descriptors for key, value in d if key == "tenant"), "")
        calls = self.calls_by_tenant[tenant] = self.calls_by_tenant.get(tenant, 0) + 1
        over = tenant.startswith("throttled") and calls > THROTTLED_AFTER
        code = rls_pb2.RateLimitResponse.OVER_LIMIT if over else rls_pb2.RateLimitResponse.OK
        limit = rls_pb2.RateLimitResponse.RateLimit(
            requests_per_unit=THROTTLED_AFTER, unit=rls_pb2.RateLimitResponse.RateLimit.MINUTE
        )
        status = rls_pb2.RateLimitResponse.DescriptorStatus(
            code=code,
            current_limit=limit,
            limit_remaining=max(THROTTLED_AFTER - calls, 0),
            duration_until_reset=duration_pb2.Duration(seconds=42),
        )
        return rls_pb2.RateLimitResponse(overall_code=code, statuses=[status for _ in descriptors])

    def query_of_client(self, subject: str) -> tuple[str, Descriptors]:
        """The last query naming `subject` as the client."""
        return next(q for q in reversed(self.queries) if ("client", subject) in [e for d in q[1] for e in d])


async def _start_rls(
    service: _RateLimitService, credentials: grpc.ServerCredentials | None = None
) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(
        service.should_rate_limit,
        request_deserializer=rls_pb2.RateLimitRequest.FromString,
        response_serializer=rls_pb2.RateLimitResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(RLS_SERVICE, {"ShouldRateLimit": handler}),))
    address = "127.0.0.1:0"
    port = server.add_insecure_port(address) if credentials is None else server.add_secure_port(address, credentials)
    await server.start()
    return server, port


# --- the edge --------------------------------------------------------------------------


@dataclass
class _Mesh:
    edge: _Edge
    upstream: _Upstream
    rls: _RateLimitService
    loop: _Loop
    jwks_port: int

    def rest(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.edge.url}{path}", timeout=10.0, **kwargs)

    def grpc_call(self, method: str, request: bytes = b"", metadata: tuple[tuple[str, str], ...] = ()) -> bytes:
        with grpc.insecure_channel(self.edge.grpc_target) as channel:
            call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(method)
            reply: bytes = call(request, metadata=metadata, timeout=10.0)
            return reply


@pytest.fixture(scope="module")
def descriptor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("descriptor") / "d.binpb"
    env = {
        **os.environ,
        "PATH": f"{BUF.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "BUF_CACHE_DIR": str(REPO / ".cache" / "buf"),
    }
    subprocess.run([str(BUF), "build", "-o", str(out)], cwd=REPO, env=env, check=True, timeout=60)
    return out


def _edge_settings(descriptor: Path, upstream: _Upstream, jwt: JwtSettings, rls_port: int) -> EdgeSettings:
    upstreams = tuple(
        Upstream(name=name, grpc_services=(service,), host="127.0.0.1", port=upstream.port)
        for name, service in zip(("profile", "gateway", "kintell", "echo"), SERVICES, strict=True)
    )
    return EdgeSettings(
        listen_port=free_port(),
        admin_port=free_port(),
        descriptor_path=descriptor,
        upstreams=upstreams,
        health_interval_ms=200,
        transcoded_services=(PROFILE_SERVICE, GATEWAY_SERVICE, KINTELL_SERVICE),
        jwt=jwt,
        ratelimit=RateLimitSettings(host="127.0.0.1", port=rls_port, timeout_ms=2000),
        extra_access_rules=(ECHO_RULE,),
    )


@pytest.fixture(scope="module")
def mesh(descriptor: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Mesh]:
    loop = _Loop()
    jwks = JwksServer()
    rls = _RateLimitService()
    servers: list[grpc.aio.Server] = []
    edge: _Edge | None = None
    try:
        upstream = loop.run(_start_upstream())
        servers.append(upstream.server)
        rls_server, rls_port = loop.run(_start_rls(rls))
        servers.append(rls_server)
        edge = _start_envoy(
            _edge_settings(descriptor, upstream, jwks.settings(), rls_port), tmp_path_factory.mktemp("edge")
        )
        await_keys_loaded(edge.url, "/v1/profiles/p-0", auth_header())
        yield _Mesh(edge=edge, upstream=upstream, rls=rls, loop=loop, jwks_port=jwks.port)
    finally:
        if edge is not None:
            _stop_envoy(edge)
        for server in servers:
            loop.run(server.stop(None))
        loop.close()
        jwks.close()


# --- tokens ----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(sign(signing_input.encode()))}"


def _claims(**changes: Any) -> dict[str, Any]:
    return {**testing.ISSUER.claims(), **changes}


def _alg_none() -> str:
    return _compact({"alg": "none", "typ": "JWT", "kid": testing.ISSUER.kid}, _claims(), lambda _: b"")


def _hs256_with_public_key() -> str:
    secret = testing.ISSUER.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": testing.ISSUER.kid}
    return _compact(header, _claims(), lambda data: hmac.new(secret, data, hashlib.sha256).digest())


def _tampered_payload() -> str:
    header, _, signature = testing.ISSUER.token(role="company_user").split(".")
    return f"{header}.{_b64(json.dumps(_claims(role='super_admin')).encode())}.{signature}"


def _foreign_key() -> str:
    return testing.Issuer().sign(_claims(), kid=testing.ISSUER.kid)


def _now() -> int:
    return int(time.time())


BAD_TOKENS: dict[str, Callable[[], str | None]] = {
    "missing": lambda: None,
    "not-a-jwt": lambda: "not.a.jwt",
    "alg-none": _alg_none,
    "hs256-public-key-as-secret": _hs256_with_public_key,
    "unknown-kid": lambda: testing.ISSUER.sign(_claims(), kid="not-a-published-key"),
    "kid-path-traversal": lambda: testing.ISSUER.sign(_claims(), kid="../../../../dev/null"),
    "kid-sql-injection": lambda: testing.ISSUER.sign(_claims(), kid="x' UNION SELECT 'secret' --"),
    "expired": lambda: testing.ISSUER.sign(_claims(iat=_now() - 900, nbf=_now() - 900, exp=_now() - 600)),
    "not-yet-valid": lambda: testing.ISSUER.sign(_claims(nbf=_now() + 600, exp=_now() + 900)),
    "wrong-issuer": lambda: testing.ISSUER.sign(_claims(iss="https://evil.example")),
    "wrong-audience": lambda: testing.ISSUER.sign(_claims(aud="another-api")),
    "tampered-payload": _tampered_payload,
    "signed-by-another-key": _foreign_key,
}


def _bearer(token: str | None) -> tuple[tuple[str, str], ...]:
    return () if token is None else (("authorization", f"Bearer {token}"),)


def _profile_request() -> bytes:
    return profile_pb2.GetProfileRequest(profile_id="p-1").SerializeToString()


# --- authentication --------------------------------------------------------------------


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_invalid_token_is_401_over_rest(mesh: _Mesh, case: str) -> None:
    calls = len(mesh.upstream.calls(GET_PROFILE))
    response = mesh.rest("GET", "/v1/profiles/p-1", headers=dict(_bearer(BAD_TOKENS[case]())))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["code"] == 16
    assert isinstance(body["message"], str)
    assert len(mesh.upstream.calls(GET_PROFILE)) == calls


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_invalid_token_is_unauthenticated_over_grpc(mesh: _Mesh, case: str) -> None:
    calls = len(mesh.upstream.calls(GET_PROFILE))
    with pytest.raises(grpc.RpcError) as raised:
        mesh.grpc_call(GET_PROFILE, _profile_request(), _bearer(BAD_TOKENS[case]()))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert len(mesh.upstream.calls(GET_PROFILE)) == calls


def test_valid_token_reaches_the_service_with_the_token(mesh: _Mesh) -> None:
    headers = auth_header(role="company_admin")
    response = mesh.rest("GET", "/v1/profiles/p-7", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["profile"]["profile_id"] == "p-7"
    seen = mesh.upstream.calls(GET_PROFILE)[-1]
    # The service validates the token again; the payload never travels as a header.
    assert seen["authorization"] == headers["authorization"]
    assert "x-jwt-payload" not in seen


# --- authorisation ---------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(ROLE_PERMISSIONS))
def test_role_table_decides_over_rest_and_grpc(mesh: _Mesh, role: str) -> None:
    """GetProfile needs PERMISSION_USERS_READ: exactly the roles holding it get through."""
    allowed = "PERMISSION_USERS_READ" in ROLE_PERMISSIONS[role]
    headers = auth_header(role=role)
    response = mesh.rest("GET", "/v1/profiles/p-1", headers=headers)
    if allowed:
        assert response.status_code == 200, response.text
        mesh.grpc_call(GET_PROFILE, _profile_request(), tuple(headers.items()))
        return
    assert response.status_code == 403, response.text
    assert response.json() == {"code": 7, "message": "access denied"}
    with pytest.raises(grpc.RpcError) as raised:
        mesh.grpc_call(GET_PROFILE, _profile_request(), tuple(headers.items()))
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_an_edge_refusal_is_in_its_access_log_with_the_request_id_subject_and_tenant(mesh: _Mesh) -> None:
    """An RBAC refusal never reaches a service's audit log: the edge's access log names who was refused, under
    the request id the client got back (the edge's own: a client's x-request-id is not trusted)."""
    headers = {**auth_header(role="participant", subject="pat-7", tenant="globex"), "x-request-id": "forged-1"}
    response = mesh.rest("GET", "/v1/profiles/p-1", headers=headers)
    assert response.status_code == 403
    request_id = response.headers["x-request-id"]
    assert request_id != "forged-1"

    def logged() -> dict[str, Any] | None:
        lines = (json.loads(line) for line in mesh.edge.log.read_text().splitlines() if line.startswith("{"))
        return next((line for line in lines if line.get("request_id") == request_id), None)

    line = _poll(logged, lambda: f"the access log line of {request_id}:\n{mesh.edge.log_tail()}")
    assert (line["status"], line["subject"], line["tenant_id"]) == (403, "pat-7", "globex")
    assert line["details"].startswith("rbac_access_denied")
    assert line["grpc_path"] == f"/{PROFILE_SERVICE}/GetProfile"


def test_rpc_without_access_rule_is_denied(mesh: _Mesh) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        mesh.grpc_call(f"/{PROFILE_SERVICE}/NoSuchMethod", b"", tuple(auth_header(role="super_admin").items()))
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_public_rpc_needs_no_token_and_redirects_over_rest(mesh: _Mesh) -> None:
    response = mesh.rest("GET", "/v1/auth/sso/google/login")
    assert response.status_code == 302, response.text
    assert response.headers["location"] == IDP_URL
    assert "x-teei-http-status" not in response.headers
    assert mesh.upstream.calls(SSO_LOGIN)[-1].get("authorization") is None


def test_public_rpc_over_grpc_keeps_status_and_location_metadata(mesh: _Mesh) -> None:
    with grpc.insecure_channel(mesh.edge.grpc_target) as channel:
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(SSO_LOGIN)
        reply, outcome = call.with_call(
            gateway_pb2.SsoLoginRequest(provider="google").SerializeToString(), timeout=10.0
        )
    metadata = dict(outcome.initial_metadata())
    assert metadata["location"] == IDP_URL
    assert "x-teei-http-status" not in metadata
    assert gateway_pb2.SsoLoginResponse.FromString(reply).authorization_url == IDP_URL


# --- forged identity -------------------------------------------------------------------


def test_forged_identity_headers_never_reach_the_service(mesh: _Mesh) -> None:
    token = auth_header(tenant="acme")["authorization"]
    reply = mesh.grpc_call(ECHO_METHOD, b"", (*FORGED_IDENTITY_HEADERS.items(), ("authorization", token)))
    keys = set(json.loads(reply))
    assert keys.isdisjoint(FORGED_IDENTITY_HEADERS), keys
    assert "authorization" in keys

    headers = {k.upper(): v for k, v in FORGED_IDENTITY_HEADERS.items()} | {"authorization": token}
    assert mesh.rest("GET", "/v1/profiles/p-2", headers=headers).status_code == 200
    assert set(mesh.upstream.calls(GET_PROFILE)[-1]).isdisjoint(FORGED_IDENTITY_HEADERS)


def test_forged_claim_header_does_not_grant_a_role(mesh: _Mesh) -> None:
    forged = {"x-jwt-payload": _b64(json.dumps({"role": "super_admin"}).encode())}
    headers = auth_header(role="company_user") | forged
    assert mesh.rest("GET", "/v1/profiles/p-1", headers=headers).status_code == 403


# --- WAF -------------------------------------------------------------------------------


def test_large_body_is_413_on_ordinary_routes(mesh: _Mesh) -> None:
    body = json.dumps({"email": "a@example.org", "given_name": "x" * (2 * MIB)})
    response = mesh.rest(
        "POST", "/v1/profiles", content=body, headers=auth_header() | {"content-type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert response.json()["code"] == 8


def test_csv_import_accepts_a_large_body_over_rest(mesh: _Mesh) -> None:
    csv = b"session_id,email\n" + b"s-1,ada@example.org\n" * (3 * MIB // 20)
    response = mesh.rest(
        "POST", "/v1/kintell/imports", content=csv, headers=auth_header() | {"content-type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert mesh.upstream.uploaded[-1] == len(csv)


def test_large_request_headers_are_431(mesh: _Mesh) -> None:
    response = mesh.rest("GET", "/v1/profiles/p-1", headers=auth_header() | {"x-padding": "a" * 40_000})
    assert response.status_code == 431


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
def test_unused_methods_are_405(mesh: _Mesh, method: str) -> None:
    response = mesh.rest(method, "/v1/profiles/p-1", headers=auth_header())
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "GET, POST"
    if method != "HEAD":
        assert response.json()["code"] == 12


def test_connect_is_refused(mesh: _Mesh) -> None:
    """CONNECT with a path is not even parsed as a request: the codec refuses it."""
    response = mesh.rest("CONNECT", "/v1/profiles/p-1", headers=auth_header())
    assert response.status_code == 400


@pytest.mark.parametrize("agent", ["sqlmap/1.7.2#stable", "Mozilla/5.00 (Nikto/2.5.0)", "masscan/1.3", "zgrab/0.x"])
def test_scanner_user_agents_are_403(mesh: _Mesh, agent: str) -> None:
    response = mesh.rest("GET", "/health/liveness", headers={"user-agent": agent})
    assert response.status_code == 403
    assert response.json()["code"] == 7


def test_ordinary_user_agent_passes(mesh: _Mesh) -> None:
    response = mesh.rest("GET", "/health/liveness", headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64)"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "with_token", "status"),
    [
        ("GET", "/v1/profiles/p-1", True, 200),
        ("GET", "/v1/profiles/p-1", False, 401),
        ("GET", "/v1/nope", False, 404),
        ("PUT", "/v1/profiles/p-1", False, 405),
        ("GET", "/v1/auth/sso/google/login", False, 302),
        ("GET", "/health/liveness", False, 200),
    ],
)
def test_security_headers_on_every_answer(mesh: _Mesh, method: str, path: str, with_token: bool, status: int) -> None:
    response = mesh.rest(method, path, headers=auth_header() if with_token else {})
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert response.headers["cache-control"] == "no-store"
    assert "server" not in response.headers
    assert "x-envoy-upstream-service-time" not in response.headers


# --- rate limiting ---------------------------------------------------------------------


def test_ratelimit_descriptors_come_from_the_verified_token_and_peer(mesh: _Mesh) -> None:
    headers = auth_header(tenant="acme", subject="rl-rest") | {"x-forwarded-for": "10.9.8.7", "x-real-ip": "10.9.8.7"}
    assert mesh.rest("GET", "/v1/profiles/p-1", headers=headers).status_code == 200
    domain, descriptors = mesh.rls.query_of_client("rl-rest")
    assert domain == "teei"
    assert descriptors == [[("tenant", "acme")], [("client", "rl-rest")], [("remote_address", "127.0.0.1")]]


def test_ratelimit_descriptors_over_grpc(mesh: _Mesh) -> None:
    metadata = (*auth_header(tenant="globex", subject="rl-grpc").items(), ("x-forwarded-for", "10.1.1.1"))
    mesh.grpc_call(GET_PROFILE, _profile_request(), metadata)
    _, descriptors = mesh.rls.query_of_client("rl-grpc")
    assert descriptors == [[("tenant", "globex")], [("client", "rl-grpc")], [("remote_address", "127.0.0.1")]]


def test_anonymous_public_call_is_limited_by_address_only(mesh: _Mesh) -> None:
    forged = {"x-jwt-payload": _b64(json.dumps({"company": "acme", "sub": "forged"}).encode())}
    assert mesh.rest("GET", "/v1/auth/sso/google/login", headers=forged).status_code == 302
    _, descriptors = mesh.rls.queries[-1]
    assert descriptors == [[("remote_address", "127.0.0.1")]]


def test_over_limit_is_429_with_ratelimit_headers(mesh: _Mesh) -> None:
    headers = auth_header(tenant="throttled-rest", subject="busy")
    answers = [mesh.rest("GET", "/v1/profiles/p-1", headers=headers) for _ in range(THROTTLED_AFTER + 1)]
    assert [a.status_code for a in answers] == [200] * THROTTLED_AFTER + [429]
    limited = answers[-1]
    assert limited.json() == {"code": 8, "message": "rate limit exceeded"}
    assert limited.headers["x-ratelimit-limit"].startswith(str(THROTTLED_AFTER))
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert limited.headers["x-ratelimit-reset"] == "42"
    for name, value in SECURITY_HEADERS.items():
        assert limited.headers.get(name) == value


def test_over_limit_is_resource_exhausted_over_grpc(mesh: _Mesh) -> None:
    metadata = tuple(auth_header(tenant="throttled-grpc", subject="busy").items())
    for _ in range(THROTTLED_AFTER):
        mesh.grpc_call(GET_PROFILE, _profile_request(), metadata)
    with pytest.raises(grpc.RpcError) as raised:
        mesh.grpc_call(GET_PROFILE, _profile_request(), metadata)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


# --- production defaults ---------------------------------------------------------------


def test_default_edge_fetches_keys_through_itself_and_fails_open(mesh: _Mesh, descriptor: Path, tmp_path: Path) -> None:
    """Default JWT settings: the keys come from the gateway's GetJwks through the edge's own /auth/jwks.
    The rate-limit service is down (nothing listens on its port): requests still pass."""
    settings = _edge_settings(descriptor, mesh.upstream, JwtSettings(), rls_port=free_port())
    edge = _start_envoy(settings, tmp_path)
    try:
        await_keys_loaded(edge.url, "/v1/profiles/p-0", auth_header())
        response = httpx.get(f"{edge.url}/v1/profiles/p-3", headers=auth_header(), timeout=10.0)
        assert response.status_code == 200, response.text
        assert mesh.upstream.calls(GET_JWKS), "the keys were not fetched from the gateway"
    finally:
        _stop_envoy(edge)


def test_ratelimit_service_is_reached_over_mtls(mesh: _Mesh, descriptor: Path, tmp_path: Path) -> None:
    """With UpstreamTls the edge presents its certificate and accepts only the ratelimit identity."""
    cert_dir = tmp_path / "mtls"
    certs.init_ca(cert_dir)
    for name in ("edge", "ratelimit"):
        certs.issue(cert_dir, name)
    rls = _RateLimitService()
    server, port = mesh.loop.run(_start_rls(rls, mtls.server_credentials(cert_dir, "ratelimit")))
    settings = replace(
        _edge_settings(descriptor, mesh.upstream, JwtSettings(), rls_port=port),
        jwt=JwtSettings(jwks_host="127.0.0.1", jwks_port=mesh.jwks_port, jwks_path=JwksServer.PATH),
        ratelimit=RateLimitSettings("127.0.0.1", port, tls=UpstreamTls.of(cert_dir, "edge"), timeout_ms=2000),
    )
    edge = _start_envoy(settings, tmp_path)
    try:
        headers = auth_header(tenant="throttled-mtls", subject="rl-mtls")
        await_keys_loaded(edge.url, "/v1/profiles/p-0", headers)
        statuses = [
            httpx.get(f"{edge.url}/v1/profiles/p-1", headers=headers, timeout=10.0).status_code for _ in range(3)
        ]
        assert statuses[-1] == 429, statuses
        assert rls.query_of_client("rl-mtls")[1][0] == [("tenant", "throttled-mtls")]
    finally:
        _stop_envoy(edge)
        mesh.loop.run(server.stop(None))
