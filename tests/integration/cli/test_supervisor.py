"""The supervisor against real processes (small HTTP servers with HTTP health checks): restarts with count
and reason, crash loops left down and reported, restart policies, and stops that never race a restart."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.cli import spec
from services.cli.launcher import Mesh
from services.cli.supervisor import Supervisor
from tests.support import LineReader

# Serves HTTP on the given port (200 for `GET /`, a listing of the working folder); SIGTERM ends it with exit
# code 0, so a clean exit can be provoked. With a second argument (a file), every start after the first hangs
# before serving: a restart that never turns healthy.
SERVER = """
import http.server, os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
if len(sys.argv) > 2:
    if os.path.exists(sys.argv[2]):
        time.sleep(600)
    open(sys.argv[2], "w").close()
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
"""
FAST = {"backoff": {"base_seconds": 0.05, "cap_seconds": 0.2}}


def _resource(
    name: str,
    *,
    deps: tuple[str, ...] = (),
    hang_marker: Path | None = None,
    restart: Mapping[str, object] | None = None,
    liveness: Mapping[str, object] | None = None,
) -> spec.Resource:
    cmd = ("{python}", "-c", SERVER, "{port}", *((str(hang_marker),) if hang_marker else ()))
    return spec.Resource(
        name=name,
        kind="http",
        port=spec.free_port(),
        cmd=cmd,
        health={"http": "http://127.0.0.1:{port}/"},
        deps=deps,
        restart=spec.RestartPolicy.model_validate({**FAST, **(restart or {})}),
        liveness=spec.LivenessProbe.model_validate(liveness or {}),
    )


@dataclass
class Supervised:
    """A started mesh of small servers under a supervisor whose report lines `output` reads."""

    mesh: Mesh
    supervisor: Supervisor
    output: LineReader

    def pid(self, name: str) -> int:
        item = self.mesh.current(name)
        assert item is not None, f"{name} is not running"
        return item.process.pid

    def state(self) -> dict[str, dict[str, object]]:
        resources: dict[str, dict[str, object]] = json.loads((self.mesh.var_dir / "mesh.json").read_text())["resources"]
        return resources

    def status(self) -> str:
        return str(json.loads((self.mesh.var_dir / "mesh.json").read_text())["status"])

    def kill_and_await_restart(self, name: str, count: int) -> int:
        """SIGKILLs `name` and returns the pid of the process started in its place."""
        os.kill(self.pid(name), signal.SIGKILL)
        line = self.output.wait_for_text(f"{name} started again (restart #{count}, pid ", timeout=10)
        return int(line.rsplit(" ", 1)[1].rstrip(")"))


@contextmanager
def supervised(tmp_path: Path, *resources: spec.Resource, health_timeout: float = 30.0) -> Iterator[Supervised]:
    """Starts `resources` and supervises them; stops everything on the way out."""
    mesh = Mesh(resources=resources, var_dir=tmp_path / "var", environ=dict(os.environ), mtls=False)
    mesh.start(timeout=30)
    read_end, write_end = os.pipe()
    output = LineReader(os.fdopen(read_end))
    sink = os.fdopen(write_end, "w", buffering=1)

    def report(line: str) -> None:
        print(line, file=sink)

    supervisor = Supervisor(mesh, report=report, health_timeout=health_timeout, poll_interval=0.02)
    supervisor.start()
    try:
        yield Supervised(mesh, supervisor, output)
    finally:
        supervisor.stop(timeout=5)
        sink.close()
        output.close()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_killed_process_is_restarted_counted_and_healthy_again_while_the_rest_keeps_running(tmp_path: Path) -> None:
    with supervised(tmp_path, _resource("a"), _resource("b", deps=("a",))) as run:
        a_pid, b_pid = run.pid("a"), run.pid("b")
        new_pid = run.kill_and_await_restart("b", 1)
        exited = [line for line in run.output.seen if line.startswith("b exited")]
        assert exited == [exited[0]]
        assert exited[0].startswith("b exited (signal SIGKILL); restart #1 in ")
        run.output.wait_for_text("b healthy again (restart #1, ", timeout=10)
        assert new_pid != b_pid
        assert run.pid("b") == new_pid
        assert run.pid("a") == a_pid
        state = run.state()
        assert state["b"] | {"port": 0} == {
            "pid": new_pid,
            "port": 0,
            "state": "running",
            "restarts": 1,
            "last_exit": "signal SIGKILL",
            "reason": None,
        }
        assert state["a"]["restarts"] == 0
        assert run.status() == "ready"


def test_a_crash_looping_process_stays_down_and_is_reported_while_the_rest_keeps_running(tmp_path: Path) -> None:
    loop = {"crash_loop": {"exits": 3, "window_seconds": 60}}
    with supervised(tmp_path, _resource("a"), _resource("b", deps=("a",), restart=loop)) as run:
        a_pid = run.pid("a")
        run.kill_and_await_restart("b", 1)
        run.kill_and_await_restart("b", 2)
        os.kill(run.pid("b"), signal.SIGKILL)
        line = run.output.wait_for_text("b exited (signal SIGKILL); staying down", timeout=10)
        reason = "crash loop: 3 exits within 60s, last signal SIGKILL"
        assert line.endswith(reason)
        assert run.mesh.current("b") is None
        assert run.state()["b"] | {"port": 0} == {
            "pid": None,
            "port": 0,
            "state": "crash_loop",
            "restarts": 2,
            "last_exit": "signal SIGKILL",
            "reason": reason,
        }
        assert run.status() == "degraded"
        assert run.pid("a") == a_pid
        assert run.mesh.probe(run.mesh.resource("a"))()


@pytest.mark.parametrize(
    ("policy", "sig", "restarted"),
    [
        ("Always", signal.SIGTERM, True),  # exit code 0
        ("OnFailure", signal.SIGTERM, False),
        ("OnFailure", signal.SIGKILL, True),
        ("Never", signal.SIGKILL, False),
    ],
)
def test_restart_policy_decides_what_comes_back(
    tmp_path: Path, policy: str, sig: signal.Signals, restarted: bool
) -> None:
    with supervised(tmp_path, _resource("a", restart={"policy": policy})) as run:
        os.kill(run.pid("a"), sig)
        line = run.output.wait_for_text("a exited (", timeout=10)
        how = "exit code 0" if sig == signal.SIGTERM else "signal SIGKILL"
        if restarted:
            assert line.startswith(f"a exited ({how}); restart #1 in ")
            run.output.wait_for_text("a healthy again (restart #1", timeout=10)
        else:
            assert line == f"a exited ({how}); staying down: {how}; restart_policy {policy}"
            assert run.state()["a"]["state"] == "exited"


def test_stop_during_a_back_off_starts_nothing_and_returns_at_once(tmp_path: Path) -> None:
    slow = {"backoff": {"base_seconds": 60, "cap_seconds": 60}}
    with supervised(tmp_path, _resource("a"), _resource("b", deps=("a",), restart=slow)) as run:
        os.kill(run.pid("b"), signal.SIGKILL)
        run.output.wait_for_text("b exited (signal SIGKILL); restart #1 in ", timeout=10)
        started = time.monotonic()
        codes = run.supervisor.stop(timeout=5)
        assert time.monotonic() - started < 5
        assert list(codes) == ["a"]
        assert run.mesh.spawn("b") is None  # stopping: nothing more is started
        assert not [line for line in run.output.seen if "started again" in line]


def test_stop_while_a_restarted_process_is_not_yet_healthy_leaves_no_process_behind(tmp_path: Path) -> None:
    with supervised(tmp_path, _resource("a", hang_marker=tmp_path / "started-once"), health_timeout=0.3) as run:
        pid = run.kill_and_await_restart("a", 1)
        run.output.wait_for_text("a not healthy 0.3s after its restart; still waiting", timeout=10)
        assert run.state()["a"]["state"] == "starting"
        run.supervisor.stop(timeout=5)
        assert _gone(pid)
        assert not [line for line in run.output.seen if "healthy again" in line]


def test_stop_is_in_reverse_dependency_order_even_after_a_dependency_restarted(tmp_path: Path) -> None:
    resources = (_resource("a"), _resource("b", deps=("a",)), _resource("c", deps=("b",)))
    with supervised(tmp_path, *resources) as run:
        run.kill_and_await_restart("a", 1)
        run.output.wait_for_text("a healthy again (restart #1", timeout=10)
        assert list(run.supervisor.stop(timeout=5)) == ["c", "b", "a"]


QUICK_LIVENESS = {"period_seconds": 0.2, "timeout_seconds": 0.3, "failure_threshold": 2}


def test_a_hung_process_is_killed_by_its_liveness_check_and_restarted(tmp_path: Path) -> None:
    """SIGSTOP without SIGCONT: the failed health checks get it SIGKILLed, then restarted as after a crash."""
    with supervised(tmp_path, _resource("a"), _resource("b", liveness=QUICK_LIVENESS)) as run:
        a_pid, b_pid = run.pid("a"), run.pid("b")
        os.kill(b_pid, signal.SIGSTOP)
        line = run.output.wait_for_text("b unresponsive: 2 health checks failed in a row", timeout=10)
        assert line.endswith(f"killing pid {b_pid} (SIGKILL)")
        run.output.wait_for_text("b exited (signal SIGKILL); restart #1 in ", timeout=10)
        run.output.wait_for_text("b healthy again (restart #1, ", timeout=10)
        assert run.pid("b") != b_pid
        assert run.pid("a") == a_pid
        assert run.state()["b"]["restarts"] == 1
        assert run.status() == "ready"


def test_liveness_never_kills_a_process_that_has_not_been_healthy_since_its_start(tmp_path: Path) -> None:
    """A slow start is not a hang: a restarted process that is not yet healthy is left to its start."""
    slow = _resource("slow", hang_marker=tmp_path / "started", liveness=QUICK_LIVENESS)
    with supervised(tmp_path, slow, _resource("b")) as run:
        new_pid = run.kill_and_await_restart("slow", 1)
        run.kill_and_await_restart("b", 1)
        run.output.wait_for_text("b healthy again (restart #1, ", timeout=10)  # many liveness periods later
        assert run.pid("slow") == new_pid
        assert not [line for line in run.output.seen if line.startswith("slow unresponsive")]
