"""`teei deploy render`: the manifests agree with tilt.yaml and the trust policy, are fresh, and hold no secret."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.cli import spec
from services.cli.deploy import overlays, policies, render, sizing, topology
from services.cli.deploy.topology import DeployError, Options, Topology
from services.cli.edge_settings import RATELIMIT_CLUSTER
from services.cli.main import main
from services.kit.security import trust_policy
from services.kit.telemetry import metrics

DEPLOY = render.DEPLOY_DIR


def documents(tree: dict[str, bytes], prefix: str = "base/") -> list[dict[str, Any]]:
    """Every Kubernetes object of the rendered files under `prefix`."""
    found: list[dict[str, Any]] = []
    for path, data in tree.items():
        manifest = path.endswith(".yaml") and not path.endswith("kustomization.yaml") and "/edge/" not in path
        if path.startswith(prefix) and manifest:
            found.extend(d for d in yaml.safe_load_all(data) if d)
    return found


@pytest.fixture(scope="module")
def mesh() -> Topology:
    """The repository's topology."""
    return render.load_topology()


@pytest.fixture(scope="module")
def tree(mesh: Topology) -> dict[str, bytes]:
    """The files the repository's topology renders."""
    return render.files(mesh)


@pytest.fixture(scope="module")
def objects(tree: dict[str, bytes]) -> list[dict[str, Any]]:
    """The base's objects."""
    return documents(tree)


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one object of `kind` called `name`."""
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} objects"
    return matches[0]


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return list(deployment["spec"]["template"]["spec"]["containers"])


def test_committed_manifests_are_what_the_current_inputs_render(tree: dict[str, bytes]) -> None:
    """The freshness check: deploy/k8s is re-rendered whenever tilt.yaml or the trust policy changes."""
    assert render.differences(tree, DEPLOY) == []


def test_a_changed_tilt_yaml_makes_the_committed_manifests_stale(tmp_path: Path) -> None:
    """Changing a port in tilt.yaml without re-rendering is caught, naming the files that differ."""
    document = yaml.safe_load(spec.DEFAULT_SPEC.read_text())
    next(r for r in document["resources"] if r["name"] == "profile")["port"] = 50152
    changed = tmp_path / "tilt.yaml"
    changed.write_text(yaml.safe_dump(document))
    stale = render.differences(render.files(render.load_topology(changed)), DEPLOY)
    assert "base/profile.yaml" in stale
    assert "base/network-policies.yaml" in stale


def test_render_writes_a_tree_that_then_checks_clean_and_removes_files_no_longer_produced(tmp_path: Path) -> None:
    """`teei deploy render --out` writes; `--check` passes on it, fails after an edit and after a stray file."""
    out = tmp_path / "k8s"
    with pytest.raises(SystemExit) as written:
        main(["deploy", "render", "--out", str(out)])
    assert written.value.code == 0
    with pytest.raises(SystemExit) as clean:
        main(["deploy", "render", "--out", str(out), "--check"])
    assert clean.value.code == 0
    (out / "base" / "profile.yaml").write_text("edited\n")
    (out / "overlays" / "dev" / "stray.yaml").write_text("kind: ConfigMap\n")
    assert render.differences(render.files(render.load_topology()), out) == [
        "base/profile.yaml",
        "overlays/dev/stray.yaml",
    ]
    with pytest.raises(SystemExit) as stale:
        main(["deploy", "render", "--out", str(out), "--check"])
    assert stale.value.code == 1
    render.write(render.files(render.load_topology()), out)
    assert not (out / "overlays" / "dev" / "stray.yaml").exists()
    assert render.differences(render.files(render.load_topology()), out) == []


def test_render_refuses_a_malformed_spec_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken tilt.yaml is reported by name, nothing is written."""
    broken = tmp_path / "tilt.yaml"
    broken.write_text("resources: [{name: x}]\n")
    with pytest.raises(SystemExit) as failed:
        main(["deploy", "render", "--spec", str(broken), "--out", str(tmp_path / "out")])
    assert failed.value.code == 2
    assert "resource x" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_every_mesh_resource_has_deployment_services_probes_certificate_and_network_policy(
    mesh: Topology, objects: list[dict[str, Any]]
) -> None:
    """Each service and the edge of tilt.yaml is fully described, with probes mapped to its health check."""
    for resource in mesh.workloads:
        deployment = find(objects, "Deployment", resource.name)
        (container,) = containers(deployment)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert probe in container, f"{resource.name}: no {probe}"
        find(objects, "Service", resource.name)
        certificate = find(objects, "Certificate", f"{resource.name}-mtls")
        assert certificate["spec"]["uris"] == [f"spiffe://teei.local/service/{resource.name}"]
        policy = find(objects, "NetworkPolicy", resource.name)
        assert policy["spec"]["podSelector"]["matchLabels"] == {topology.IDENTITY_LABEL: resource.name}
        if "grpc" in resource.health:
            command = container["readinessProbe"]["exec"]["command"]
            assert command[command.index("--service") + 1] == resource.health["grpc"]
            assert command[command.index("--port") + 1] == str(resource.port)
        else:
            assert container["readinessProbe"]["httpGet"]["path"] == resource.health["http"].split("}", 1)[1]


