"""The tilt.yaml resource as the launcher runs it: its own process, mTLS, the trust policy, the env it reads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from services.cli import certs, spec
from services.cli.launcher import Mesh
from services.kit.security import mtls
from services.ratelimit.wire import rls_pb2, rls_pb2_grpc
from tests.integration.ratelimit.conftest import prefixed

LIMITS = """\
version: 1
domain: teei
descriptors:
  tenant:
    default: {requests_per_unit: 2, unit: hour}
"""


@pytest.fixture
def mesh(tmp_path: Path, redis_url: str) -> Iterator[Mesh]:
    """Only the `ratelimit` resource of tilt.yaml, on a free port, over mTLS, counting in a real Redis."""
    limits = tmp_path / "limits.yaml"
    limits.write_text(LIMITS)
    resources = tuple(r for r in spec.with_free_ports(spec.load()) if r.name == "ratelimit")
    var_dir = tmp_path / "var"
    (var_dir / "logs").mkdir(parents=True)
    certs.init_ca(var_dir / "mtls")
    for name in ("ratelimit", "edge", "profile"):
        certs.issue(var_dir / "mtls", name)
    with prefixed(redis_url) as redis_env:
        environ = {**os.environ, **redis_env, "TEEI_RATELIMIT_CONFIG": str(limits)}
        running = Mesh(resources=resources, var_dir=var_dir, environ=environ)
        try:
            # One resource, as `teei up` starts each: spawn, then wait until its gRPC health (over mTLS
            # as the edge) is SERVING. Without an edge resource Mesh.start() has no edge URL to record.
            running.start_resource("ratelimit", timeout=60)
            yield running
        finally:
            assert running.stop() == {"ratelimit": 0}


def ask(mesh: Mesh, identity: str) -> Any:
    """ShouldRateLimit for tenant acme, over mTLS as workload `identity`."""
    credentials = mtls.channel_credentials(mesh.var_dir / "mtls", identity)
    with grpc.secure_channel(f"127.0.0.1:{mesh.resource('ratelimit').port}", credentials) as channel:
        message = rls_pb2.RateLimitRequest(domain="teei")
        message.descriptors.add().entries.add(key="tenant", value="acme")
        return rls_pb2_grpc.RateLimitServiceStub(channel).ShouldRateLimit(message, timeout=10)


def test_the_resource_serves_the_edge_over_mtls_with_limits_and_redis_from_its_environment(mesh: Mesh) -> None:
    codes = [ask(mesh, "edge").overall_code for _ in range(3)]
    assert codes == [rls_pb2.RateLimitResponse.OK] * 2 + [rls_pb2.RateLimitResponse.OVER_LIMIT]
    log = (mesh.var_dir / "logs" / "ratelimit.log").read_text()
    assert '"backend": "redis"' in log
    assert '"event": "server.started"' in log


def test_only_the_edge_may_ask(mesh: Mesh) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        ask(mesh, "profile")
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
