"""A service killed five times within its crash-loop window stays down: `teei up` says so (its output and
var/mesh.json), the edge's readiness names it and why, the rest of the mesh keeps serving, and the launcher
still stops cleanly. Its own mesh, with a short back-off and window for the crash-looping service."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.supervision import Probe, mesh_state, pid_of, start_supervised, watch_readiness

pytestmark = pytest.mark.e2e
FAST_CRASH_LOOP = {
    "restart_backoff": {"base_seconds": 0.1, "cap_seconds": 0.4},
    "crash_loop": {"exits": 5, "window_seconds": 30},
}
REASON = "crash loop: 5 exits within 30s, last signal SIGKILL"


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _reports_buddy_down(probes: list[Probe]) -> Probe | None:
    return next((p for p in probes if p.body.get("down", {}).get("buddy") == REASON), None)


def test_a_service_killed_five_times_in_its_window_stays_down_and_the_rest_keeps_serving(tmp_path: Path) -> None:
    mesh = start_supervised(tmp_path, {"buddy": FAST_CRASH_LOOP})
    try:
        pid = pid_of(mesh, "buddy")
        for restart in range(1, 5):
            os.kill(pid, signal.SIGKILL)
            line = mesh.output.wait_for_text(f"teei up: buddy started again (restart #{restart}, pid ", timeout=10)
            pid = int(line.rsplit(" ", 1)[1].rstrip(")"))
        os.kill(pid, signal.SIGKILL)
        line = mesh.output.wait_for_text("teei up: buddy exited (", timeout=10)
        assert line == f"teei up: buddy exited (signal SIGKILL); staying down: {REASON}"

        readiness = watch_readiness(mesh.edge_url)
        try:
            probe = readiness.wait_until(_reports_buddy_down, timeout=10, what="readiness names buddy's crash loop")
        finally:
            readiness.stop()
        assert probe.status == 503
        assert {name for name, state in probe.body["services"].items() if state != "SERVING"} == {"buddy"}

        state = mesh_state(mesh.var_dir)
        assert state["status"] == "degraded"
        buddy = dict(state["resources"]["buddy"])
        # A worker group's own worker ports are kept across its restarts (none when buddy runs one process).
        assert all(isinstance(port, int) and port > 0 for port in buddy.pop("worker_ports", []))
        assert buddy | {"port": 0, "metrics_port": 0} == {
            "pid": None,
            "port": 0,
            "metrics_port": 0,
            "state": "crash_loop",
            "restarts": 4,
            "last_exit": "signal SIGKILL",
            "reason": REASON,
        }
        with httpx.Client(base_url=mesh.edge_url, headers=mesh.auth("acme"), timeout=10.0) as client:
            created = client.post("/v1/profiles", json={"email": "still@example.org", "given_name": "Ada"})
            assert created.status_code == 200, created.text
            assert client.get(f"/v1/profiles/{created.json()['profile']['profile_id']}").status_code == 200
            assert client.get("/v1/buddy/matches").status_code == 503
        assert mesh.process.poll() is None
        running = [info["pid"] for info in state["resources"].values() if info["pid"]]
    finally:
        code = mesh.stop()
    assert code == 0
    mesh.output.wait_for_text("teei up: stopped", timeout=5)
    assert [pid for pid in running if not _gone(pid)] == []
