"""The mesh's own workloads: per identity a ServiceAccount, Deployment, Services and the cert-manager
Certificate carrying its SPIFFE ID; probes mapped to gRPC health (services) and `/health/*` (the edge)."""

from __future__ import annotations

from typing import Any

from services.cli.deploy import sizing
from services.cli.deploy.topology import (
    ENVOY_IMAGE,
    IDENTITY_LABEL,
    IMAGE,
    METRICS_PORT,
    MTLS_DIR,
    PART_OF,
    PII_KEYRING_DIR,
    PII_KEYRING_SECRET,
    PRESTOP_SLEEP_SECONDS,
    PYTHON,
    SECRET_FILES,
    SECRETS_DIR,
    TERMINATION_GRACE_SECONDS,
    VAR_DIR,
    Topology,
    seals_pii,
)
from services.cli.spec import Resource
from services.kit.security.certificates import TRUST_DOMAIN, spiffe_id

CA_ISSUER = "teei-mesh-ca"
# cert-manager renews a certificate this long before it expires; the services reload it on their next handshake.
CERT_DURATION = "720h"  # 30 days, as `teei certs issue`
CERT_RENEW_BEFORE = "168h"  # 7 days, as `teei up`
ENVOY_UID = 101  # the `envoy` user of the official image
APP_UID = 10001  # the Containerfile's `teei` user
EDGE_CONFIG_MAP = "edge-envoy"


def labels(resource: Resource, component: str) -> dict[str, str]:
    """The labels of every object of `resource`; its pods also carry the mesh identity."""
    return {"app.kubernetes.io/name": resource.name, "app.kubernetes.io/component": component, **PART_OF}


def selector(resource: Resource) -> dict[str, str]:
    """The pod selector of `resource`'s Deployment and Services."""
    return {"app.kubernetes.io/name": resource.name}


def workload_objects(topology: Topology, resource: Resource) -> list[dict[str, Any]]:
    """Everything one mesh identity needs, NetworkPolicy aside."""
    objects = [_service_account(resource), certificate(topology, resource)]
    objects.append(
        _edge_deployment(topology, resource) if resource.kind == "envoy" else _deployment(topology, resource)
    )
    objects.extend(_services(topology, resource))
    return objects


def _meta(resource: Resource, name: str, component: str) -> dict[str, Any]:
    return {"name": name, "labels": labels(resource, component)}


def _service_account(resource: Resource) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(resource, resource.name, _component(resource)),
        "automountServiceAccountToken": False,
    }


def _component(resource: Resource) -> str:
    return "edge" if resource.kind == "envoy" else "service"


def certificate(topology: Topology, resource: Resource) -> dict[str, Any]:
    """The workload's mTLS certificate: one URI SAN (its SPIFFE ID), the Service names for hostname checks,
    localhost and 127.0.0.1 as `teei certs` issues them (the probe calls its own pod over loopback)."""
    host = topology.host(resource.name)
    dns = [resource.name, host.removesuffix(".cluster.local"), host, topology.pods_host(resource.name), "localhost"]
    server = resource.kind != "envoy"
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": _meta(resource, f"{resource.name}-mtls", _component(resource)),
        "spec": {
            "secretName": f"{resource.name}-mtls",
            "issuerRef": {"name": CA_ISSUER, "kind": "Issuer", "group": "cert-manager.io"},
            "duration": CERT_DURATION,
            "renewBefore": CERT_RENEW_BEFORE,
            "uris": [spiffe_id(resource.name, TRUST_DOMAIN)],
            "dnsNames": dns if server else ["localhost"],
            "ipAddresses": ["127.0.0.1"],
            # ECDSA P-256: the key also signs the service tokens of internal calls (ES256).
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "usages": ["digital signature", "client auth", *(["server auth"] if server else [])],
        },
    }


def _mtls_volume(resource: Resource) -> dict[str, Any]:
    """cert-manager's Secret under the file names the services read (`<name>.crt`, `<name>.key`, `ca.crt`).
    The kubelet swaps the files atomically when cert-manager renews them."""
    items = [
        {"key": "tls.crt", "path": f"{resource.name}.crt"},
        {"key": "tls.key", "path": f"{resource.name}.key"},
        {"key": "ca.crt", "path": "ca.crt"},
    ]
    return {"name": "mtls", "secret": {"secretName": f"{resource.name}-mtls", "items": items, "defaultMode": 0o440}}


