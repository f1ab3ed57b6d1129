"""tilt.yaml: the mesh's resources parse, start in dependency order, and bad specs are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cli import spec
from services.cli.launcher import LaunchError, Mesh

SEVEN = {"gateway", "profile", "kintell", "buddy", "upskilling", "q2q", "safety"}


def test_repository_spec_lists_nats_seven_services_and_the_edge_last() -> None:
    resources = spec.load()
    names = [r.name for r in resources]
    assert names[0] == "nats"
    assert names[-1] == "edge"
    assert [r.name for r in resources if r.kind == "otlp"] == ["otel"], "the local trace receiver"
    assert {r.name for r in resources if r.kind == "grpc"} == SEVEN
    assert all(r.port != 4222 for r in resources)
    assert {r.port for r in resources if r.kind == "grpc"} == set(range(50051, 50058))


def test_free_ports_are_distinct_from_the_defaults() -> None:
    resources = spec.with_free_ports(spec.load())
    ports = [p for r in resources for p in r.ports().values()]
    assert len(set(ports)) == len(ports)


def test_declared_env_names_other_resources_by_their_current_ports(tmp_path: Path) -> None:
    """q2q reaches Safety at whatever port Safety got, default or free (`env` in tilt.yaml)."""
    resources = spec.with_free_ports(spec.load())
    mesh = Mesh(resources=resources, var_dir=tmp_path, environ={})
    q2q = mesh.resource("q2q")
    assert q2q.env == {"TEEI_SAFETY_ADDRESS": "127.0.0.1:{ports[safety]}"}
    env = mesh._service_env(q2q)
    assert env["TEEI_SAFETY_ADDRESS"] == f"127.0.0.1:{mesh.resource('safety').port}"
    assert "TEEI_SAFETY_ADDRESS" not in mesh._service_env(mesh.resource("profile"))


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "tilt.yaml"
    path.write_text(body)
    return path


def test_dependency_cycles_are_refused(tmp_path: Path) -> None:
    body = """
resources:
  - {name: a, kind: grpc, port: 1, cmd: [x], health: {grpc: a}, deps: [b]}
  - {name: b, kind: grpc, port: 2, cmd: [x], health: {grpc: b}, deps: [a]}
"""
    with pytest.raises(spec.SpecError, match="cycle"):
        spec.load(_write(tmp_path, body))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[]", "resources"),
        ("resources:\n  - {name: a, kind: grpc}\n", "resource a"),
        ("resources:\n  - {name: a, kind: grpc, port: 1, cmd: [x], health: {}, deps: [zz]}\n", "unknown"),
    ],
)
def test_malformed_specs_are_refused(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(spec.SpecError, match=message):
        spec.load(_write(tmp_path, body))


def test_programs_missing_from_the_environment_are_named(tmp_path: Path) -> None:
    resources = spec.load()
    (tmp_path / "envoy").touch()
    assert spec.missing_programs(resources, bin_dir=tmp_path) == [f"{tmp_path}/nats-server"]


def test_up_without_the_mesh_binaries_names_the_mesh_extra(tmp_path: Path) -> None:
    """A library install (no `mesh` extra) gets a clear refusal before anything starts, not a FileNotFoundError."""
    body = "resources:\n  - {name: n, kind: nats, port: 1, cmd: ['{bin}/no-such-server'], health: {http: x}}\n"
    mesh = Mesh(resources=spec.load(_write(tmp_path, body)), var_dir=tmp_path / "var", environ={})
    with pytest.raises(LaunchError, match=r"no-such-server; install the `mesh` extra"):
        mesh.start()
    assert not (tmp_path / "var").exists()


def test_unknown_keys_and_repeated_names_are_refused_naming_the_resource(tmp_path: Path) -> None:
    entry = "{name: a, kind: grpc, port: 1, cmd: [x], health: {grpc: a}"
    with pytest.raises(spec.SpecError, match="resource a: colour: Extra inputs"):
        spec.load(_write(tmp_path, f"resources:\n  - {entry}, colour: red}}\n"))
    with pytest.raises(spec.SpecError, match=r"resource a: health\.tcp"):
        spec.load(_write(tmp_path, "resources:\n  - {name: a, kind: grpc, port: 1, cmd: [x], health: {tcp: a}}\n"))
    with pytest.raises(spec.SpecError, match="names used more than once: a"):
        spec.load(_write(tmp_path, f"resources:\n  - {entry}}}\n  - {entry}}}\n"))


def test_extra_ports_are_gathered_and_numbers_in_commands_read_as_text(tmp_path: Path) -> None:
    body = "resources:\n  - {name: n, kind: nats, port: 1, monitor_port: 2, cmd: [x, -p, 4322], health: {http: u}}\n"
    (resource,) = spec.load(_write(tmp_path, body))
    assert resource.extra_ports == {"monitor_port": 2}
    assert resource.cmd == ("x", "-p", "4322")


def test_every_resource_restarts_always_by_default() -> None:
    """Most resources say nothing about restarts: Kubernetes' default, `Always`, with the default back-off."""
    assert {r.restart for r in spec.load()} == {spec.RestartPolicy()}
    assert spec.RestartPolicy().policy == "Always"


def test_restart_policy_back_off_and_crash_loop_are_read_per_resource(tmp_path: Path) -> None:
    body = """
resources:
  - name: a
    kind: grpc
    port: 1
    cmd: [x]
    health: {grpc: a}
    restart_policy: OnFailure
    restart_backoff: {base_seconds: 0.1, cap_seconds: 2}
    crash_loop: {exits: 3, window_seconds: 30}
  - {name: b, kind: grpc, port: 2, cmd: [x], health: {grpc: b}, restart_policy: Never}
"""
    a, b = spec.load(_write(tmp_path, body))
    assert a.restart == spec.RestartPolicy(
        policy="OnFailure",
        backoff=spec.RestartBackoff(base_seconds=0.1, cap_seconds=2),
        crash_loop=spec.CrashLoop(exits=3, window_seconds=30),
    )
    assert b.restart.policy == "Never"
    assert b.restart.crash_loop == spec.CrashLoop()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("restart_policy: Sometimes", r"resource a: restart_policy: Input should be 'Always', 'OnFailure' or 'Never'"),
        ("restart_backoff: {base_seconds: 0}", r"resource a: restart_backoff\.base_seconds: Input should be greater"),
        ("restart_backoff: {base_seconds: 5, cap_seconds: 1}", r"resource a: restart_backoff: cap_seconds must not be"),
        ("restart_backoff: {jitter: 1}", r"resource a: restart_backoff\.jitter: Extra inputs"),
        ("crash_loop: {exits: 0}", r"resource a: crash_loop\.exits: Input should be greater than or equal to 1"),
        ("crash_loop: {window_seconds: -1}", r"resource a: crash_loop\.window_seconds: Input should be greater"),
        ("restartPolicy: Always", r"resource a: restartPolicy: Extra inputs"),
    ],
)
def test_bad_restart_settings_are_refused_naming_the_resource_and_key(tmp_path: Path, extra: str, message: str) -> None:
    body = f"resources:\n  - name: a\n    kind: grpc\n    port: 1\n    cmd: [x]\n    health: {{grpc: a}}\n    {extra}\n"
    with pytest.raises(spec.SpecError, match=message):
        spec.load(_write(tmp_path, body))
