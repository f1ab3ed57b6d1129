"""The edge's rate limits as `teei up` and Kubernetes configure them, through a real Envoy: clients and
addresses counted in Envoy's own token buckets, the tenant quota by the real rate-limit service, all from
one limits file.

Requests come from several loopback source addresses (127.0.0.2, 127.0.0.3: Linux routes 127/8 to the
loopback interface), so one address can be over its limit while another is served. 127.0.0.1, the
address of every other request of the module, has an override large enough never to matter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import httpx
import pytest
import yaml

from services.cli import edge_ratelimit
from services.cli.edge import EdgeSettings, JwtSettings, write_envoy_config
from services.kit.config import ServiceConfig
from services.kit.grpc.server import GrpcServer
from services.ratelimit import bootstrap
from services.ratelimit.settings import load_limits
from tests.integration.test_edge_config import _Edge, _envoy_validate, _Loop, _start_envoy, _stop_envoy, auth_header
from tests.integration.test_edge_config import await_keys_loaded as _await_keys_loaded
from tests.integration.test_edge_security import (
    GET_PROFILE,
    _edge_settings,
    _profile_request,
    _start_upstream,
    _Upstream,
)
from tests.support import JwksServer
from tests.unit.ratelimit.support import EPOCH, FakeClock

PER_CLIENT = 3  # per hour: no bucket refills a whole request within a test
PER_ADDRESS = 5
PER_TENANT = 4
LIMITS = {
    "version": 1,
    "domain": "teei",
    "descriptors": {
        "tenant": {"default": {"requests_per_unit": PER_TENANT, "unit": "hour"}},
        "client": {"default": {"requests_per_unit": PER_CLIENT, "unit": "hour"}},
        "remote_address": {
            "default": {"requests_per_unit": PER_ADDRESS, "unit": "hour"},
            "overrides": {"127.0.0.1": {"requests_per_unit": 1_000_000, "unit": "hour"}},
        },
    },
}
PROFILE = "/v1/profiles/p-1"
SSO_LOGIN = "/v1/auth/sso/google/login"


@dataclass
class _RateLimitedEdge:
    edge: _Edge
    admin_port: int
    upstream: _Upstream
    loop: _Loop

    def get(self, headers: dict[str, str], source: str = "127.0.0.1", path: str = PROFILE) -> httpx.Response:
        with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10.0) as client:
            return client.get(f"{self.edge.url}{path}", headers=headers)

    def statuses(self, headers: dict[str, str], times: int, source: str = "127.0.0.1") -> list[int]:
        return [self.get(headers, source).status_code for _ in range(times)]

    def stat(self, name: str) -> int:
        text = httpx.get(f"http://127.0.0.1:{self.admin_port}/stats?filter=^{name}$", timeout=5.0).text
        return int(text.split(":")[1]) if ":" in text else 0


@pytest.fixture(scope="module")
def limits_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("limits") / "limits.yaml"
    path.write_text(yaml.safe_dump(LIMITS))
    return path


def _settings(base: EdgeSettings, limits_file: Path, scope: str = "global") -> EdgeSettings:
    local, global_keys = edge_ratelimit.from_file(limits_file, scope)
    ratelimit = None if base.ratelimit is None or not global_keys else replace(base.ratelimit, keys=global_keys)
    return replace(base, ratelimit=ratelimit, local_ratelimit=local)


async def _start_rate_limit_service(limits_file: Path) -> tuple[GrpcServer, int]:
    """The real service, counting in memory; its clock stands still inside one window."""
    config = ServiceConfig(grpc_host="127.0.0.1", grpc_port=0, shutdown_grace_seconds=1.0)
    service = bootstrap.build(config, environ={}, limits=load_limits(limits_file), clock=FakeClock(EPOCH + 0.5))
    server = GrpcServer(service)
    return server, await server.start()


@pytest.fixture(scope="module")
def rl_edge(
    descriptor: Path, limits_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[_RateLimitedEdge]:
    """The edge with its local buckets, and the real rate-limit service (in memory) for the tenant quota."""
    loop = _Loop()
    jwks = JwksServer()
    stack = AsyncExitStack()
    edge: _Edge | None = None
    try:
        upstream = loop.run(_start_upstream())
        stack.push_async_callback(upstream.server.stop, None)
        server, rls_port = loop.run(_start_rate_limit_service(limits_file))
        stack.push_async_callback(server.stop)
        settings = _settings(_edge_settings(descriptor, upstream, jwks.settings(), rls_port), limits_file)
        edge = _start_envoy(settings, tmp_path_factory.mktemp("rl-edge"))
        _await_keys_loaded(edge.url, "/v1/profiles/p-0", auth_header(tenant="warm-up", subject="warm-up"))
        yield _RateLimitedEdge(edge=edge, admin_port=settings.admin_port, upstream=upstream, loop=loop)
    finally:
        if edge is not None:
            _stop_envoy(edge)
        loop.run(stack.aclose())
        loop.close()


def test_the_rendered_config_splits_the_keys_and_validates(
    descriptor: Path, limits_file: Path, tmp_path: Path, rl_edge: _RateLimitedEdge
) -> None:
    base = _edge_settings(descriptor, rl_edge.upstream, JwtSettings(), rls_port=8081)
    for scope, global_keys in (("global", ("tenant",)), ("local", ())):
        settings = _settings(base, limits_file, scope)
        assert (settings.ratelimit.keys if settings.ratelimit else ()) == global_keys
        config = write_envoy_config(settings, tmp_path / f"{scope}.yaml")
        result = _envoy_validate(config)
        assert result.returncode == 0, result.stdout + result.stderr
        text = config.read_text()
        assert ("envoy.filters.http.ratelimit" in text) is bool(global_keys)
        assert "envoy.filters.http.local_ratelimit" in text


def _ratelimit_headers(response: httpx.Response) -> list[list[str]]:
    """Every value of x-ratelimit-limit, -remaining and -reset, in that order."""
    return [response.headers.get_list(f"x-ratelimit-{name}") for name in ("limit", "remaining", "reset")]


def test_an_answer_carries_one_set_of_ratelimit_headers_the_closest_to_its_limit(rl_edge: _RateLimitedEdge) -> None:
    """Both filters count the request; the answer tells the limit with the fewest requests left."""
    first = rl_edge.get(auth_header(tenant="headers", subject="headers-1"))
    assert _ratelimit_headers(first)[:2] == [[str(PER_CLIENT)], [str(PER_CLIENT - 1)]]  # client 2 left, tenant 3
    for n in range(2, PER_TENANT + 1):
        last = rl_edge.get(auth_header(tenant="headers", subject=f"headers-{n}"))
    limit, remaining, _ = _ratelimit_headers(last)
    assert last.status_code == 200
    assert remaining == ["0"], "the tenant's last request: its quota is the closest"
    assert limit[0].startswith(f"{PER_TENANT}, ")


def test_a_client_over_its_limit_gets_429_while_another_client_is_served(rl_edge: _RateLimitedEdge) -> None:
    busy = auth_header(tenant="clients", subject="busy-client")
    statuses = rl_edge.statuses(busy, PER_CLIENT)
    limited = rl_edge.get(busy)
    assert [*statuses, limited.status_code] == [200] * PER_CLIENT + [429]
    assert limited.json() == {"code": 8, "message": "rate limit exceeded"}
    limit, remaining, reset = _ratelimit_headers(limited)
    assert (limit, remaining) == ([str(PER_CLIENT)], ["0"])
    assert 0 < int(reset[0]) <= 3600 // PER_CLIENT, "seconds until the bucket has a token again"
    assert limited.headers["content-type"] == "application/json"
    assert rl_edge.get(auth_header(tenant="clients-2", subject="other-client")).status_code == 200


def test_an_address_over_its_limit_gets_429_while_another_address_is_served(rl_edge: _RateLimitedEdge) -> None:
    def headers(n: int) -> dict[str, str]:  # a new client and tenant each time: only the address repeats
        return auth_header(tenant=f"addr-t{n}", subject=f"addr-c{n}")

    statuses = [rl_edge.get(headers(n), source="127.0.0.2").status_code for n in range(PER_ADDRESS + 1)]
    assert statuses == [200] * PER_ADDRESS + [429]
    assert rl_edge.get(headers(99), source="127.0.0.3").status_code == 200
    # A public call (no token, so no client or tenant) is limited by its address alone.
    assert rl_edge.get({}, source="127.0.0.2", path=SSO_LOGIN).status_code == 429
    assert rl_edge.get({}, source="127.0.0.3", path=SSO_LOGIN).status_code == 302


def test_a_client_over_its_limit_is_resource_exhausted_over_grpc(rl_edge: _RateLimitedEdge) -> None:
    metadata = tuple(auth_header(tenant="grpc-clients", subject="grpc-busy").items())
    with grpc.insecure_channel(rl_edge.edge.grpc_target) as channel:
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(GET_PROFILE)
        for _ in range(PER_CLIENT):
            call(_profile_request(), metadata=metadata, timeout=10.0)
        with pytest.raises(grpc.RpcError) as raised:
            call(_profile_request(), metadata=metadata, timeout=10.0)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_the_tenant_quota_is_still_counted_by_the_global_service(rl_edge: _RateLimitedEdge) -> None:
    """Each request from another client (none near its own limit): only the shared quota refuses."""
    asked = rl_edge.stat("cluster.edge_ratelimit.upstream_rq_total")
    statuses = [
        rl_edge.get(auth_header(tenant="quota", subject=f"quota-c{n}")).status_code for n in range(PER_TENANT + 1)
    ]
    assert statuses == [200] * PER_TENANT + [429]
    limited = rl_edge.get(auth_header(tenant="quota", subject="quota-c99"))
    assert limited.status_code == 429
    assert limited.json() == {"code": 8, "message": "rate limit exceeded"}
    limit, remaining, reset = _ratelimit_headers(limited)
    assert len(limit) == 1, "one set of headers, the tenant's"
    assert limit[0].startswith(f'{PER_TENANT}, {PER_TENANT};w=3600;name="tenant"')
    assert remaining == ["0"]
    assert len(reset) == 1
    assert int(reset[0]) > 0
    assert rl_edge.stat("cluster.edge_ratelimit.upstream_rq_total") >= asked + PER_TENANT + 1
    assert rl_edge.stat("cluster.profile.ratelimit.over_limit") >= 1, "the global filter refused it"
    assert rl_edge.get(auth_header(tenant="quota-2", subject="quota-c0")).status_code == 200


def test_anonymous_requests_cost_no_call_to_the_global_service(rl_edge: _RateLimitedEdge) -> None:
    """Only the tenant goes to the service: a request without a token has no tenant to ask about."""
    asked = rl_edge.stat("cluster.edge_ratelimit.upstream_rq_total")
    answers = [rl_edge.get({}).status_code for _ in range(3)]
    assert answers == [401] * 3
    assert rl_edge.stat("cluster.edge_ratelimit.upstream_rq_total") == asked


def _local_tenant_edge(descriptor: Path, limits_file: Path, tmp_path: Path, rl_edge: _RateLimitedEdge) -> _Edge:
    jwks = JwksServer()
    base = _edge_settings(descriptor, rl_edge.upstream, jwks.settings(), rls_port=1)
    settings = _settings(base, limits_file, "local")
    assert settings.ratelimit is None
    edge = _start_envoy(settings, tmp_path)
    _await_keys_loaded(edge.url, "/v1/profiles/p-0", auth_header(tenant="warm-up", subject="warm-up"))
    return edge


def test_a_local_tenant_quota_needs_no_service(
    descriptor: Path, limits_file: Path, tmp_path: Path, rl_edge: _RateLimitedEdge
) -> None:
    """TEEI_EDGE_TENANT_LIMIT=local: one edge counts the tenant quota itself, with no rate-limit cluster."""
    edge = _local_tenant_edge(descriptor, limits_file, tmp_path, rl_edge)
    try:
        statuses = [
            httpx.get(f"{edge.url}{PROFILE}", headers=auth_header(tenant="solo", subject=f"solo-{n}")).status_code
            for n in range(PER_TENANT + 1)
        ]
        assert statuses == [200] * PER_TENANT + [429]
        other = httpx.get(f"{edge.url}{PROFILE}", headers=auth_header(tenant="solo-2", subject="solo-0"))
        assert other.status_code == 200
    finally:
        _stop_envoy(edge)


def test_tenant_scope_follows_the_services_counters_unless_set() -> None:
    assert edge_ratelimit.tenant_scope({}, shared_counters=True) == "global"
    assert edge_ratelimit.tenant_scope({}, shared_counters=False) == "local"
    assert edge_ratelimit.tenant_scope({"TEEI_EDGE_TENANT_LIMIT": "Global"}, shared_counters=False) == "global"
    assert edge_ratelimit.tenant_scope({"TEEI_EDGE_TENANT_LIMIT": "local"}, shared_counters=True) == "local"
    with pytest.raises(ValueError, match="TEEI_EDGE_TENANT_LIMIT"):
        edge_ratelimit.tenant_scope({"TEEI_EDGE_TENANT_LIMIT": "shared"}, shared_counters=False)