def test_ports_agree_between_tilt_yaml_deployments_services_and_the_edge_config(
    mesh: Topology, objects: list[dict[str, Any]], tree: dict[str, bytes]
) -> None:
    """One serving port per resource, the same in tilt.yaml, the container, the Service, and the Envoy clusters;
    a process that serves metrics also exposes tilt.yaml's metrics port (scraped on the pod, not the Service)."""
    edge_config = yaml.safe_load(tree["base/edge/envoy.yaml"])
    clusters = {c["name"]: c for c in edge_config["static_resources"]["clusters"]}
    for resource in mesh.workloads:
        (container,) = containers(find(objects, "Deployment", resource.name))
        metrics = [resource.extra_ports[topology.METRICS_PORT]] if topology.METRICS_PORT in resource.extra_ports else []
        assert [p["containerPort"] for p in container["ports"]] == [resource.port, *metrics]
        assert [p["port"] for p in find(objects, "Service", resource.name)["spec"]["ports"]] == [resource.port]
        cluster = {"grpc": resource.name, "ratelimit": RATELIMIT_CLUSTER}.get(resource.kind)
        if cluster is not None:
            endpoint = clusters[cluster]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
            assert endpoint["address"]["socket_address"] == {
                "address": mesh.pods_host(resource.name),
                "port_value": resource.port,
            }
    listener = edge_config["static_resources"]["listeners"][0]["address"]["socket_address"]
    assert listener["port_value"] == mesh.edge.port


def test_environment_names_of_tilt_yaml_reach_the_containers_with_peers_as_services(
    mesh: Topology, objects: list[dict[str, Any]]
) -> None:
    """tilt.yaml's env keeps its names; a loopback peer address becomes that peer's Service on its port."""
    for resource in mesh.servers:
        (container,) = containers(find(objects, "Deployment", resource.name))
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["TEEI_GRPC_PORT"] == str(resource.port)
        assert set(resource.env) <= set(env)
        for value in (env[name] for name in resource.env):
            assert value is not None
            assert "127.0.0.1" not in value
    q2q = {e["name"]: e["value"] for e in containers(find(objects, "Deployment", "q2q"))[0]["env"] if "value" in e}
    assert q2q["TEEI_SAFETY_ADDRESS"] == f"{mesh.host('safety')}:{mesh.resource('safety').port}"


