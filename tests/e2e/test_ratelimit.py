"""Global rate limits across two edges: two Envoys, each with its own rate-limit service, share one
Redis, so a tenant's limit holds whichever edge its requests reach.

The mesh runs as `teei up` runs it, with REDIS_URL set and a small limits file; the second edge and
its rate-limit service are started beside it from the same spec (same upstreams, same mTLS CA).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import yaml

from services.cli import spec
from services.cli.launcher import Mesh
from tests.e2e.conftest import auth
from tests.integration.ratelimit.redis_server import RedisServer

pytestmark = pytest.mark.e2e
TENANT_LIMIT = 12  # per hour: a window that cannot roll over during the test


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


def _limits(folder: Path) -> Path:
    limits = {
        "version": 1,
        "domain": "teei",
        "descriptors": {
            "tenant": {"default": {"requests_per_unit": TENANT_LIMIT, "unit": "hour"}},
            "client": {"default": {"requests_per_unit": 10_000, "unit": "hour"}},
            "remote_address": {"default": {"requests_per_unit": 10_000, "unit": "hour"}},
        },
    }
    path = folder / "limits.yaml"
    path.write_text(yaml.safe_dump(limits))
    return path


@pytest.fixture(scope="module")
def edges(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[Mesh, Mesh]]:
    """The mesh (edge one) and a second edge with its own rate-limit service, both on one Redis."""
    folder = tmp_path_factory.mktemp("twoedges")
    environ = {**os.environ, "REDIS_URL": redis_url, "TEEI_RATELIMIT_CONFIG": str(_limits(folder))}
    environ["TEEI_RATELIMIT_REDIS_PREFIX"] = f"teei:test:{uuid.uuid4().hex}:"
    resources = spec.with_free_ports(spec.load())
    first = Mesh(resources=resources, var_dir=folder / "var", environ=environ, health_interval_ms=200)
    first.start()
    # Same upstreams and var dir (CA, certificates, logs); its own edge and rate-limit ports.
    fresh = {r.name: r for r in spec.with_free_ports(resources)}
    second_resources = tuple(
        replace(r, port=fresh[r.name].port, extra_ports=fresh[r.name].extra_ports)
        if r.kind in {"envoy", "ratelimit"}
        else r
        for r in resources
    )
    # A Mesh of its own: it reaches the first one's worker groups at the worker ports var/mesh.json records.
    second = Mesh(resources=second_resources, var_dir=first.var_dir, environ=environ, health_interval_ms=200)
    try:
        second.start_resource("ratelimit")
        second.start_resource("edge")
        yield first, second
    finally:
        second.stop()
        first.stop()


def test_a_tenants_limit_holds_across_two_edges_sharing_one_redis(edges: tuple[Mesh, Mesh]) -> None:
    first, second = edges
    assert first.edge_url != second.edge_url
    tenant = f"rl-{uuid.uuid4().hex[:8]}"
    headers = auth(first.var_dir, tenant)
    statuses = []
    with httpx.Client(headers=headers, timeout=30.0) as client:
        for attempt in range(TENANT_LIMIT + 4):
            edge = (first, second)[attempt % 2]
            response = client.get(f"{edge.edge_url}/v1/profiles")
            statuses.append(response.status_code)
            if response.status_code == 429:
                limited = response
    assert statuses[:TENANT_LIMIT] == [200] * TENANT_LIMIT, statuses
    assert statuses[TENANT_LIMIT:] == [429] * 4, statuses
    assert limited.headers["x-ratelimit-limit"].startswith(str(TENANT_LIMIT))
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert int(limited.headers["x-ratelimit-reset"]) > 0
    assert limited.json()["code"] == 8  # RESOURCE_EXHAUSTED


def test_another_tenant_is_not_limited_by_the_first(edges: tuple[Mesh, Mesh]) -> None:
    first, second = edges
    busy, quiet = f"rl-{uuid.uuid4().hex[:8]}", f"rl-{uuid.uuid4().hex[:8]}"
    with httpx.Client(timeout=30.0) as client:
        for attempt in range(TENANT_LIMIT):
            edge = (first, second)[attempt % 2]
            assert client.get(f"{edge.edge_url}/v1/profiles", headers=auth(first.var_dir, busy)).status_code == 200
        assert client.get(f"{first.edge_url}/v1/profiles", headers=auth(first.var_dir, busy)).status_code == 429
        assert client.get(f"{second.edge_url}/v1/profiles", headers=auth(first.var_dir, quiet)).status_code == 200
