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
