"""The edge's Envoy bootstrap for the cluster, rendered by the same code as `teei up`'s: upstreams at the
services' headless Services, JWKS from the edge's own Service, the shared tenant quota from the rate-limit
Service and the per-replica limits (clients, addresses) in the edge's own buckets, both from the image's
limits file, the edge's certificate where its Secret is mounted."""

from __future__ import annotations

import json
from pathlib import Path

from services.cli import edge, edge_ratelimit
from services.cli.deploy.topology import MTLS_DIR, VAR_DIR, Topology
from services.cli.launcher import DESCRIPTOR_SET
from services.kit.security import mtls
from services.ratelimit.settings import DEFAULT_LIMITS, load_limits

CONFIG_NAME = "envoy.yaml"
DESCRIPTOR_NAME = "descriptors.binpb"
# Where the ConfigMap is mounted in the edge pod: tilt.yaml's `-c {var_dir}/envoy/envoy.yaml`.
CONFIG_DIR = f"{VAR_DIR}/envoy"


def settings(topology: Topology, descriptor: Path = DESCRIPTOR_SET) -> edge.EdgeSettings:
    """The edge's settings in the cluster."""
    resource = topology.edge
    tls = edge.UpstreamTls(
        ca=mtls.ca_cert_path(Path(MTLS_DIR)),
        cert=mtls.cert_path(Path(MTLS_DIR), resource.name),
        key=mtls.key_path(Path(MTLS_DIR), resource.name),
    )
    upstreams = tuple(
        edge.Upstream(name=r.name, grpc_services=r.grpc_services, host=topology.pods_host(r.name), port=r.port)
        for r in topology.of_kind("grpc")
    )
    limiters = topology.of_kind("ratelimit")
    # Several edge replicas: the tenant quota is shared, so it stays with the rate-limit service (Redis);
    # each replica counts clients and addresses in its own buckets.
    local_keys, global_keys = edge_ratelimit.split_keys("global")
    ratelimit = (
        edge.RateLimitSettings(
            host=topology.pods_host(limiters[0].name), port=limiters[0].port, tls=tls, keys=global_keys
        )
        if limiters
        else None
    )
    local_ratelimit = edge_ratelimit.local_settings(load_limits(DEFAULT_LIMITS), local_keys) if limiters else None
    jwt = edge.JwtSettings(
        issuer=topology.options.issuer,
        audiences=(topology.options.audience,),
        jwks_host=topology.host(resource.name),
        jwks_port=resource.port,
    )
    return edge.EdgeSettings(
        listen_address="0.0.0.0",  # noqa: S104 - the pod's own address; the Service carries outside traffic
        listen_port=resource.port,
        admin_port=resource.extra_ports["admin_port"],
        descriptor_path=descriptor,
        upstreams=upstreams,
        upstream_tls=tls,
        jwt=jwt,
        ratelimit=ratelimit,
        local_ratelimit=local_ratelimit,
    )


def render(topology: Topology, descriptor: Path = DESCRIPTOR_SET) -> str:
    """The Envoy bootstrap text, reading the descriptor set from the mounted ConfigMap."""
    text = edge.render_envoy_config(settings(topology, descriptor))
    local = json.dumps(str(descriptor.resolve()))
    if text.count(local) != 1:
        raise RuntimeError(f"expected the descriptor path once in the Envoy config, found {text.count(local)}")
    return text.replace(local, json.dumps(f"{CONFIG_DIR}/{DESCRIPTOR_NAME}"))
