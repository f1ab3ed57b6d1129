"""Keeps a started mesh running: a process that exits is restarted after a back-off (restarts.decide) or
left down and reported, while the rest keeps serving. One keeper thread per resource waits on its process,
so an exit is seen at once, and a stop never races a restart (Mesh.spawn refuses once stopping). A second
thread per resource probes its health while it runs and SIGKILLs it once it stops answering (restarts.judge):
a hung process is then restarted like a dead one."""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import httpx

from services.cli import probes, rolling
from services.cli.launcher import LaunchError, Mesh, Running
from services.cli.restarts import ExitHistory, Liveness, Restart, StayDown, decide, describe_exit, judge
from services.cli.spec import Resource

# The edge's readiness script (envoy/readiness.lua) names, with its reason, every resource whose
# runtime key under this prefix is set; the supervisor sets it, in Envoy's admin runtime layer, for a
# resource that stays down (a restarted Envoy gets them again).
DOWN_RUNTIME_PREFIX = "readiness.down."

State = Literal["running", "restarting", "starting", "crash_loop", "exited"]


@dataclass
class ResourceStatus:
    """What the supervisor knows of one resource, as var/mesh.json shows it."""

    state: State = "running"
    restarts: int = 0
    last_exit: str | None = None
    reason: str | None = None


