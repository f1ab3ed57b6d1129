"""Recovery time per component under `teei up`: SIGKILLs one service several times in a row, then NATS, then
Envoy, while a client loop writes profiles through the edge, and prints a Markdown table (median and max
seconds from the kill until the component is healthy again, seen from outside, and failed writes per kill).

    python -m tests.e2e.recovery [--service profile] [--kills 5]

A service counts as back when the edge's readiness is 200 again, NATS when its monitor reports it healthy
(the edge does not depend on it), Envoy when its readiness answers 200 again. The service's crash-loop limit
is raised above `--kills` for the run; its back-off is the repository's, so kills in a row wait longer."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.e2e.conftest import MeshProcess
from tests.e2e.supervision import (
    Probe,
    Recorder,
    Write,
    kill,
    mesh_state,
    start_supervised,
    watch_readiness,
    write_profiles,
)


@dataclass(frozen=True)
class Kill:
    """One kill: seconds until healthy again (outside view and the launcher's), and writes that failed."""

    component: str
    seconds: float
    launcher_seconds: float
    failed_writes: int
    failed_statuses: frozenset[int]


def _ready_after(readiness: Recorder, at: float) -> Probe:
    found: Probe = readiness.wait_until(
        lambda probes: next((p for p in probes if p.at > at and p.status == 200), None), timeout=60, what="ready again"
    )
    return found


def _nats_healthy_after(mesh: MeshProcess, at: float) -> float:
    url = f"http://127.0.0.1:{mesh_state(mesh.var_dir)['resources']['nats']['monitor_port']}/healthz"
    monitor = Recorder()
    with httpx.Client(timeout=1.0) as client:

        def probe() -> tuple[float, bool]:
            try:
                ok = client.get(url, params={"js-enabled-only": "true"}).status_code == 200
            except httpx.HTTPError:
                ok = False
            return time.monotonic(), ok

        monitor.run(probe, pace=0.02)
        try:
            healthy: tuple[float, bool] = monitor.wait_until(
                lambda seen: next((s for s in seen if s[0] > at and s[1]), None), timeout=60, what="NATS healthy"
            )
        finally:
            monitor.stop()
    return healthy[0]


def _kill_once(mesh: MeshProcess, name: str, restart: int, readiness: Recorder, writes: Recorder) -> Kill:
    acked = sum(1 for w in writes.snapshot() if w.profile_id)
    writes.wait_until(lambda w: sum(1 for x in w if x.profile_id) >= acked + 10, timeout=60, what="writes flowing")
    killed_at = kill(mesh, name)
    if name == "nats":
        back = _nats_healthy_after(mesh, killed_at)
    else:
        # The edge's health checks may not have noticed the death yet: wait for a failure first, then a 200.
        down: Probe = readiness.wait_until(
            lambda probes: next((p for p in probes if p.at > killed_at and p.status != 200), None),
            timeout=30,
            what=f"{name} reported down",
        )
        back = _ready_after(readiness, down.at).at
    line = mesh.output.wait_for_text(f"teei up: {name} healthy again (restart #{restart}, ", timeout=60)
    launcher_seconds = float(line.rsplit("(restart", 1)[1].split(", ")[1].split("s after")[0])
    failed = [w for w in writes.snapshot() if not w.profile_id and w.answered >= killed_at and w.sent <= back]
    return Kill(name, back - killed_at, launcher_seconds, len(failed), frozenset(w.status for w in failed))


def measure(service: str, kills: int) -> list[Kill]:
    """Kills `service` `kills` times in a row, then NATS and Envoy once, under a write loop."""
    with tempfile.TemporaryDirectory(prefix="teei-recovery-") as folder:
        overrides = {service: {"crash_loop": {"exits": kills + 1, "window_seconds": 60}}}
        mesh = start_supervised(Path(folder), overrides)
        readiness = watch_readiness(mesh.edge_url)
        writes = write_profiles(mesh.edge_url, mesh.auth("acme"))
        try:
            results = [_kill_once(mesh, service, n, readiness, writes) for n in range(1, kills + 1)]
            results += [_kill_once(mesh, name, 1, readiness, writes) for name in ("nats", "edge")]
            _check_no_acknowledged_write_lost(mesh, writes.snapshot())
        finally:
            writes.stop()
            readiness.stop()
            mesh.stop()
    return results


def _check_no_acknowledged_write_lost(mesh: MeshProcess, writes: list[Write]) -> None:
    with httpx.Client(base_url=mesh.edge_url, headers=mesh.auth("acme"), timeout=10.0) as client:
        lost = [w for w in writes if w.profile_id and client.get(f"/v1/profiles/{w.profile_id}").status_code != 200]
    acked = sum(1 for w in writes if w.profile_id)
    print(f"acknowledged writes: {acked}, lost: {len(lost)}, failed: {sum(1 for w in writes if not w.profile_id)}")


def report(results: list[Kill]) -> str:
    """A Markdown table, one row per component."""
    rows = [
        "| component | kills | seconds per kill | median s | max s | launcher's median s | failed writes | statuses |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for component in dict.fromkeys(k.component for k in results):
        mine = [k for k in results if k.component == component]
        seconds = [k.seconds for k in mine]
        statuses = sorted(set().union(*(k.failed_statuses for k in mine)))
        rows.append(
            f"| {component} | {len(mine)} | {', '.join(f'{x:.2f}' for x in seconds)} "
            f"| {statistics.median(seconds):.2f} | {max(seconds):.2f} "
            f"| {statistics.median(k.launcher_seconds for k in mine):.2f} "
            f"| {', '.join(str(k.failed_writes) for k in mine)} | {', '.join(map(str, statuses)) or '-'} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service", default="profile")
    parser.add_argument("--kills", type=int, default=5)
    args = parser.parse_args()
    print(report(measure(args.service, args.kills)))


if __name__ == "__main__":
    main()
