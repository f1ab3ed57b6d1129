"""`replicas` in tilt.yaml: how many worker processes serve a gRPC service on its port, read and refused as
the spec's other keys are, overridden by TEEI_REPLICAS; the launcher runs more than one as a worker group."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from services.cli import edge, spec, workers
from services.cli.launcher import DESCRIPTOR_SET, LaunchError, Mesh, startable


def _load(tmp_path: Path, entry: str) -> tuple[spec.Resource, ...]:
    path = tmp_path / "tilt.yaml"
    path.write_text(f"resources:\n  - {{name: svc, port: 1, cmd: [x], health: {{grpc: s}}, {entry}}}\n")
    return spec.load(path)


def test_a_service_without_replicas_runs_one_worker_per_core(tmp_path: Path) -> None:
    (resource,) = _load(tmp_path, "kind: grpc")
    assert resource.replicas is None
    assert spec.replica_count(resource, {}) == (os.cpu_count() or 1)


def test_replicas_are_read_per_service_and_one_is_allowed(tmp_path: Path) -> None:
    (three,) = _load(tmp_path, "kind: grpc, replicas: 3")
    (one,) = _load(tmp_path, "kind: grpc, replicas: 1")
    assert (spec.replica_count(three, {}), spec.replica_count(one, {})) == (3, 1)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("kind: grpc, replicas: 0", "resource svc: replicas: Input should be greater than or equal to 1"),
        ("kind: grpc, replicas: 65", "resource svc: replicas: Input should be less than or equal to 64"),
        ("kind: grpc, replicas: '2'", "resource svc: replicas: Input should be a valid integer"),
        ("kind: grpc, replicas: true", "resource svc: replicas: Input should be a valid integer"),
        ("kind: ratelimit, replicas: 2", "resource svc: entry: only a gRPC service .kind: grpc. runs several"),
    ],
)
def test_bad_replicas_are_refused_naming_the_resource(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(spec.SpecError, match=message):
        _load(tmp_path, entry)


def test_teei_replicas_overrides_every_service_but_not_other_kinds(tmp_path: Path) -> None:
    (service,) = _load(tmp_path, "kind: grpc, replicas: 3")
    (limiter,) = _load(tmp_path, "kind: ratelimit")
    assert spec.replica_count(service, {"TEEI_REPLICAS": "1"}) == 1
    assert spec.replica_count(service, {"TEEI_REPLICAS": " 2 "}) == 2
    assert spec.replica_count(limiter, {"TEEI_REPLICAS": "4"}) == 1


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_teei_replicas_is_refused_by_the_launcher(tmp_path: Path, value: str) -> None:
    (service,) = _load(tmp_path, "kind: grpc")
    with pytest.raises(spec.SpecError, match=f"TEEI_REPLICAS='{value}'"):
        spec.replica_count(service, {"TEEI_REPLICAS": value})
    mesh = Mesh(resources=(service,), var_dir=tmp_path, environ={"TEEI_REPLICAS": value})
    with pytest.raises(LaunchError, match="expected a whole number of at least 1"):
        mesh.replicas(service)


def test_the_repository_spec_leaves_each_service_at_one_worker_per_core() -> None:
    services = [r for r in spec.load() if r.kind == "grpc"]
    assert services
    assert all(r.replicas is None for r in services)


def test_the_group_command_runs_the_service_command_after_a_separator() -> None:
    cmd = workers.command(3, ["py", "-m", "svc", "--flag"], name="profile")
    group = [sys.executable, "-m", "services.cli.workers", "--replicas", "3", "--name", "profile"]
    assert cmd == [*group, "--", "py", "-m", "svc", "--flag"]


def test_the_group_command_names_each_workers_own_port_and_metrics_port() -> None:
    cmd = workers.command(2, ["svc"], name="profile", worker_ports=[21001, 21002], metrics_ports=[21003, 21004])
    assert cmd[cmd.index("--worker-ports") + 1] == "21001,21002"
    assert cmd[cmd.index("--worker-metrics-ports") + 1] == "21003,21004"


def test_the_launcher_picks_a_groups_worker_metrics_ports_apart_from_every_port_of_the_mesh(tmp_path: Path) -> None:
    # Every listener of the mesh binds with SO_REUSEPORT, so a port picked twice is shared without an error;
    # the group's workers' metrics ports are picked where the mesh's ports are, never one of theirs.
    resources = spec.with_free_ports(spec.load())
    mesh = Mesh(resources=resources, var_dir=tmp_path, environ={"TEEI_REPLICAS": "3"}, mtls=False)
    taken = {port for r in resources for port in r.ports().values()}
    picked: list[int] = []
    for resource in (r for r in resources if r.kind == "grpc"):
        assert "metrics_port" in resource.extra_ports
        ports = mesh._worker_metrics_ports(resource, 3)
        assert len(ports) == 3
        picked += ports
    assert len(set(picked)) == len(picked)
    assert not set(picked) & taken
    assert not set(picked) & {port for r in resources if r.kind == "grpc" for port in mesh.worker_ports(r)}


def test_a_group_given_its_workers_metrics_ports_serves_each_worker_on_its_own(tmp_path: Path) -> None:
    group = workers.WorkerGroup(
        cmd=["svc"], replicas=2, metrics_ports=[21003, 21004], environ={"TEEI_METRICS_PORT": "9999"}, run_dir=tmp_path
    )
    assert [w.metrics_port for w in group.workers] == [21003, 21004]
    with pytest.raises(ValueError, match="1 worker metrics ports for 2 workers"):
        workers.WorkerGroup(cmd=["svc"], replicas=2, metrics_ports=[21003], environ={}, run_dir=tmp_path)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--replicas", "2", "--"], "no command"),
        (["--replicas", "0", "--", "x"], "at least 1"),
        (["--replicas", "2", "--worker-metrics-ports", "1,x", "--", "x"], "expected comma-separated port numbers"),
        (["--replicas", "2", "--worker-metrics-ports", "21003", "--", "x"], "1 ports for 2 workers"),
    ],
)
def test_the_group_refuses_no_command_and_no_worker(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        workers.main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def _process(worker: workers.Worker) -> workers.Process | None:
    return worker.process


def test_a_worker_that_keeps_exiting_waits_longer_each_time_and_a_settled_one_starts_over(tmp_path: Path) -> None:
    now = [100.0]
    lines: list[str] = []
    group = workers.WorkerGroup(
        cmd=[sys.executable, "-c", "raise SystemExit(3)"],
        replicas=1,
        environ={},
        run_dir=tmp_path,
        say=lines.append,
        clock=lambda: now[0],
    )
    (worker,) = group.workers
    waits: list[float] = []
    for _ in range(4):
        group._spawn(worker)
        assert worker.process is not None
        worker.process.wait()
        group._tend(worker, now[0])
        assert _process(worker) is None
        assert worker.restart_at is not None
        waits.append(worker.restart_at - now[0])
    # Equal jitter: within [ceiling / 2, ceiling), the ceiling doubling from 0.5 s.
    for attempt, wait in enumerate(waits, start=1):
        ceiling = min(workers.RESTART_CAP_SECONDS, workers.RESTART_BASE_SECONDS * 2 ** (attempt - 1))
        assert ceiling / 2 <= wait < ceiling
    assert worker.exits_in_a_row == 4
    assert "worker 0 (pid" in lines[-1]
    assert "exited with 3" in lines[-1]
    # Not restarted before its time, restarted once it has come.
    restart_at = worker.restart_at
    assert restart_at is not None
    group._tend(worker, restart_at - 0.01)
    assert _process(worker) is None
    group._tend(worker, restart_at)
    assert worker.process is not None
    assert worker.restarts == 1
    worker.process.wait()
    # One that served a minute counts its next exit as the first.
    now[0] = worker.started_at + workers.SETTLED_SECONDS
    group._tend(worker, now[0])
    assert worker.exits_in_a_row == 1


def test_every_worker_gets_its_index_ready_file_and_metrics_port(tmp_path: Path) -> None:
    script = (
        "import os; print(os.environ['TEEI_WORKER'], os.environ['TEEI_READY_FILE'], os.environ['TEEI_METRICS_PORT'])"
    )
    out = tmp_path / "out"
    group = workers.WorkerGroup(
        cmd=["sh", "-c", f'{sys.executable} -c "{script}" >> {out}'],
        replicas=2,
        environ={"TEEI_METRICS_PORT": "9999"},
        run_dir=tmp_path,
        say=lambda _: None,
    )
    for worker in group.workers:
        group._spawn(worker)
        assert worker.process is not None
        worker.process.wait()
    lines = sorted(out.read_text().split("\n")[:-1])
    assert [line.split()[0] for line in lines] == ["0", "1"]
    assert {line.split()[1] for line in lines} == {str(w.ready_file) for w in group.workers}
    ports = {int(line.split()[2]) for line in lines}
    assert len(ports) == 2
    assert 9999 not in ports
    assert group.metrics_targets() == [
        (str(w.index), f"http://127.0.0.1:{w.metrics_port}/metrics") for w in group.workers
    ]


def start_waves(resources: tuple[spec.Resource, ...]) -> list[list[spec.Resource]]:
    """What starts together when everything started turns healthy at once."""
    waves: list[list[spec.Resource]] = []
    started: set[str] = set()
    while wave := startable(resources, healthy=started, started=started):
        waves.append(wave)
        started |= {r.name for r in wave}
    return waves


def test_resources_start_in_waves_after_their_dependencies() -> None:
    waves = [[r.name for r in wave] for wave in start_waves(spec.load())]
    assert waves == [
        ["nats", "otel", "ratelimit"],
        ["gateway", "profile", "kintell", "buddy", "upskilling", "q2q", "safety"],
        ["edge"],
    ]


def test_a_dependency_left_out_of_the_mesh_holds_nothing_back() -> None:
    without_otel = tuple(r for r in spec.load() if r.kind != "otlp")
    waves = [[r.name for r in wave] for wave in start_waves(without_otel)]
    assert waves == [
        ["nats", "ratelimit"],
        ["gateway", "profile", "kintell", "buddy", "upskilling", "q2q", "safety"],
        ["edge"],
    ]


def test_a_chain_of_dependencies_starts_one_wave_per_link(tmp_path: Path) -> None:
    path = tmp_path / "tilt.yaml"
    path.write_text(
        "resources:\n"
        "  - {name: c, kind: x, port: 3, cmd: [x], health: {http: u}, deps: [b, a]}\n"
        "  - {name: b, kind: x, port: 2, cmd: [x], health: {http: u}, deps: [a]}\n"
        "  - {name: a, kind: x, port: 1, cmd: [x], health: {http: u}}\n"
        "  - {name: d, kind: x, port: 4, cmd: [x], health: {http: u}}\n"
    )
    resources = spec.load(path)
    assert [[r.name for r in wave] for wave in start_waves(resources)] == [["a", "d"], ["b"], ["c"]]


def test_a_resource_starts_once_its_own_dependencies_are_healthy_not_its_whole_wave() -> None:
    resources = spec.load()
    first = {"nats", "otel", "ratelimit"}
    assert {r.name for r in startable(resources, healthy=set(), started=set())} == first
    # NATS healthy, the rate-limit service and the trace inbox still starting: the services start.
    services = {"gateway", "profile", "kintell", "buddy", "upskilling", "q2q", "safety"}
    assert {r.name for r in startable(resources, healthy={"nats"}, started=first)} == services
    # The edge waits for every upstream, the rate-limit service and the trace inbox among them.
    assert not startable(resources, healthy={"nats", *services}, started=first | services)
    assert [r.name for r in startable(resources, healthy=first | services, started=first | services)] == ["edge"]


def _clusters(upstream: edge.Upstream) -> dict[str, list[int]]:
    settings = edge.EdgeSettings(
        listen_port=8080, admin_port=9901, descriptor_path=DESCRIPTOR_SET, upstreams=(upstream,)
    )
    config = yaml.safe_load(edge.render_envoy_config(settings))
    return {
        cluster["name"]: [
            lb["endpoint"]["address"]["socket_address"]["port_value"]
            for group in cluster["load_assignment"]["endpoints"]
            for lb in group["lb_endpoints"]
        ]
        for cluster in config["static_resources"]["clusters"]
        if cluster["name"] == upstream.name
    }


def test_the_edge_balances_over_each_workers_own_port_and_else_the_services() -> None:
    service = ("teei.profile.v1.ProfileService",)
    grouped = edge.Upstream("profile", service, "127.0.0.1", 50052, worker_ports=(30001, 30002))
    assert _clusters(grouped) == {"profile": [30001, 30002]}
    assert _clusters(edge.Upstream("profile", service, "127.0.0.1", 50052)) == {"profile": [50052]}
    with pytest.raises(ValueError, match=r"port must be in 1\.\.65535"):
        _clusters(edge.Upstream("profile", service, "127.0.0.1", 50052, worker_ports=(0, 1)))


def test_the_launcher_gives_a_groups_workers_ports_of_their_own_kept_across_starts(tmp_path: Path) -> None:
    resources = spec.with_free_ports(spec.load())
    mesh = Mesh(resources=resources, var_dir=tmp_path, environ={"TEEI_REPLICAS": "3"})
    profile, nats = mesh.resource("profile"), mesh.resource("nats")
    ports = mesh.worker_ports(profile)
    assert len(set(ports)) == 3
    assert profile.port not in ports
    assert mesh.worker_ports(profile) == ports
    assert mesh.worker_ports(nats) == ()
    single = Mesh(resources=resources, var_dir=tmp_path, environ={"TEEI_REPLICAS": "1"})
    assert single.worker_ports(profile) == ()


def test_mesh_json_records_the_worker_ports_and_a_mesh_beside_it_reuses_them_while_the_group_runs(
    tmp_path: Path,
) -> None:
    resources = spec.with_free_ports(spec.load())
    first = Mesh(resources=resources, var_dir=tmp_path, environ={"TEEI_REPLICAS": "2"})
    profile = first.resource("profile")
    ports = first.worker_ports(profile)
    first.write_state()
    state = json.loads((tmp_path / "mesh.json").read_text())
    assert state["resources"]["profile"]["worker_ports"] == list(ports)
    assert "worker_ports" not in state["resources"]["nats"]
    # No process runs for the record: a Mesh beside it picks ports of its own.
    assert Mesh(resources=resources, var_dir=tmp_path, environ={"TEEI_REPLICAS": "2"}).worker_ports(profile) != ports
    # With the group's process running (its pid recorded), a second Mesh reaches the same workers.
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE) as group:
        state["resources"]["profile"]["pid"] = group.pid
        (tmp_path / "mesh.json").write_text(json.dumps(state))
        second = Mesh(resources=resources, var_dir=tmp_path, environ={"TEEI_REPLICAS": "2"})
        assert second.worker_ports(profile) == ports
        # Not for another port (another mesh's service), nor for another replica count.
        moved = replace(profile, port=spec.free_port())
        assert Mesh(resources=resources, var_dir=tmp_path, environ={"TEEI_REPLICAS": "2"}).worker_ports(moved) != ports
        three = Mesh(resources=resources, var_dir=tmp_path, environ={"TEEI_REPLICAS": "3"})
        assert three.worker_ports(profile) != ports
        assert group.stdin is not None
        group.stdin.close()
