"""`teei up` as a process manager, through the real edge: a killed service is restarted while the rest keeps
serving (readiness names it, then recovers; no acknowledged write lost; failures only 503 and only while it
is down), and a killed Envoy or NATS comes back the same way, Envoy with its config rendered afresh."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.e2e.conftest import MeshProcess
from tests.e2e.supervision import (
    Probe,
    Write,
    kill,
    mesh_state,
    pid_of,
    start_supervised,
    watch_readiness,
    write_profiles,
)

pytestmark = pytest.mark.e2e
RECOVERY_BUDGET = 15.0


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshProcess]:
    """One mesh with the repository's restart policies."""
    running = start_supervised(tmp_path_factory.mktemp("supervision"), {})
    try:
        yield running
    finally:
        assert running.stop() == 0


def _acked(writes: list[Write]) -> int:
    return sum(1 for w in writes if w.profile_id)


def _named_down(name: str, after: float) -> Callable[[list[Probe]], Probe | None]:
    return lambda probes: next(
        (p for p in probes if p.at > after and p.status == 503 and p.body["services"].get(name) == "NOT_SERVING"),
        None,
    )


def _ready(after: float) -> Callable[[list[Probe]], Probe | None]:
    return lambda probes: next((p for p in probes if p.at > after and p.status == 200), None)


def test_sigkill_of_a_service_under_writes_is_healed_without_losing_an_acknowledged_write(mesh: MeshProcess) -> None:
    readiness = watch_readiness(mesh.edge_url)
    writes = write_profiles(mesh.edge_url, mesh.auth("acme"))
    try:
        writes.wait_until(lambda w: _acked(w) >= 20, timeout=30, what="20 writes before the kill")
        killed_at = kill(mesh, "profile")
        down = readiness.wait_until(_named_down("profile", killed_at), timeout=10, what="readiness names profile")
        assert down.body["status"] == "not_ready"
        assert {k for k, v in down.body["services"].items() if v != "SERVING"} == {"profile"}
        ready = readiness.wait_until(_ready(down.at), timeout=RECOVERY_BUDGET, what="readiness 200 again")
        assert ready.at - killed_at < RECOVERY_BUDGET
        after = _acked(writes.snapshot())
        writes.wait_until(lambda w: _acked(w) >= after + 20, timeout=30, what="20 writes after recovery")
    finally:
        writes.stop()
        readiness.stop()
    line = mesh.output.wait_for_text("teei up: profile exited (", timeout=5)
    assert line.startswith("teei up: profile exited (signal SIGKILL); restart #1 in ")
    mesh.output.wait_for_text("teei up: profile healthy again (restart #1, ", timeout=5)
    assert mesh_state(mesh.var_dir)["resources"]["profile"]["restarts"] == 1

    failed = [w for w in writes.records if not w.profile_id]
    assert {w.status for w in failed} <= {503}, failed
    assert all(killed_at <= w.answered and w.sent <= ready.at for w in failed), (killed_at, ready.at, failed)
    with httpx.Client(base_url=mesh.edge_url, headers=mesh.auth("acme"), timeout=10.0) as client:
        lost = [
            w for w in writes.records if w.profile_id and client.get(f"/v1/profiles/{w.profile_id}").status_code != 200
        ]
    assert lost == []


def test_a_killed_edge_restarts_on_a_freshly_rendered_config(mesh: MeshProcess) -> None:
    """The launcher renders Envoy's config again before each start: a damaged file does not stop the restart."""
    config = mesh.var_dir / "envoy" / "envoy.yaml"
    rendered = config.read_text()
    config.write_text("not: [an envoy config")
    old = pid_of(mesh, "edge")
    killed_at = kill(mesh, "edge")
    mesh.output.wait_for_text("teei up: edge healthy again (restart #1, ", timeout=RECOVERY_BUDGET)
    assert config.read_text() == rendered
    assert pid_of(mesh, "edge") != old
    readiness = watch_readiness(mesh.edge_url)
    try:
        ready = readiness.wait_until(_ready(killed_at), timeout=RECOVERY_BUDGET, what="edge ready again")
    finally:
        readiness.stop()
    assert ready.at - killed_at < RECOVERY_BUDGET


def test_a_killed_nats_restarts_and_the_services_keep_serving(mesh: MeshProcess) -> None:
    killed_at = kill(mesh, "nats")
    mesh.output.wait_for_text("teei up: nats healthy again (restart #1, ", timeout=RECOVERY_BUDGET)
    readiness = watch_readiness(mesh.edge_url)
    try:
        ready = readiness.wait_until(_ready(killed_at), timeout=RECOVERY_BUDGET, what="edge ready after NATS")
    finally:
        readiness.stop()
    assert ready.body["services"] == dict.fromkeys(ready.body["services"], "SERVING")
    with httpx.Client(base_url=mesh.edge_url, headers=mesh.auth("acme"), timeout=10.0) as client:
        response = client.post("/v1/profiles", json={"email": "after-nats@example.org", "given_name": "Ada"})
    assert response.status_code == 200, response.text
    state = mesh_state(mesh.var_dir)
    assert state["status"] == "ready"
    assert state["resources"]["nats"] | {"pid": 0, "port": 0, "monitor_port": 0} == {
        "pid": 0,
        "port": 0,
        "monitor_port": 0,
        "state": "running",
        "restarts": 1,
        "last_exit": "signal SIGKILL",
        "reason": None,
    }
