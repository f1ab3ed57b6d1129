"""A real worker group (services/cli/workers.py) of two small grpc.aio servers on one port: both answer
there, one killed is restarted while the other serves on, their metrics are scraped as one, SIGTERM drains
both, and a group killed outright leaves no worker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from services.cli import spec, workers
from services.cli.launcher import Mesh
from services.cli.spec import REPO_ROOT
from tests.support import LineReader

SERVER = [sys.executable, "-m", "tests.integration.cli.worker_server"]


@dataclass
class Group:
    process: subprocess.Popen[str]
    output: LineReader
    port: int
    metrics_port: int
    ready_file: Path
    worker_ports: tuple[int, int]

    def workers(self) -> set[int]:
        """The group's current child processes."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return {int(pid) for pid in children}


def answering_pid(port: int) -> int:
    """The pid of the worker that answers a health check on a connection of its own."""
    options = [("grpc.use_local_subchannel_pool", 1)]  # a new connection, not one shared with other channels
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response, call = stub.Check.with_call(health_pb2.HealthCheckRequest(), timeout=10)
    assert response.status == health_pb2.HealthCheckResponse.SERVING
    return int(dict(call.trailing_metadata())["pid"])


def pids_seen(port: int, wanted: set[int], *, attempts: int = 400) -> set[int]:
    """The pids answering new connections, until every pid of `wanted` has answered (or `attempts` ran out)."""
    seen: set[int] = set()
    for _ in range(attempts):
        seen.add(answering_pid(port))
        if wanted <= seen:
            break
    return seen


def cmdline(pid: int) -> tuple[str, ...]:
    """The command line process `pid` was started with."""
    return tuple(Path(f"/proc/{pid}/cmdline").read_text().rstrip("\0").split("\0"))


def wait_gone(pids: set[int], *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{pid}").exists() for pid in pids):
        assert time.monotonic() < deadline, f"still running: {pids}"
        time.sleep(0.05)  # polling interval of a bounded wait, not synchronisation


@pytest.fixture
def group(tmp_path: Path) -> Iterator[Group]:
    port, metrics_port = spec.free_port(), spec.free_port()
    worker_ports = (spec.free_port(), spec.free_port())
    ready = tmp_path / "group.ready"
    env = {
        **os.environ,
        "TEEI_GRPC_PORT": str(port),
        "TEEI_METRICS_PORT": str(metrics_port),
        "TEEI_VAR_DIR": str(tmp_path),
        "TEEI_READY_FILE": str(ready),
    }
    process = subprocess.Popen(
        workers.command(2, SERVER, name="probe", worker_ports=worker_ports),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    output = LineReader(process.stdout)
    running = Group(process, output, port, metrics_port, ready, worker_ports)
    try:
        output.wait_for_text("all 2 workers serving", timeout=60)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        output.close()


def test_both_workers_answer_on_the_one_port_and_the_group_is_ready_once_both_serve(group: Group) -> None:
    assert group.ready_file.read_text() == str(group.process.pid)
    children = group.workers()
    assert len(children) == 2
    assert pids_seen(group.port, children) == children
    # Each worker also answers on its own port, where the edge balances over them.
    assert {answering_pid(worker_port) for worker_port in group.worker_ports} == children
    # Forked from the group, which imported the server's package once: no interpreter of their own.
    assert {cmdline(pid) for pid in children} == {cmdline(group.process.pid)}


def test_a_killed_worker_is_restarted_while_the_other_serves_on(group: Group) -> None:
    first, second = sorted(group.workers())
    os.kill(first, signal.SIGKILL)
    group.output.wait_for_text(f"(pid {first}) exited with -9", timeout=30)
    # Until it is back, every new connection is answered by the other worker.
    assert {answering_pid(group.port) for _ in range(20)} == {second}
    group.output.wait_for_text("started again", timeout=30)
    replacement = group.workers() - {second}
    assert len(replacement) == 1
    assert first not in replacement
    # The replacement serves on the same port once it is up.
    deadline = time.monotonic() + 30
    while not (seen := pids_seen(group.port, replacement | {second}, attempts=50)) >= replacement | {second}:
        assert time.monotonic() < deadline, f"the replacement never answered: {seen}"
    # On the same own port as the worker it replaced.
    assert {answering_pid(worker_port) for worker_port in group.worker_ports} == replacement | {second}
    # Started afresh (the group runs its metrics thread by now): the server's own command.
    assert cmdline(replacement.pop()) == tuple(SERVER)


def test_one_scrape_answers_every_workers_series_labelled_by_worker(group: Group) -> None:
    pids_seen(group.port, group.workers())  # both have answered at least one check
    text = httpx.get(f"http://127.0.0.1:{group.metrics_port}/metrics", timeout=10).text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    checks = {s.labels["worker"]: s.value for s in families["worker_checks"].samples if s.name == "worker_checks_total"}
    assert set(checks) == {"0", "1"}
    assert all(value >= 1 for value in checks.values())


def test_sigterm_drains_every_worker_and_the_group_exits_cleanly(group: Group) -> None:
    children = group.workers()
    group.process.send_signal(signal.SIGTERM)
    assert group.process.wait(timeout=30) == 0
    group.output.wait_for_text("workers stopped (exit codes [0, 0])", timeout=5)
    wait_gone(children)
    assert not group.ready_file.exists()


def test_a_group_killed_outright_leaves_no_worker_holding_the_port(group: Group) -> None:
    children = group.workers()
    group.process.kill()
    group.process.wait(timeout=10)
    wait_gone(children)


def test_the_launcher_runs_a_service_of_two_replicas_as_a_group_ready_once_both_serve(tmp_path: Path) -> None:
    service = spec.Resource(
        name="probe",
        kind="grpc",
        port=spec.free_port(),
        cmd=("{python}", "-m", "tests.integration.cli.worker_server"),
        health={"grpc": ""},
        replicas=2,
    )
    mesh = Mesh(resources=(service,), var_dir=tmp_path / "var", environ=dict(os.environ), mtls=False)
    mesh.start(timeout=60)
    try:
        item = mesh.current("probe")
        assert item is not None
        assert item.ready_file is not None
        assert item.ready()
        group = Path(f"/proc/{item.process.pid}/task/{item.process.pid}/children").read_text().split()
        children = {int(pid) for pid in group}
        assert len(children) == 2
        assert pids_seen(service.port, children) == children
    finally:
        codes = mesh.stop()
    assert codes == {"probe": 0}
    wait_gone(children)
    assert "probe: workers stopped (exit codes [0, 0])" in (tmp_path / "var" / "logs" / "probe.log").read_text()


def test_teei_replicas_1_runs_the_service_as_one_process(tmp_path: Path) -> None:
    service = spec.Resource(
        name="probe",
        kind="grpc",
        port=spec.free_port(),
        cmd=("{python}", "-m", "tests.integration.cli.worker_server"),
        health={"grpc": ""},
        replicas=2,
    )
    mesh = Mesh(
        resources=(service,), var_dir=tmp_path / "var", environ={**os.environ, "TEEI_REPLICAS": "1"}, mtls=False
    )
    mesh.start(timeout=60)
    try:
        item = mesh.current("probe")
        assert item is not None
        assert item.ready_file is None
        assert answering_pid(service.port) == item.process.pid
    finally:
        assert mesh.stop() == {"probe": 0}