class Supervisor:
    """Restarts the mesh's processes as their restart policies say, until `stop()`."""

    def __init__(
        self,
        mesh: Mesh,
        *,
        report: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        health_timeout: float = 60.0,
        poll_interval: float = 0.1,
    ) -> None:
        self._mesh = mesh
        self._report = report
        self._clock = clock
        self._rng = rng
        self._health_timeout = health_timeout
        self._poll_interval = poll_interval
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._statuses = {r.name: ResourceStatus() for r in mesh.resources}
        self._keepers: list[threading.Thread] = []

    def start(self) -> None:
        """Begins watching every resource of the (started) mesh."""
        for resource in self._mesh.resources:
            for role, target in (("keep", self._keep), ("live", self._check_liveness)):
                thread = threading.Thread(target=target, args=(resource,), name=f"{role}-{resource.name}", daemon=True)
                thread.start()
                self._keepers.append(thread)
        self._write_state()

    def stop(self, *, timeout: float = 20.0) -> dict[str, int | None]:
        """Stops restarting, then stops the mesh in reverse dependency order (Mesh.stop)."""
        self._halt.set()
        codes = self._mesh.stop(timeout=timeout)
        for keeper in self._keepers:
            keeper.join(timeout)
        return codes

    def statuses(self) -> dict[str, ResourceStatus]:
        """A copy of every resource's status."""
        with self._lock:
            return {name: ResourceStatus(**asdict(status)) for name, status in self._statuses.items()}

    def _keep(self, resource: Resource) -> None:
        try:
            self._watch(resource)
        except Exception as exc:  # a keeper that dies must say so, not vanish
            self._update(resource.name, "exited", reason=f"supervision failed: {exc!r}")
            self._say(f"{resource.name}: supervision failed ({exc!r}); it is no longer restarted")

    def _watch(self, resource: Resource) -> None:
        history = ExitHistory()
        item = self._mesh.current(resource.name)
        while item is not None:
            code = item.process.wait()
            if not self._mesh.release(item):
                successor = self._mesh.current(resource.name)
                if successor is None or successor is item:
                    return  # stopped on purpose: the mesh is stopping, or stop_resource
                item = successor  # replaced by a rolling restart (services/cli/rolling.py): watch its successor
                continue
            exited_at = self._clock()
            history = history.record(exited_at, window=resource.restart.crash_loop.window_seconds)
            decision = decide(resource.restart, code=code, history=history, now=exited_at, rng=self._rng)
            if isinstance(decision, StayDown):
                self._stay_down(resource, code, decision)
                return
            item = self._restart(resource, code, decision, exited_at)

    def _check_liveness(self, resource: Resource) -> None:
        """Probes the resource every `liveness.period_seconds` while it is running (healthy once since its
        start); kills the process that fails `failure_threshold` probes in a row, for the keeper to restart."""
        probe, name = resource.liveness, resource.name
        check = self._liveness(resource, timeout=probe.timeout_seconds)
        state, watched = Liveness(), self._mesh.current(name)
        while not self._halt.wait(probe.period_seconds):
            item = self._mesh.current(name)
            if item is not watched:
                state, watched = Liveness(), item
            if item is None or self.statuses()[name].state != "running":
                continue
            state, reason = judge(probe, state, healthy=check(), now=self._clock())
            if reason is not None and self._mesh.current(name) is item and not self._halt.is_set():
                self._say(f"{name} {reason}; killing pid {item.process.pid} (SIGKILL)")
                item.process.kill()

    def _stay_down(self, resource: Resource, code: int, decision: StayDown) -> None:
        self._update(resource.name, decision.state, last_exit=describe_exit(code), reason=decision.reason)
        self._say(f"{resource.name} exited ({describe_exit(code)}); staying down: {decision.reason}")
        self._announce(resource.name, decision.reason)

    def _restart(self, resource: Resource, code: int, decision: Restart, exited_at: float) -> Running | None:
        name = resource.name
        count = self._update(name, "restarting", last_exit=describe_exit(code), restarted=True)
        self._say(f"{name} exited ({describe_exit(code)}); restart #{count} in {decision.delay:.2f}s")
        if self._halt.wait(decision.delay):
            return None
        item = self._mesh.spawn(name)
        if item is None:
            return None
        self._update(name, "starting")
        self._say(f"{name} started again (restart #{count}, pid {item.process.pid})")
        if self._wait_live(item):
            self._update(name, "running")
            self._say(f"{name} healthy again (restart #{count}, {self._clock() - exited_at:.2f}s after it exited)")
        return item

    def _wait_live(self, item: Running) -> bool:
        """True once the restarted process is healthy; False when it exits or the mesh stops first. Slow
        starts are reported once, after `health_timeout`, and waited for still."""
        resource = item.resource
        probe = self._liveness(resource)
        late: float | None = self._clock() + self._health_timeout
        while not self._halt.is_set() and item.process.poll() is None:
            if probe() and item.ready():
                if resource.kind == "envoy":
                    self._announce_all()
                return True
            if late is not None and self._clock() > late:
                self._say(f"{resource.name} not healthy {self._health_timeout:g}s after its restart; still waiting")
                late = None
            self._halt.wait(self._poll_interval)
        return False

    def _liveness(self, resource: Resource, *, timeout: float = 1.0) -> Callable[[], bool]:
        # The edge's own health check is the readiness of every upstream; Envoy is live when its admin
        # reports it so (the upstreams are supervised on their own).
        if resource.kind == "envoy":
            url = f"http://127.0.0.1:{resource.extra_ports['admin_port']}/ready"
            return lambda: probes.http_ok(url, timeout=timeout)
        return self._mesh.probe(resource, timeout=timeout)

    def _announce_all(self) -> None:
        for name, status in self.statuses().items():
            if status.state in ("crash_loop", "exited") and status.reason:
                self._announce(name, status.reason)

    def _announce(self, name: str, reason: str) -> None:
        edges = [r for r in self._mesh.resources if r.kind == "envoy" and r.name != name]
        for edge in edges:
            # Envoy decodes %-escapes in the query but not `+` for a space: no form encoding.
            query = urllib.parse.urlencode({DOWN_RUNTIME_PREFIX + name: reason}, quote_via=urllib.parse.quote)
            admin = f"http://127.0.0.1:{edge.extra_ports['admin_port']}/runtime_modify?{query}"
            # When the edge is down too, it is told again once it is back (_wait_live).
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(admin, timeout=2.0)

    def _update(
        self,
        name: str,
        state: State,
        *,
        last_exit: str | None = None,
        reason: str | None = None,
        restarted: bool = False,
    ) -> int:
        """Sets the resource's state and reason (and its last exit, when given); its restart count."""
        with self._lock:
            status = self._statuses[name]
            status.state, status.reason = state, reason
            status.last_exit = last_exit or status.last_exit
            status.restarts += int(restarted)
            self._write_state_locked()
            return status.restarts

    def _write_state(self) -> None:
        with self._lock:
            self._write_state_locked()

    def _write_state_locked(self) -> None:
        degraded = any(s.state != "running" for s in self._statuses.values())
        self._mesh.write_state(
            {name: asdict(status) for name, status in self._statuses.items()},
            status="degraded" if degraded else "ready",
            launcher_pid=os.getpid(),
            rollable=rolling.rollable(self._mesh),
        )

    def roll(self, names: Sequence[str] | None = None) -> list[rolling.Rolled]:
        """A rolling restart of `names` (default: every gRPC service), one after another; a successor that
        does not come up is reported and its predecessor serves on."""
        try:
            return rolling.roll_all(self._mesh, names, say=self._say)
        except LaunchError as exc:
            self._say(f"rolling restart stopped: {exc}")
            return []
        finally:
            self._write_state()

    def _say(self, line: str) -> None:
        self._report(line)
