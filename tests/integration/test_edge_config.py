"""The rendered edge config, checked by the real Envoy.

Envoy validates the rendered bootstrap, then runs it on free loopback ports in front of two
small grpc.aio upstreams started here ("profile", serving the real ProfileService contract,
and "echo", a generic `test.Echo/Echo` method that returns the metadata keys it received).
Each upstream also serves grpc.health.v1, which Envoy checks actively; readiness follows it.
The edge verifies bearer tokens against a JWKS served here (`testing.ISSUER`); the security
behaviour itself is covered by test_edge_security.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import grpc
import httpx
import pytest
import yaml
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.cli.edge import (
    EdgeSettings,
    JwtSettings,
    LocalKeyLimits,
    LocalLimit,
    LocalRateLimitSettings,
    RateLimitSettings,
    Upstream,
    render_envoy_config,
    write_envoy_config,
)
from services.cli.edge_settings import MAX_REQUEST_HEADERS_COUNT, upstream_metadata_bytes
from services.cli.spec import free_port
from services.kit import testing
from services.kit.grpc.server import MAX_METADATA_BYTES, server_options
from services.kit.security.access import AccessRule
from teei.profile.v1 import profile_pb2
from tests.support import JwksServer

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENVOY = BIN / "envoy"
BUF = BIN / "buf"

PROFILE_SERVICE = "teei.profile.v1.ProfileService"
ECHO_SERVICE = "test.Echo"
ECHO_METHOD = f"/{ECHO_SERVICE}/Echo"
# The echo method is not in the descriptor set: the edge learns its rule from the settings.
ECHO_RULE = (ECHO_METHOD, AccessRule(public=False, permission="PERMISSION_COMPANY_DATA_READ"))
FORGED_IDENTITY_HEADERS = {
    "x-jwt-payload": "eyJzdWIiOiJhZG1pbiJ9",
    "x-tenant-id": "other-company",
    "x-teei-principal": "user:admin",
    "x-teei-role": "admin",
    "x-teei-claims": "{}",
    "x-teei-service-identity": "spiffe://teei/gateway",
    "x-teei-anything-new": "forged",
    "x-forwarded-client-cert": "By=spiffe://teei/gateway",
}
DEADLINE_S = 10.0
HEALTH_INTERVAL_MS = 100

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

_base_ids = itertools.count(1)
T = TypeVar("T")


def _base_id() -> int:
    # Unique per process and per Envoy started by it, so parallel runs do not share memory.
    return (os.getpid() % 100_000) * 100 + next(_base_ids)


def _poll(probe: Callable[[], T | None], what: Callable[[], str], deadline_s: float = DEADLINE_S) -> T:
    """Call probe until it returns a value other than None; fail after deadline_s.

    The pause between attempts only paces the polling: the deadline decides.
    """
    deadline = time.monotonic() + deadline_s
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {deadline_s}s waiting for {what()}")
        time.sleep(0.02)


# --- JWKS ------------------------------------------------------------------------------


def await_keys_loaded(url: str, path: str, headers: dict[str, str]) -> None:
    """Poll `path` with a valid token until the edge has fetched the JWKS (it does so asynchronously)."""
    seen: list[str] = []

    def probe() -> bool | None:
        response = httpx.get(f"{url}{path}", headers=headers, timeout=5.0)
        seen.append(f"{response.status_code} {response.text}")
        return True if response.status_code != 401 else None

    _poll(probe, lambda: f"the edge to accept a valid token; last answers {seen[-3:]}")


def auth_header(*, role: str = "company_admin", tenant: str = "acme", subject: str = "user-1") -> dict[str, str]:
    """An Authorization header with a valid token of the test issuer."""
    return dict(testing.tenant(tenant, role=role, subject=subject))


# --- upstreams -------------------------------------------------------------------------


class _Loop:
    """An asyncio loop on its own thread, hosting the grpc.aio upstreams."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T]) -> T:
        async def wrapper() -> T:
            return await coro

        future: Future[T] = asyncio.run_coroutine_threadsafe(wrapper(), self.loop)
        return future.result(timeout=DEADLINE_S)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=DEADLINE_S)
        self.loop.close()


