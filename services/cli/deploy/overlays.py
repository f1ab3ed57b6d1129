"""The two overlays: `dev` (one replica of everything, single NATS and PostgreSQL instances) and `prod`
(HPA and PodDisruptionBudget per workload, topology spread, the gateway's key required). Both pin the mesh
image by digest through a kustomize `images:` entry that the release pipeline sets."""

from __future__ import annotations

from typing import Any

import yaml

from services.cli.deploy import engines, sizing
from services.cli.deploy.topology import (
    IMAGE,
    METRICS_PORT,
    MONITORING_NAMESPACE,
    PART_OF,
    PII_KEYRING_SECRET,
    SECRET_FILES,
    Topology,
    seals_pii,
)
from services.cli.deploy.workloads import selector
from services.cli.spec import Resource
from services.kit.telemetry import metrics

# The repository the release pipeline pushes to, and a digest no registry serves: an overlay that was not
# released cannot pull an image by accident. The pipeline replaces both with
# `kustomize edit set image teei-mesh=<registry>/teei-mesh@sha256:<digest of the pushed image>`.
UNRELEASED_REPOSITORY = "registry.invalid/teei-mesh"
UNRELEASED_DIGEST = "sha256:" + "0" * 64

Files = dict[str, Any]
# The per-pod p99 RPC latency the prod autoscalers read (served by prometheus-adapter: `adapter_rules`).
LATENCY_METRIC = "teei_rpc_server_duration_p99_seconds"


def image_entry() -> dict[str, str]:
    """The overlay's `images:` entry of the mesh image."""
    return {"name": IMAGE, "newName": UNRELEASED_REPOSITORY, "digest": UNRELEASED_DIGEST}


def dev(topology: Topology) -> Files:
    """The dev overlay's files: kustomization and patches."""
    patches: Files = {}
    nats = topology.nats
    if nats is not None:
        patches["patches/nats.yaml"] = _stateful_replicas(nats.name, 1)
        config = engines.nats_config(topology, nats, replicas=1)
        patches["patches/nats-config.yaml"] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{nats.name}-config"},
            "data": {"nats.conf": config},
        }
    for resource in topology.servers:
        patches[f"patches/{resource.name}.yaml"] = _dev_service_patch(topology, resource)
    patches["patches/redis.yaml"] = _stateful_replicas("redis", 1)
    for cluster in engines.postgres_clusters(topology):
        patches[f"patches/{cluster['metadata']['name']}.yaml"] = {
            "apiVersion": cluster["apiVersion"],
            "kind": "Cluster",
            "metadata": {"name": cluster["metadata"]["name"]},
            "spec": {"instances": 1, "storage": {"size": "1Gi"}},
        }
    return {"kustomization.yaml": _kustomization(sorted(patches), resources=[]), **patches}


def prod(topology: Topology) -> Files:
    """The prod overlay's files: kustomization, autoscalers, disruption budgets and the spread patches."""
    files: Files = {}
    for resource in topology.workloads:
        files[f"patches/{resource.name}.yaml"] = _prod_deployment_patch(resource)
    budgets = [_budget(r.name, selector(r)) for r in topology.workloads]
    if topology.nats is not None:
        budgets.append(_budget(topology.nats.name, {"app.kubernetes.io/name": topology.nats.name}))
    budgets.append(_budget("redis", {"app.kubernetes.io/name": "redis"}))
    files["pod-disruption-budgets.yaml"] = budgets
    files["autoscalers.yaml"] = [_autoscaler(r) for r in topology.workloads]
    files["prometheus-adapter-rules.yaml"] = adapter_rules()
    patches = sorted(p for p in files if p.startswith("patches/"))
    resources = ["autoscalers.yaml", "pod-disruption-budgets.yaml", "prometheus-adapter-rules.yaml"]
    return {"kustomization.yaml": _kustomization(patches, resources=resources), **files}


