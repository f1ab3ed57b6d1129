"""The edge's cluster config (the ConfigMap's envoy.yaml) is accepted by the real Envoy once its mounted
paths point at real files, and points every cluster at in-cluster Services."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from services.cli import certs
from services.cli.deploy import edgeconfig, render
from services.cli.deploy.topology import MTLS_DIR
from services.cli.edge_settings import JWKS_CLUSTER, RATELIMIT_CLUSTER
from services.cli.launcher import DESCRIPTOR_SET
from services.cli.spec import free_port
from services.ratelimit.settings import DEFAULT_LIMITS, load_limits

ENVOY = Path(sys.executable).parent / "envoy"
CONFIG = render.DEPLOY_DIR / "base" / "edge" / edgeconfig.CONFIG_NAME


def test_envoy_validates_the_rendered_edge_config(tmp_path: Path) -> None:
    """`envoy --mode validate` accepts the committed config with the pod's mounts replaced by local files."""
    mtls_dir = tmp_path / "mtls"
    certs.init_ca(mtls_dir)
    certs.issue(mtls_dir, "edge")
    text = CONFIG.read_text().replace(MTLS_DIR, str(mtls_dir))
    text = text.replace(f"{edgeconfig.CONFIG_DIR}/{edgeconfig.DESCRIPTOR_NAME}", str(DESCRIPTOR_SET.resolve()))
    config = tmp_path / "envoy.yaml"
    config.write_text(text)
    command = [str(ENVOY), "--mode", "validate", "-c", str(config), "--base-id", str(free_port())]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_every_edge_cluster_points_at_an_in_cluster_service() -> None:
    """Services, JWKS and rate limits are reached by their cluster DNS names, never loopback."""
    mesh = render.load_topology()
    clusters = {c["name"]: c for c in yaml.safe_load(CONFIG.read_text())["static_resources"]["clusters"]}

    def address(name: str) -> str:
        endpoint = clusters[name]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        return str(endpoint["address"]["socket_address"]["address"])

    assert address(JWKS_CLUSTER) == mesh.host(mesh.edge.name)
    assert address(RATELIMIT_CLUSTER) == mesh.pods_host("ratelimit")
    for resource in mesh.of_kind("grpc"):
        assert address(resource.name) == mesh.pods_host(resource.name)
        assert clusters[resource.name]["type"] == "STRICT_DNS"


def test_each_edge_replica_counts_clients_and_addresses_and_asks_the_service_about_tenants() -> None:
    """Several edge replicas share the tenant quota through the rate-limit service; the per-instance
    keys are each replica's own buckets, with the limits of the image's limits file."""
    text = CONFIG.read_text()
    filters = {
        f["name"]: f.get("typed_config", {})
        for f in yaml.safe_load(text)["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0][
            "typed_config"
        ]["http_filters"]
    }
    local = filters["envoy.filters.http.local_ratelimit"]
    limits = load_limits(DEFAULT_LIMITS)
    buckets = {d["entries"][0]["key"]: d["token_bucket"] for d in local["descriptors"]}
    assert set(buckets) == {"client", "remote_address"}
    for key, bucket in buckets.items():
        limit = limits.keys[key].default
        assert limit is not None
        assert bucket["max_tokens"] == bucket["tokens_per_fill"] == limit.requests_per_unit
        assert bucket["fill_interval"] == f"{limit.unit.seconds}s"
    assert "envoy.filters.http.ratelimit" in filters
    settings = edgeconfig.settings(render.load_topology())
    assert settings.ratelimit is not None
    assert settings.ratelimit.keys == ("tenant",)