@dataclass
class _Backend:
    name: str
    service: str
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int
    seen_metadata: list[dict[str, str]] = field(default_factory=list)


def _metadata(context: grpc.aio.ServicerContext[Any, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in context.invocation_metadata() or ()}


async def _start_backend(name: str, service: str) -> _Backend:
    server = grpc.aio.server()
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    backend = _Backend(name, service, server, health_servicer, port)

    async def get_profile(
        request: profile_pb2.GetProfileRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> profile_pb2.GetProfileResponse:
        backend.seen_metadata.append(_metadata(context))
        if request.profile_id == "missing":
            await context.abort(grpc.StatusCode.NOT_FOUND, "profile missing does not exist")
        return profile_pb2.GetProfileResponse(
            profile=profile_pb2.Profile(profile_id=request.profile_id, email="ada@example.org")
        )

    async def echo(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        seen = _metadata(context)
        backend.seen_metadata.append(seen)
        return json.dumps(sorted(seen)).encode()

    if service == PROFILE_SERVICE:
        handler = grpc.method_handlers_generic_handler(
            service,
            {
                "GetProfile": grpc.unary_unary_rpc_method_handler(
                    get_profile,
                    request_deserializer=profile_pb2.GetProfileRequest.FromString,
                    response_serializer=profile_pb2.GetProfileResponse.SerializeToString,
                )
            },
        )
    else:
        handler = grpc.method_handlers_generic_handler(service, {"Echo": grpc.unary_unary_rpc_method_handler(echo)})
    server.add_generic_rpc_handlers((handler,))
    await server.start()
    return backend


# --- Envoy -----------------------------------------------------------------------------


@dataclass
class _Edge:
    url: str
    grpc_target: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _start_envoy(settings: EdgeSettings, workdir: Path) -> _Edge:
    config = write_envoy_config(settings, workdir / "envoy.yaml")
    log = workdir / "envoy.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(ENVOY),
                "-c",
                str(config),
                "--base-id",
                str(_base_id()),
                "--concurrency",
                "2",
                "--log-level",
                "warn",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    edge = _Edge(
        url=f"http://127.0.0.1:{settings.listen_port}",
        grpc_target=f"127.0.0.1:{settings.listen_port}",
        process=process,
        log=log,
    )

    def alive() -> bool | None:
        if process.poll() is not None:
            pytest.fail(f"envoy exited with {process.returncode}:\n{edge.log_tail()}")
        try:
            return httpx.get(f"{edge.url}/health/liveness", timeout=1.0).status_code == 200 or None
        except httpx.TransportError:
            return None

    try:
        _poll(alive, lambda: f"envoy to accept requests:\n{edge.log_tail()}")
    except BaseException:
        _stop_envoy(edge)
        raise
    return edge


def _stop_envoy(edge: _Edge) -> None:
    edge.process.terminate()
    try:
        edge.process.wait(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        edge.process.kill()
        edge.process.wait()


@pytest.fixture(scope="module")
def descriptor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("descriptor") / "d.binpb"
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "BUF_CACHE_DIR": str(REPO / ".cache" / "buf"),
    }
    subprocess.run([str(BUF), "build", "-o", str(out)], cwd=REPO, env=env, check=True, timeout=60)
    return out


def _settings(descriptor: Path, upstreams: tuple[Upstream, ...], jwks: JwksServer) -> EdgeSettings:
    return EdgeSettings(
        listen_port=free_port(),
        admin_port=free_port(),
        descriptor_path=descriptor,
        upstreams=upstreams,
        health_interval_ms=HEALTH_INTERVAL_MS,
        transcoded_services=(PROFILE_SERVICE,),
        jwt=jwks.settings(),
        extra_access_rules=(ECHO_RULE,),
    )


@dataclass
class _Mesh:
    edge: _Edge
    loop: _Loop
    profile: _Backend
    echo: _Backend

    def set_health(self, backend: _Backend, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType) -> None:
        self.loop.run(backend.health.set(backend.service, status))


@pytest.fixture(scope="module")
def mesh(descriptor: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Mesh]:
    loop = _Loop()
    jwks = JwksServer()
    backends: list[_Backend] = []
    edge: _Edge | None = None
    try:
        profile = loop.run(_start_backend("profile", PROFILE_SERVICE))
        backends.append(profile)
        echo = loop.run(_start_backend("echo", ECHO_SERVICE))
        backends.append(echo)
        loop.run(profile.health.set(PROFILE_SERVICE, SERVING))
        loop.run(echo.health.set(ECHO_SERVICE, NOT_SERVING))
        upstreams = tuple(
            Upstream(name=b.name, grpc_services=(b.service,), host="127.0.0.1", port=b.port) for b in backends
        )
        edge = _start_envoy(_settings(descriptor, upstreams, jwks), tmp_path_factory.mktemp("edge"))
        await_keys_loaded(edge.url, "/v1/profiles/p-0", auth_header())
        yield _Mesh(edge=edge, loop=loop, profile=profile, echo=echo)
    finally:
        if edge is not None:
            _stop_envoy(edge)
        for backend in backends:
            loop.run(backend.server.stop(None))
        loop.close()
        jwks.close()


def _readiness(mesh: _Mesh) -> httpx.Response:
    return httpx.get(f"{mesh.edge.url}/health/readiness", timeout=5.0)


def _await_readiness(mesh: _Mesh, status: int, body: dict[str, Any]) -> httpx.Response:
    seen: list[str] = []

    def probe() -> httpx.Response | None:
        response = _readiness(mesh)
        seen.append(f"{response.status_code} {response.text}")
        if response.status_code == status and response.json() == body:
            return response
        return None

    return _poll(probe, lambda: f"readiness {status} {body}; last answers {seen[-3:]}\n{mesh.edge.log_tail()}")


# --- rendering and validation ----------------------------------------------------------


def _sample_settings(descriptor: Path, transcoded_services: tuple[str, ...] | None = None) -> EdgeSettings:
    return EdgeSettings(
        listen_port=18080,
        admin_port=19901,
        descriptor_path=descriptor,
        upstreams=(
            Upstream("gateway", ("teei.gateway.v1.GatewayService",), "127.0.0.1", 50051),
            Upstream("profile", (PROFILE_SERVICE, "teei.profile.v1.Other"), "profile.svc", 50052),
        ),
        transcoded_services=transcoded_services,
    )


def test_rendered_filter_chain_order_and_routes(descriptor: Path) -> None:
    config = yaml.safe_load(render_envoy_config(_sample_settings(descriptor)))
    listener = config["static_resources"]["listeners"][0]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert hcm["codec_type"] == "AUTO"
    filters = hcm["http_filters"]
    assert [f["name"] for f in filters] == [
        "envoy.filters.http.header_mutation",
        "teei.waf.user_agent",
        "teei.url_limit",
        "teei.redirect",
        "envoy.filters.http.lua",
        "envoy.filters.http.buffer",
        "teei.body_capture",
        "envoy.filters.http.grpc_json_transcoder",
        "envoy.filters.http.jwt_authn",
        "envoy.filters.http.rbac",
        "teei.body_fields",
        "envoy.filters.http.router",
    ]
    mutations = filters[0]["typed_config"]["mutations"]["request_mutations"]
    removed = {m["remove"] for m in mutations if "remove" in m}
    prefixes = {m["remove_on_match"]["key_matcher"]["prefix"] for m in mutations if "remove_on_match" in m}
    assert prefixes == {"x-teei-"}
    assert {h for h in FORGED_IDENTITY_HEADERS if not h.startswith("x-teei-")} <= removed
    assert "x-tenant-id" in removed
    assert hcm["use_remote_address"] is True
    assert hcm["xff_num_trusted_hops"] == 0
    assert hcm["server_header_transformation"] == "PASS_THROUGH"
    transcoder = filters[7]["typed_config"]
    assert transcoder["services"] == [
        "teei.gateway.v1.GatewayService",
        PROFILE_SERVICE,
        "teei.profile.v1.Other",
    ]
    assert transcoder["proto_descriptor"] == str(descriptor.resolve())

    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    assert routes[0]["name"] == "method_not_allowed"
    assert routes[0]["direct_response"]["status"] == 405
    grpc_routes = {r["match"]["prefix"]: r["route"]["cluster"] for r in routes if "route" in r}
    assert all("rate_limits" not in r["route"] for r in routes if "route" in r)
    assert grpc_routes == {
        "/teei.gateway.v1.GatewayService/": "gateway",
        f"/{PROFILE_SERVICE}/": "profile",
        "/teei.profile.v1.Other/": "profile",
    }
    assert routes[-1]["match"] == {"prefix": "/"}
    assert routes[-1]["direct_response"]["status"] == 404

    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    assert set(clusters) == {"gateway", "profile", "edge_admin", "edge_jwks"}
    jwks_address = clusters["edge_jwks"]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
    # By default the edge fetches the gateway's keys through its own /auth/jwks route.
    assert jwks_address["endpoint"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 18080}
    assert clusters["gateway"]["type"] == "STATIC"
    assert clusters["profile"]["type"] == "STRICT_DNS"
    check = clusters["profile"]["health_checks"][0]
    assert check["grpc_health_check"] == {"service_name": PROFILE_SERVICE}
    assert check["interval"] == check["no_traffic_interval"] == "1s"
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("upstreams", "error"),
    [
        pytest.param((), "at least one upstream", id="no-upstream"),
        pytest.param(
            (Upstream("a", ("x.A",), "127.0.0.1", 1), Upstream("a", ("x.B",), "127.0.0.1", 2)),
            "duplicate upstream name",
            id="duplicate-name",
        ),
        pytest.param(
            (Upstream("a", ("x.A",), "127.0.0.1", 1), Upstream("b", ("x.A",), "127.0.0.1", 2)),
            "routed to two upstreams",
            id="service-twice",
        ),
        pytest.param((Upstream("Bad::name", ("x.A",), "127.0.0.1", 1),), "invalid upstream name", id="bad-name"),
        pytest.param((Upstream("edge_admin", ("x.A",), "127.0.0.1", 1),), "invalid upstream name", id="reserved"),
        pytest.param((Upstream("a", (), "127.0.0.1", 1),), "no grpc_services", id="no-service"),
        pytest.param((Upstream("a", ("x.A/B",), "127.0.0.1", 1),), "invalid service", id="bad-service"),
        pytest.param((Upstream("a", ("x.A",), "127.0.0.1", 0),), "port must be in", id="bad-port"),
    ],
)
def test_invalid_settings_are_rejected(descriptor: Path, upstreams: tuple[Upstream, ...], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        render_envoy_config(EdgeSettings(8080, 9901, descriptor, upstreams))


def test_transcoded_services_must_be_routed(descriptor: Path) -> None:
    settings = _sample_settings(descriptor, transcoded_services=("teei.q2q.v1.Q2QService",))
    with pytest.raises(ValueError, match="not served by any upstream"):
        render_envoy_config(settings)


def test_ratelimit_is_wired_only_when_configured(descriptor: Path, tmp_path: Path) -> None:
    settings = replace(
        _sample_settings(descriptor, transcoded_services=(PROFILE_SERVICE,)),
        ratelimit=RateLimitSettings("ratelimit.svc", 8081),
    )
    config = yaml.safe_load(render_envoy_config(settings))
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    filters = {f["name"]: f["typed_config"] for f in hcm["http_filters"]}
    names = list(filters)
    assert names.index("envoy.filters.http.rbac") + 1 == names.index("envoy.filters.http.ratelimit")
    ratelimit = filters["envoy.filters.http.ratelimit"]
    assert ratelimit["domain"] == "teei"
    assert ratelimit["failure_mode_deny"] is False
    assert ratelimit["enable_x_ratelimit_headers"] == "DRAFT_VERSION_03"
    routes = [r for r in hcm["route_config"]["virtual_hosts"][0]["routes"] if "route" in r]
    actions = [rl["actions"] for rl in routes[0]["route"]["rate_limits"]]
    keys = [[a.get("metadata", {}).get("descriptor_key", "remote_address") for a in group] for group in actions]
    assert keys == [["tenant"], ["client"], ["remote_address"]]
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    assert clusters["edge_ratelimit"]["type"] == "STRICT_DNS"
    result = _envoy_validate(write_envoy_config(settings, tmp_path / "envoy.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_jwt_provider_settings(descriptor: Path) -> None:
    settings = replace(_sample_settings(descriptor), jwt=JwtSettings(issuer="https://id.example", audiences=("a", "b")))
    config = yaml.safe_load(render_envoy_config(settings))
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    jwt = next(f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.jwt_authn")["typed_config"]
    provider = jwt["providers"]["teei"]
    assert provider["issuer"] == "https://id.example"
    assert provider["audiences"] == ["a", "b"]
    assert provider["remote_jwks"]["http_uri"]["uri"] == "http://127.0.0.1:18080/auth/jwks"
    assert provider["remote_jwks"]["cache_duration"] == "300s"
    assert "async_fetch" in provider["remote_jwks"]
    assert provider["payload_in_metadata"] == "jwt_payload"
    assert "forward_payload_header" not in provider
    assert provider["from_headers"] == [{"name": "authorization", "value_prefix": "Bearer "}]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        pytest.param({"jwt": JwtSettings(audiences=())}, "audience", id="no-audience"),
        pytest.param({"jwt": JwtSettings(jwks_host="127.0.0.1")}, "go together", id="jwks-host-only"),
        pytest.param({"allowed_methods": ("get",)}, "allowed_methods", id="lower-case-method"),
        pytest.param({"blocked_user_agents": ('x"y',)}, "plain words", id="quoted-agent"),
        pytest.param({"extra_access_rules": (("nope", AccessRule(True, None)),)}, "method path", id="bad-path"),
        pytest.param({"max_api_request_body_bytes": 0}, "positive", id="zero-body"),
        pytest.param({"ratelimit": RateLimitSettings("", 1)}, "host", id="ratelimit-host"),
        pytest.param({"ratelimit": RateLimitSettings("rl", 1, keys=())}, "not be empty", id="ratelimit-no-keys"),
        pytest.param({"ratelimit": RateLimitSettings("rl", 1, keys=("ip",))}, "distinct keys", id="ratelimit-key"),
        pytest.param(
            {
                "ratelimit": RateLimitSettings("rl", 1, keys=("tenant", "client")),
                "local_ratelimit": LocalRateLimitSettings((LocalKeyLimits("client", LocalLimit(5, 60)),)),
            },
            "both global and local",
            id="ratelimit-key-twice",
        ),
        pytest.param(
            {"local_ratelimit": LocalRateLimitSettings((LocalKeyLimits("client", LocalLimit(0, 60)),))},
            "positive",
            id="local-zero-limit",
        ),
        pytest.param(
            {"local_ratelimit": LocalRateLimitSettings((LocalKeyLimits("client"),))}, "no limit", id="local-no-limit"
        ),
        pytest.param({"max_request_headers_kb": 64}, "must be refused by the edge", id="headers-over-grpc-limit"),
        pytest.param({"max_url_bytes": 30 * 1024}, "must be refused by the edge", id="url-twice-over-grpc-limit"),
        pytest.param({"max_url_bytes": 9 * 1024, "max_request_headers_kb": 8}, "not exceed", id="url-over-headers"),
        pytest.param({"max_url_bytes": 0}, "positive", id="zero-url"),
    ],
)
def test_invalid_security_settings_are_rejected(descriptor: Path, change: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        render_envoy_config(replace(_sample_settings(descriptor), **change))


def test_header_limits_leave_room_for_what_the_edge_adds(descriptor: Path) -> None:
    """The edge's limits, with the URL counted twice and what the edge adds, fit the services' limit."""
    settings = _sample_settings(descriptor)
    assert upstream_metadata_bytes(settings) <= MAX_METADATA_BYTES
    assert settings.max_url_bytes < settings.max_request_headers_kb * 1024
    hcm = yaml.safe_load(render_envoy_config(settings))["static_resources"]["listeners"][0]["filter_chains"][0]
    options = hcm["filters"][0]["typed_config"]
    assert options["max_request_headers_kb"] == settings.max_request_headers_kb
    assert options["common_http_protocol_options"]["max_headers_count"] == MAX_REQUEST_HEADERS_COUNT
    assert ("grpc.max_metadata_size", MAX_METADATA_BYTES) in server_options(1)
    assert ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES) in server_options(1)


def test_body_check_knows_every_json_body_and_no_raw_one(descriptor: Path) -> None:
    settings = replace(_sample_settings(descriptor), transcoded_services=("teei.gateway.v1.GatewayService",))
    hcm = yaml.safe_load(render_envoy_config(settings))["static_resources"]["listeners"][0]["filter_chains"][0]
    filters = {f["name"]: f["typed_config"] for f in hcm["filters"][0]["typed_config"]["http_filters"]}
    script = filters["teei.body_fields"]["default_source_code"]["inline_string"]
    assert (
        '["/teei.gateway.v1.GatewayService/DeleteSubjectData"] = "teei.gateway.v1.DeleteSubjectDataRequest"' in script
    )
    assert '["teei.common.v1.DataSubject"] = {["email"] = true, ["profileId"] = true, ["profile_id"] = true}' in script
    # The token endpoint's form is a raw body (google.api.HttpBody); GET bindings have none.
    assert "IssueToken" not in script
    assert "GetJwks" not in script


def test_bulk_uploads_skip_the_body_copy(descriptor: Path) -> None:
    settings = replace(
        _sample_settings(descriptor),
        upstreams=(Upstream("kintell", ("teei.kintell.v1.KintellService",), "127.0.0.1", 1),),
    )
    hcm = yaml.safe_load(render_envoy_config(settings))["static_resources"]["listeners"][0]["filter_chains"][0]
    routes = hcm["filters"][0]["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    bulk = [r for r in routes if r["name"].startswith("bulk_rest:") or r["name"].endswith("/ImportSessions")]
    assert len(bulk) == 2
    for route in bulk:
        assert route["typed_per_filter_config"]["teei.body_capture"]["disabled"] is True


def _envoy_validate(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENVOY), "--mode", "validate", "-c", str(config), "--log-level", "warn"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_envoy_validates_rendered_config(descriptor: Path, tmp_path: Path) -> None:
    settings = _sample_settings(descriptor, transcoded_services=(PROFILE_SERVICE,))
    result = _envoy_validate(write_envoy_config(settings, tmp_path / "envoy.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout + result.stderr


def test_envoy_rejects_transcoding_a_service_missing_from_descriptor(descriptor: Path, tmp_path: Path) -> None:
    # By default every upstream service is transcoded; teei.profile.v1.Other is not in the descriptor.
    result = _envoy_validate(write_envoy_config(_sample_settings(descriptor), tmp_path / "e.yaml"))
    assert result.returncode != 0
    assert "teei.profile.v1.Other" in result.stdout + result.stderr


# --- behaviour of the running edge -----------------------------------------------------


def test_liveness(mesh: _Mesh) -> None:
    response = httpx.get(f"{mesh.edge.url}/health/liveness", timeout=5.0)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "alive"}


def test_readiness_follows_active_grpc_health_checks(mesh: _Mesh) -> None:
    mesh.set_health(mesh.profile, SERVING)
    mesh.set_health(mesh.echo, NOT_SERVING)
    response = _await_readiness(
        mesh, 503, {"status": "not_ready", "services": {"profile": "SERVING", "echo": "NOT_SERVING"}}
    )
    assert response.headers["content-type"] == "application/json"

    mesh.set_health(mesh.echo, SERVING)
    _await_readiness(mesh, 200, {"status": "ready", "services": {"profile": "SERVING", "echo": "SERVING"}})


def test_unknown_path_is_json_404(mesh: _Mesh) -> None:
    response = httpx.get(f"{mesh.edge.url}/v1/nope", timeout=5.0)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"code": 5, "message": "no route for this path"}


def test_grpc_client_identity_headers_never_reach_upstream(mesh: _Mesh) -> None:
    token = auth_header(tenant="acme")["authorization"]
    metadata: tuple[tuple[str, str | bytes], ...] = (*FORGED_IDENTITY_HEADERS.items(), ("authorization", token))
    with grpc.insecure_channel(mesh.edge.grpc_target) as channel:
        echo: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(ECHO_METHOD)
        reply = echo(b"", metadata=metadata, timeout=5.0)
    keys = set(json.loads(reply))
    assert keys.isdisjoint(FORGED_IDENTITY_HEADERS), keys
    # The token travels on: the service validates it again and reads the tenant from it.
    assert mesh.echo.seen_metadata[-1]["authorization"] == token


def test_rest_is_transcoded_and_identity_headers_stripped(mesh: _Mesh) -> None:
    headers = {k.upper(): v for k, v in FORGED_IDENTITY_HEADERS.items()} | auth_header()
    response = httpx.get(f"{mesh.edge.url}/v1/profiles/p-1", headers=headers, timeout=5.0)
    assert response.status_code == 200, response.text
    profile = response.json()["profile"]
    # preserve_proto_field_names, always_print_primitive_fields, enums as names
    assert profile["profile_id"] == "p-1"
    assert profile["given_name"] == ""
    assert profile["role"] == "PERSON_ROLE_UNSPECIFIED"
    seen = mesh.profile.seen_metadata[-1]
    assert set(seen).isdisjoint(FORGED_IDENTITY_HEADERS), seen


def test_rest_grpc_error_is_json_status(mesh: _Mesh) -> None:
    response = httpx.get(f"{mesh.edge.url}/v1/profiles/missing", headers=auth_header(), timeout=5.0)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"code": 5, "message": "profile missing does not exist", "details": []}


def test_rest_without_token_is_refused_before_the_service(mesh: _Mesh) -> None:
    calls = len(mesh.profile.seen_metadata)
    response = httpx.get(f"{mesh.edge.url}/v1/profiles/p-1", timeout=5.0)
    assert response.status_code == 401
    assert response.json()["code"] == 16
    assert len(mesh.profile.seen_metadata) == calls


def test_rest_unknown_query_parameter_is_rejected(mesh: _Mesh) -> None:
    calls = len(mesh.profile.seen_metadata)
    response = httpx.get(f"{mesh.edge.url}/v1/profiles/p-1?bogus=1", headers=auth_header(), timeout=5.0)
    assert response.status_code == 400, response.text
    assert len(mesh.profile.seen_metadata) == calls


def test_header_with_underscores_is_rejected(mesh: _Mesh) -> None:
    response = httpx.get(f"{mesh.edge.url}/v1/profiles/p-1", headers={"x_teei_role": "admin"}, timeout=5.0)
    assert response.status_code == 400