def container_security() -> dict[str, Any]:
    """The security context of every container: no privilege escalation, a read-only root, no capabilities."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def pod_security(uid: int) -> dict[str, Any]:
    """The security context of every pod: non-root as `uid` (user, group and volumes), the runtime's seccomp."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def grpc_probe(resource: Resource, period: float, failures: int) -> dict[str, Any]:
    """An exec probe of grpc.health.v1 over mTLS with the pod's own certificate (kubelet's native gRPC probe
    speaks no TLS, and every service requires a client certificate)."""
    command = [PYTHON, "-m", "services.cli.deploy.probe", "--port", str(resource.port)]
    command += ["--service", resource.health["grpc"], "--identity", resource.name, "--mtls-dir", MTLS_DIR]
    timeout = max(int(resource.liveness.timeout_seconds) + 2, 3)  # a Python start comes on top of the call
    return {
        "exec": {"command": command},
        "periodSeconds": max(int(period), 1),
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def _deployment(topology: Topology, resource: Resource) -> dict[str, Any]:
    liveness = resource.liveness
    container: dict[str, Any] = {
        "name": resource.name,
        "image": IMAGE,
        "args": topology.args(resource),
        "ports": [{"name": "grpc", "containerPort": resource.port, "protocol": "TCP"}],
        "env": topology.service_env(resource),
        "startupProbe": grpc_probe(resource, 2, 30),
        # Each exec costs ~0.4 CPU-seconds (a Python start): probe less often than tilt.yaml's local checks.
        "readinessProbe": grpc_probe(resource, 10, 1),
        "livenessProbe": grpc_probe(resource, 4 * liveness.period_seconds, liveness.failure_threshold),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SLEEP_SECONDS}}},
        "resources": sizing.resources(resource),
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "mtls", "mountPath": MTLS_DIR, "readOnly": True},
            {"name": "var", "mountPath": VAR_DIR},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - the container's own scratch space, not the host's
        ],
    }
    volumes = [_mtls_volume(resource), {"name": "var", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]
    for _, secret, key in SECRET_FILES.get(resource.name, ()):
        container["volumeMounts"].append({"name": secret, "mountPath": f"{SECRETS_DIR}/{key}", "subPath": key})
        volumes.append({"name": secret, "secret": {"secretName": secret, "defaultMode": 0o440, "optional": True}})
    if seals_pii(resource):
        container["volumeMounts"].append({"name": PII_KEYRING_SECRET, "mountPath": PII_KEYRING_DIR, "readOnly": True})
        volumes.append(
            {
                "name": PII_KEYRING_SECRET,
                "secret": {"secretName": PII_KEYRING_SECRET, "defaultMode": 0o440, "optional": True},
            }
        )
    deployment = _deployment_of(resource, container, volumes, APP_UID)
    if METRICS_PORT in resource.extra_ports:
        port = resource.extra_ports[METRICS_PORT]
        container["ports"].append({"name": "metrics", "containerPort": port, "protocol": "TCP"})
        deployment["spec"]["template"]["metadata"]["annotations"] = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics",
        }
    return deployment


def _deployment_of(
    resource: Resource, container: dict[str, Any], volumes: list[dict[str, Any]], uid: int
) -> dict[str, Any]:
    pod_labels = {**labels(resource, _component(resource)), IDENTITY_LABEL: resource.name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(resource, resource.name, _component(resource)),
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(resource)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "serviceAccountName": resource.name,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "securityContext": pod_security(uid),
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def _edge_deployment(topology: Topology, resource: Resource) -> dict[str, Any]:
    config_dir = f"{VAR_DIR}/envoy"
    container: dict[str, Any] = {
        "name": resource.name,
        "image": ENVOY_IMAGE,
        "command": topology.command(resource),
        "ports": [{"name": "http", "containerPort": resource.port, "protocol": "TCP"}],
        "startupProbe": _http_probe(resource, "/health/readiness", 2, 30),
        "readinessProbe": _http_probe(resource, "/health/readiness", 5, 1),
        "livenessProbe": _http_probe(resource, "/health/liveness", 10, resource.liveness.failure_threshold),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SLEEP_SECONDS}}},
        "resources": sizing.resources(resource),
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "mtls", "mountPath": MTLS_DIR, "readOnly": True},
            {"name": "config", "mountPath": config_dir, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - the container's own scratch space, not the host's
        ],
    }
    volumes = [
        _mtls_volume(resource),
        {"name": "config", "configMap": {"name": EDGE_CONFIG_MAP}},
        {"name": "tmp", "emptyDir": {}},
    ]
    deployment = _deployment_of(resource, container, volumes, ENVOY_UID)
    # Envoy reads its client certificate at start: roll the edge when cert-manager renews it (stakater Reloader
    # acts on this annotation; without it, roll the edge within the renewal window, docs/deploy/kubernetes.md).
    deployment["metadata"]["annotations"] = {"secret.reloader.stakater.com/reload": f"{resource.name}-mtls"}
    return deployment


def _http_probe(resource: Resource, path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": max(int(resource.liveness.timeout_seconds), 1),
        "failureThreshold": failures,
    }


def _services(topology: Topology, resource: Resource) -> list[dict[str, Any]]:
    port_name = "http" if resource.kind == "envoy" else "grpc"
    port = {"name": port_name, "port": resource.port, "targetPort": port_name, "protocol": "TCP"}
    spec: dict[str, Any] = {"selector": selector(resource), "ports": [port]}
    if resource.kind == "envoy":
        spec |= {"type": "LoadBalancer", "externalTrafficPolicy": "Local"}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": _meta(resource, resource.name, _component(resource))}
    services = [service | {"spec": spec}]
    if resource.kind != "envoy":
        headless = {"clusterIP": "None", "publishNotReadyAddresses": False, **spec}
        meta = _meta(resource, f"{resource.name}-pods", _component(resource))
        services.append({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": headless})
    return services