def calls_allowed_by(
    objects: list[dict[str, Any]], mesh: Topology
) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(caller, server) pairs the NetworkPolicies open on servers' gRPC ports: by ingress, and by egress."""
    port_of = {r.name: r.port for r in mesh.servers}
    ingress: set[tuple[str, str]] = set()
    egress: set[tuple[str, str]] = set()
    for policy in (o for o in objects if o["kind"] == "NetworkPolicy"):
        selected = policy["spec"]["podSelector"].get("matchLabels", {}).get(topology.IDENTITY_LABEL)
        if selected is None:
            continue
        for rule in policy["spec"].get("ingress", []):
            if rule.get("from") == [policies.monitoring()]:  # the scrape of /metrics: its own test
                continue
            for peer in rule.get("from", [{}]):
                caller = peer.get("podSelector", {}).get("matchLabels", {}).get(topology.IDENTITY_LABEL)
                assert caller is not None or selected == mesh.edge.name, f"{selected}: open to non-mesh peers"
                if caller is not None and selected in port_of:
                    assert [p["port"] for p in rule["ports"]] == [port_of[selected]]
                    ingress.add((caller, selected))
        for rule in policy["spec"].get("egress", []):
            for peer in rule.get("to", []):
                callee = peer.get("podSelector", {}).get("matchLabels", {}).get(topology.IDENTITY_LABEL)
                if callee in port_of:
                    assert [p["port"] for p in rule["ports"]] == [port_of[callee]]
                    egress.add((selected, callee))
    return ingress, egress


def test_network_policies_allow_exactly_the_calls_the_trust_policy_grants(
    mesh: Topology, objects: list[dict[str, Any]]
) -> None:
    """Between mesh identities, the ingress and egress rules both equal the trust policy's grants."""
    granted = {
        (caller, service) for service, callers in trust_policy.load_policy().callers.items() for caller in callers
    }
    ingress, egress = calls_allowed_by(objects, mesh)
    assert ingress == granted
    assert egress == granted
    assert find(objects, "NetworkPolicy", "default-deny-ingress")["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress"],
    }


def test_a_new_grant_in_the_trust_policy_opens_exactly_that_call(tmp_path: Path) -> None:
    """Adding `profile` as a caller of `safety` adds that one pair to the rendered NetworkPolicies."""
    document = yaml.safe_load(trust_policy.DEFAULT_POLICY.read_text())
    document["services"]["safety"]["profile"] = "screens profile free text"
    path = tmp_path / "trust-policy.yaml"
    path.write_text(yaml.safe_dump(document))
    changed = render.load_topology(policy_path=path)
    before = calls_allowed_by(documents(render.files(render.load_topology())), changed)[0]
    after = calls_allowed_by(documents(render.files(changed)), changed)[0]
    assert after - before == {("profile", "safety")}