def _kustomization(patches: list[str], *, resources: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["../../base", *resources],
        # Set by the release pipeline (see UNRELEASED_REPOSITORY above and docs/deploy/kubernetes.md).
        "images": [image_entry()],
        "patches": [{"path": path} for path in patches],
    }


def _stateful_replicas(name: str, replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": {"replicas": replicas}}


def _dev_service_patch(topology: Topology, resource: Resource) -> dict[str, Any]:
    """One copy of each event stream (one NATS server), and code the live update of deploy/Tiltfile can write."""
    container: dict[str, Any] = {"name": resource.name, "securityContext": {"readOnlyRootFilesystem": False}}
    if topology.uses_nats(resource):
        container["env"] = [{"name": "TEEI_NATS_STREAM_REPLICAS", "value": "1"}]
    return _deployment_patch(resource, {"template": {"spec": {"containers": [container]}}})


def _deployment_patch(resource: Resource, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": resource.name}, "spec": spec}


def _prod_deployment_patch(resource: Resource) -> dict[str, Any]:
    """No fixed replica count (the autoscaler owns it), spread over zones and nodes, own secrets required."""
    match = {"labelSelector": {"matchLabels": selector(resource)}, "matchLabelKeys": ["pod-template-hash"]}
    spread = [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway", **match},
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule", **match},
    ]
    pod: dict[str, Any] = {"topologySpreadConstraints": spread}
    required = [s for _, s, _ in SECRET_FILES.get(resource.name, ()) if s.endswith("key-encryption-key")]
    if seals_pii(resource):
        required.append(PII_KEYRING_SECRET)
        # Without its key store the service refuses to start rather than keep people's keys in the pod.
        pod["containers"] = [{"name": resource.name, "env": [{"name": "TEEI_PII_KEYSTORE_REQUIRED", "value": "true"}]}]
    if required:
        pod["volumes"] = [{"name": s, "secret": {"secretName": s, "optional": False}} for s in required]
    return _deployment_patch(resource, {"replicas": None, "template": {"spec": pod}})


def _latency(resource: Resource) -> list[dict[str, Any]]:
    """A process that serves metrics also scales on its p99 RPC latency, averaged over its pods."""
    if METRICS_PORT not in resource.extra_ports:
        return []
    target = {"type": "AverageValue", "averageValue": sizing.HPA_P99_LATENCY_TARGET}
    return [{"type": "Pods", "pods": {"metric": {"name": LATENCY_METRIC}, "target": target}}]


def adapter_rules() -> dict[str, Any]:
    """prometheus-adapter's rule (its `rules:` config, for the adapter in the monitoring namespace) that
    serves LATENCY_METRIC per pod to the custom metrics API, from the services' RPC duration histogram."""
    (described,) = metrics.RPC_SERVER_DURATION.describe()
    histogram = described.name
    quantile = "histogram_quantile(0.99, sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>, le))"
    rule = {
        "seriesQuery": f'{histogram}_bucket{{namespace!="",pod!=""}}',
        "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
        "name": {"matches": f"^{histogram}_bucket$", "as": LATENCY_METRIC},
        "metricsQuery": quantile,
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "prometheus-adapter-rules", "namespace": MONITORING_NAMESPACE, "labels": dict(PART_OF)},
        "data": {"config.yaml": yaml.safe_dump({"rules": [rule]}, sort_keys=False)},
    }


def _budget(name: str, match: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "labels": dict(PART_OF)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": match}},
    }


def _autoscaler(resource: Resource) -> dict[str, Any]:
    cpu = {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": sizing.HPA_CPU_UTILIZATION}}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": resource.name, "labels": dict(PART_OF)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": resource.name},
            "minReplicas": sizing.HPA_MIN_REPLICAS,
            "maxReplicas": sizing.HPA_MAX_REPLICAS[resource.kind],
            "metrics": [{"type": "Resource", "resource": cpu}, *_latency(resource)],
            # Scale in slowly: a replica that leaves drains its calls for the grace period first.
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }
