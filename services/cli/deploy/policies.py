"""NetworkPolicies: nothing reaches a pod of the namespace unless a policy here lets it, and between mesh
identities exactly the calls the trust policy grants are open (each as an ingress rule on the callee and an
egress rule on the caller). Engines accept only their clients, their peers and their operators."""

from __future__ import annotations

from typing import Any

from services.cli.deploy.topology import (
    IDENTITY_LABEL,
    METRICS_PORT,
    MONITORING_NAMESPACE,
    NATS_CLUSTER_PORT,
    PART_OF,
    POSTGRES_PORT,
    REDIS_PORT,
    Topology,
)
from services.cli.spec import Resource

CNPG_NAMESPACE = "cnpg-system"  # where the CloudNativePG operator runs (its default install)
CNPG_STATUS_PORT = 8000  # the instance manager's status endpoint the operator polls
_DNS = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


def _policy(name: str, pods: dict[str, str], *, ingress: list[Any], egress: list[Any] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": {"matchLabels": pods}, "ingress": ingress}
    spec["policyTypes"] = ["Ingress"] if egress is None else ["Ingress", "Egress"]
    if egress is not None:
        spec["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "labels": dict(PART_OF)},
        "spec": spec,
    }


def _identity(name: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {IDENTITY_LABEL: name}}}


def monitoring() -> dict[str, Any]:
    """The peer that scrapes metrics: any pod of the monitoring namespace (Prometheus, prometheus-adapter)."""
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}}}


def _tcp(port: int) -> dict[str, Any]:
    return {"protocol": "TCP", "port": port}


def default_deny() -> dict[str, Any]:
    """No ingress to any pod of the namespace unless another policy allows it."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny-ingress", "labels": dict(PART_OF)},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


def workload_policy(topology: Topology, resource: Resource) -> dict[str, Any]:
    """Ingress from the identities the trust policy grants (the edge: from anywhere, on its listener); egress
    to the servers it may call, its engines, the edge's JWKS route and DNS, nothing else."""
    if resource.kind == "envoy":
        ingress = [{"ports": [_tcp(resource.port)]}]
    else:
        callers = topology.callers(resource.name)
        ingress = [{"from": [_identity(c) for c in callers], "ports": [_tcp(resource.port)]}]
        if METRICS_PORT in resource.extra_ports:
            ingress.append({"from": [monitoring()], "ports": [_tcp(resource.extra_ports[METRICS_PORT])]})
    egress: list[dict[str, Any]] = [
        {"to": [_identity(callee)], "ports": [_tcp(topology.resource(callee).port)]}
        for callee in topology.callees(resource.name)
    ]
    egress.append({"to": [_identity(topology.edge.name)], "ports": [_tcp(topology.edge.port)]})  # JWKS
    egress.extend(_engine_egress(topology, resource))
    egress.append(_DNS)
    return _policy(resource.name, {IDENTITY_LABEL: resource.name}, ingress=ingress, egress=egress)


def _engine_egress(topology: Topology, resource: Resource) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    if topology.uses_nats(resource) and topology.nats is not None:
        nats = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": topology.nats.name}}}
        rules.append({"to": [nats], "ports": [_tcp(topology.nats.port)]})
    if topology.has_database(resource):
        database = {"podSelector": {"matchLabels": {"cnpg.io/cluster": topology.database_cluster(resource.name)}}}
        rules.append({"to": [database], "ports": [_tcp(POSTGRES_PORT)]})
    if resource.kind == "ratelimit":
        redis = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}}}
        rules.append({"to": [redis], "ports": [_tcp(REDIS_PORT)]})
    return rules


def engine_policies(topology: Topology) -> list[dict[str, Any]]:
    """Ingress to NATS from its clients and peers, to each database from its service, its own instances and
    the CloudNativePG operator, to Redis from the rate-limit service and its replicas."""
    policies = []
    nats = topology.nats
    if nats is not None:
        clients = [_identity(r.name) for r in topology.workloads if topology.uses_nats(r)]
        peers = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": nats.name}}}
        ingress = [
            {"from": clients, "ports": [_tcp(nats.port)]},
            {"from": [peers], "ports": [_tcp(NATS_CLUSTER_PORT), _tcp(nats.port)]},
        ]
        policies.append(_policy(nats.name, {"app.kubernetes.io/name": nats.name}, ingress=ingress, egress=None))
    for service in topology.servers:
        if topology.has_database(service):
            policies.append(_database_policy(topology, service))
    limiters = [_identity(r.name) for r in topology.of_kind("ratelimit")]
    redis = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}}}
    ingress = [{"from": [*limiters, redis], "ports": [_tcp(REDIS_PORT)]}]
    policies.append(_policy("redis", {"app.kubernetes.io/name": "redis"}, ingress=ingress, egress=None))
    return policies


def _database_policy(topology: Topology, service: Resource) -> dict[str, Any]:
    cluster = topology.database_cluster(service.name)
    instances = {"podSelector": {"matchLabels": {"cnpg.io/cluster": cluster}}}
    operator = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": CNPG_NAMESPACE}}}
    ingress = [
        {"from": [_identity(service.name)], "ports": [_tcp(POSTGRES_PORT)]},
        {"from": [instances], "ports": [_tcp(POSTGRES_PORT), _tcp(CNPG_STATUS_PORT)]},
        {"from": [operator], "ports": [_tcp(POSTGRES_PORT), _tcp(CNPG_STATUS_PORT)]},
    ]
    return _policy(cluster, {"cnpg.io/cluster": cluster}, ingress=ingress, egress=None)