def test_termination_grace_covers_the_pre_stop_pause_and_the_services_drain(objects: list[dict[str, Any]]) -> None:
    """terminationGracePeriodSeconds >= preStop sleep + the drain grace the services use on SIGTERM."""
    for deployment in (o for o in objects if o["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pod["terminationGracePeriodSeconds"] >= pause + topology.DRAIN_GRACE_SECONDS
    assert topology.DRAIN_GRACE_SECONDS == 15.0


def test_containers_run_non_root_on_a_read_only_root_filesystem(objects: list[dict[str, Any]]) -> None:
    """Every workload of the base: non-root pod, no privilege escalation, read-only root, no capabilities."""
    for workload in (o for o in objects if o["kind"] in ("Deployment", "StatefulSet")):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_databases_and_redis_credentials_come_from_secrets_by_reference(
    mesh: Topology, objects: list[dict[str, Any]]
) -> None:
    """DATABASE_URL is the CloudNativePG app Secret's `uri` of the service's own Cluster; no Secret is rendered."""
    assert not [o for o in objects if o["kind"] == "Secret"]
    for resource in mesh.of_kind("grpc"):
        (container,) = containers(find(objects, "Deployment", resource.name))
        (database,) = [e for e in container["env"] if e["name"] == "DATABASE_URL"]
        cluster = find(objects, "Cluster", f"{resource.name}-db")
        assert database["valueFrom"]["secretKeyRef"] == {"name": f"{resource.name}-db-app", "key": "uri"}
        assert cluster["spec"]["bootstrap"]["initdb"]["database"] == resource.name


SECRET_PATTERNS = [
    re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(rb"(?i)\b(password|passwd|secret|token|api[_-]?key)[ \t]*[:=][ \t]*['\"]?[A-Za-z0-9+/_\-]{8,}"),
    re.compile(rb"(?i)postgres(ql)?://[^:\s/]+:[^@\s$]+@"),
    re.compile(rb"(?i)redis://:[^@\s$(]+@"),
]


def secret_findings(root: Path) -> Iterator[str]:
    """Lines of files under `root` that look like a private key, a password value or a Secret's data."""
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".binpb"):
        text = path.read_bytes()
        for document in yaml.safe_load_all(text) if path.suffix == ".yaml" else ():
            if isinstance(document, dict) and document.get("kind") == "Secret":
                yield f"{path}: a Secret object"
        for pattern in SECRET_PATTERNS:
            for match in pattern.finditer(text):
                yield f"{path}: {match.group(0)[:60]!r}"


def test_nothing_in_deploy_holds_a_secret_value() -> None:
    """No private key, password, credential URL or Secret object anywhere under deploy/."""
    assert list(secret_findings(DEPLOY.parent)) == []


def test_the_secret_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The scan is not vacuous: each kind of leak is reported."""
    (tmp_path / "key.pem").write_text("-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n")
    (tmp_path / "env.yaml").write_text("env:\n- name: X\n  value: postgresql://app:hunter2hunter2@db:5432/app\n")
    (tmp_path / "pw.yaml").write_text("password: S3cretValue99\n")
    (tmp_path / "secret.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n")
    assert len(list(secret_findings(tmp_path))) == 4


def test_both_overlays_pin_the_mesh_image_by_digest_through_an_images_entry(tree: dict[str, bytes]) -> None:
    """Each overlay's `images:` entry names the mesh image with a sha256 digest the release pipeline replaces."""
    for overlay in ("dev", "prod"):
        kustomization = yaml.safe_load(tree[f"overlays/{overlay}/kustomization.yaml"])
        (entry,) = [i for i in kustomization["images"] if i["name"] == topology.IMAGE]
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", entry["digest"])
        assert entry == overlays.image_entry()
    assert overlays.UNRELEASED_REPOSITORY.split("/")[0].endswith(".invalid")


def test_topology_refuses_what_it_cannot_deploy(mesh: Topology) -> None:
    """Unknown kinds, grants naming missing resources and servers nobody may call are errors."""
    odd = spec.Resource(name="odd", kind="cron", port=1, cmd=("x",), health={})
    with pytest.raises(DeployError, match="odd"):
        Topology((*mesh.resources, odd), mesh.policy)
    without_safety = tuple(r for r in mesh.resources if r.name != "safety")
    with pytest.raises(DeployError, match="safety"):
        Topology(without_safety, mesh.policy)
    callers = {k: v for k, v in mesh.policy.callers.items() if k != "buddy"}
    policy = trust_policy.TrustPolicy(mesh.policy.trust_domain, mesh.policy.identities, callers)
    with pytest.raises(DeployError, match="no grants for buddy"):
        Topology(mesh.resources, policy)


def test_spec_env_names_an_unknown_peer_as_an_error(mesh: Topology) -> None:
    """A loopback address of a resource that does not exist cannot be turned into a Service."""
    q2q = mesh.resource("q2q")
    broken = spec.Resource(**{**q2q.__dict__, "env": {"X": "127.0.0.1:{ports[nowhere]}"}})
    with pytest.raises(DeployError, match="nowhere"):
        mesh.spec_env(broken)
    native = spec.Resource(**{**q2q.__dict__, "cmd": ("/usr/bin/thing",)})
    with pytest.raises(DeployError, match="python"):
        mesh.args(native)


def test_options_set_the_namespace_issuer_and_audience_everywhere() -> None:
    """A namespace and issuer given to render reach the kustomization, the Service names and the edge config."""
    options = Options(namespace="mesh-staging", issuer="https://auth.example.org", audience="staging-api")
    tree = render.files(render.load_topology(options=options))
    assert yaml.safe_load(tree["base/kustomization.yaml"])["namespace"] == "mesh-staging"
    edge_config = tree["base/edge/envoy.yaml"].decode()
    assert "https://auth.example.org" in edge_config
    assert "gateway-pods.mesh-staging.svc.cluster.local" in edge_config
    profile = find(documents(tree), "Deployment", "profile")
    env = {e["name"]: e.get("value") for e in containers(profile)[0]["env"]}
    assert env["TEEI_AUTH_AUDIENCE"] == "staging-api"


def mebibytes(quantity: str) -> float:
    """A Kubernetes memory quantity in MiB (Mi or Gi)."""
    number, unit = float(quantity[:-2]), quantity[-2:]
    return number * {"Mi": 1, "Gi": 1024}[unit]


def test_requests_hold_the_measured_memory_and_the_docs_quote_the_measured_throughput(mesh: Topology) -> None:
    """Each kind's memory request is above its measured RSS (limit above the request), and the capacity plan
    quotes the requests a second per core the measurement gives."""
    docs = (spec.REPO_ROOT / "docs" / "deploy" / "kubernetes.md").read_text()
    for resource in (*mesh.workloads, *mesh.of_kind("nats")):
        resources = sizing.resources(resource)
        measured = sizing.MEASURED[resource.kind].rss_mib
        assert mebibytes(resources["requests"]["memory"]) > measured
        assert mebibytes(resources["limits"]["memory"]) > mebibytes(resources["requests"]["memory"])
    for kind in ("grpc", "envoy", "ratelimit"):
        per_core = sizing.requests_per_core(kind)
        assert f"~{round(per_core, -1):,.0f}" in docs, (kind, per_core)


def test_metrics_ports_are_open_only_to_the_monitoring_namespace(mesh: Topology, objects: list[dict[str, Any]]) -> None:
    """Each process that serves metrics lets the monitoring namespace reach exactly its metrics port, sets the
    env that opens it on the pod's address, and asks Prometheus to scrape it."""
    scraped = [r for r in mesh.workloads if topology.METRICS_PORT in r.extra_ports]
    assert {r.kind for r in scraped} == {"grpc", "ratelimit"}
    for resource in scraped:
        port = resource.extra_ports[topology.METRICS_PORT]
        policy = find(objects, "NetworkPolicy", resource.name)
        (rule,) = [r for r in policy["spec"]["ingress"] if r.get("from") == [policies.monitoring()]]
        assert [p["port"] for p in rule["ports"]] == [port]
        deployment = find(objects, "Deployment", resource.name)
        (container,) = containers(deployment)
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert (env["TEEI_METRICS_PORT"], env["TEEI_METRICS_HOST"]) == (str(port), "0.0.0.0")
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(port)


def test_prod_autoscalers_scale_on_cpu_and_the_p99_latency_the_adapter_serves(mesh: Topology) -> None:
    """Every prod HPA of a process with metrics scales on CPU and on the per-pod p99 RPC latency; the
    prometheus-adapter rule serves exactly that metric from the histogram the services export."""
    files = overlays.prod(mesh)
    by_name = {hpa["metadata"]["name"]: hpa for hpa in files["autoscalers.yaml"]}
    for resource in (r for r in mesh.workloads if topology.METRICS_PORT in r.extra_ports):
        kinds = [
            (m["type"], m.get("pods", {}).get("metric", {}).get("name"))
            for m in by_name[resource.name]["spec"]["metrics"]
        ]
        assert kinds == [("Resource", None), ("Pods", overlays.LATENCY_METRIC)]
    (rule,) = yaml.safe_load(files["prometheus-adapter-rules.yaml"]["data"]["config.yaml"])["rules"]
    assert rule["name"]["as"] == overlays.LATENCY_METRIC
    (histogram,) = metrics.RPC_SERVER_DURATION.describe()
    assert rule["seriesQuery"].startswith(histogram.name + "_bucket{")
    assert "prometheus-adapter-rules.yaml" in files["kustomization.yaml"]["resources"]
