"""The ceilings each scenario is compared with, started beside the mesh in the same run: a standalone
Envoy answering from `direct_response` (what the proxy alone can do here) and the Python floor (a
trivial grpc.aio servicer behind an edge rendered with the same filters as the mesh's)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml

from services.cli import edge, spec
from services.cli.launcher import DESCRIPTOR_SET, Mesh

ENVOY = Path(sys.executable).parent / "envoy"
PROFILE_SERVICE = "teei.profile.v1.ProfileService"

_DIRECT_RESPONSE = """\
static_resources:
  listeners:
    - name: ceiling
      address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": "type.googleapis.com/envoy.extensions.filters.network.\\
                  http_connection_manager.v3.HttpConnectionManager"
                stat_prefix: ceiling
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: {{prefix: "/"}}
                          direct_response:
                            status: 200
                            body: {{inline_string: '{{"profile":{{"profile_id":"ceiling"}}}}'}}
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin_port}}}}}
"""


@contextmanager
def _process(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for(url: str, *, headers: dict[str, str] | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, headers=headers, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s")
        time.sleep(0.1)


@contextmanager
def envoy_ceiling(work: Path) -> Iterator[str]:
    """A standalone Envoy answering every request from `direct_response`; yields its base URL."""
    port, admin_port = spec.free_port(), spec.free_port()
    config = work / "ceiling.yaml"
    config.write_text(_DIRECT_RESPONSE.format(port=port, admin_port=admin_port))
    argv = [str(ENVOY), "-c", str(config), "--base-id", str(admin_port), "--log-level", "warn"]
    with _process(argv, work / "ceiling.log"):
        _wait_for(f"http://127.0.0.1:{port}/")
        yield f"http://127.0.0.1:{port}"


def floor_settings(mesh: Mesh, *, port: int, admin_port: int, servicer_port: int) -> edge.EdgeSettings:
    """The mesh edge's filters (transcoder, JWT against the mesh's keys, RBAC, its rate limits as the mesh
    edge has them) in front of the trivial servicer, which stands in for the profile service."""
    main_edge = mesh.resource("edge")
    tls = None if mesh.mtls_dir is None else edge.UpstreamTls.of(mesh.mtls_dir, "edge")
    local_ratelimit, ratelimit = mesh.edge_ratelimits(tls)
    return edge.EdgeSettings(
        listen_port=port,
        admin_port=admin_port,
        descriptor_path=DESCRIPTOR_SET,
        upstreams=(
            edge.Upstream(name="profile", grpc_services=(PROFILE_SERVICE,), host="127.0.0.1", port=servicer_port),
        ),
        transcoded_services=(PROFILE_SERVICE,),
        health_interval_ms=mesh.health_interval_ms,
        upstream_tls=tls,
        jwt=edge.JwtSettings(jwks_host="127.0.0.1", jwks_port=main_edge.port),
        ratelimit=ratelimit,
        local_ratelimit=local_ratelimit,
    )


# Per minute, for every key the edge counts: each request is still counted where the mesh counts it (the
# edge's buckets, the rate-limit service), but no bench load reaches a limit, so no answer is a 429.
UNREACHED = 1_000_000_000
UNREACHED_LIMITS = {
    "version": 1,
    "domain": "teei",
    "descriptors": {
        key: {"default": {"requests_per_unit": UNREACHED, "unit": "minute"}} for key in edge.RATELIMIT_KEYS
    },
}


def unreached_limits(path: Path) -> Path:
    """Writes UNREACHED_LIMITS as a limits file (TEEI_RATELIMIT_CONFIG) at `path`."""
    path.write_text(yaml.safe_dump(UNREACHED_LIMITS))
    return path


@contextmanager
def python_floor(mesh: Mesh, work: Path, token: str) -> Iterator[str]:
    """The trivial servicer behind its own edge; yields the edge's base URL."""
    if mesh.mtls_dir is None:
        raise ValueError("the Python floor is measured behind the mTLS edge: start the mesh with mTLS")
    servicer_port, port, admin_port = spec.free_port(), spec.free_port(), spec.free_port()
    servicer = [sys.executable, "-m", "tests.load.trivial_servicer", str(servicer_port), str(mesh.mtls_dir)]
    settings = floor_settings(mesh, port=port, admin_port=admin_port, servicer_port=servicer_port)
    config = edge.write_envoy_config(settings, work / "floor-envoy.yaml")
    argv = [str(ENVOY), "-c", str(config), "--base-id", str(admin_port), "--log-level", "warn"]
    with _process(servicer, work / "floor-servicer.log"), _process(argv, work / "floor-edge.log"):
        url = f"http://127.0.0.1:{port}"
        _wait_for(f"{url}/v1/profiles/floor", headers={"authorization": f"Bearer {token}"})
        yield url
