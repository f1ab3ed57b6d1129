"""Helpers for supervision tests through `teei up`: a mesh from an adjusted tilt.yaml, the launcher's state,
and recorders of the edge's readiness and of writes that a test waits on (with deadlines, never sleeps)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from services.cli.spec import DEFAULT_SPEC, REPO_ROOT
from tests.e2e.conftest import MeshProcess
from tests.support import LineReader


def write_spec(folder: Path, overrides: Mapping[str, Mapping[str, object]]) -> Path:
    """The repository's tilt.yaml with `overrides` merged into the named resources."""
    document: dict[str, Any] = yaml.safe_load(DEFAULT_SPEC.read_text())
    for entry in document["resources"]:
        entry.update(overrides.get(entry["name"], {}))
    path = folder / "tilt.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def start_supervised(folder: Path, overrides: Mapping[str, Mapping[str, object]]) -> MeshProcess:
    """Runs `teei up --free-ports --spec …` with `overrides` and waits until it reports the edge ready."""
    var_dir = folder / "var"
    command = [sys.executable, "-m", "services.cli", "up", "--free-ports", "--var-dir", str(var_dir)]
    command += ["--spec", str(write_spec(folder, overrides))]
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    output = LineReader(process.stdout)
    try:
        ready = output.wait_for_text("mesh ready in", timeout=120)
        output.wait_for_text("teei up: edge", timeout=10)
    except AssertionError:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    state = mesh_state(var_dir)
    ports = {name: info["port"] for name, info in state["resources"].items()}
    seconds = float(ready.rsplit(" ", 1)[1].rstrip("s"))
    return MeshProcess(process, output, var_dir, state["edge_url"], ports, seconds)


def mesh_state(var_dir: Path) -> dict[str, Any]:
    """The launcher's var/mesh.json."""
    state: dict[str, Any] = json.loads((var_dir / "mesh.json").read_text())
    return state


def pid_of(mesh: MeshProcess, name: str) -> int:
    """The pid of resource `name`'s current process."""
    pid = mesh_state(mesh.var_dir)["resources"][name]["pid"]
    assert isinstance(pid, int), f"{name} is not running"
    return pid


def kill(mesh: MeshProcess, name: str) -> float:
    """SIGKILLs resource `name` (a crash) and returns when, on the monotonic clock."""
    pid = pid_of(mesh, name)
    at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    return at


@dataclass(frozen=True)
class Probe:
    """One readiness answer: when it arrived, its HTTP status and its JSON body."""

    at: float
    status: int
    body: dict[str, Any]


@dataclass
class Recorder:
    """Records what a background loop observes; `wait_until` blocks until a condition over the records holds."""

    records: list[Any] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _halt: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def add(self, record: object) -> None:
        with self._changed:
            self.records.append(record)
            self._changed.notify_all()

    def snapshot(self) -> list[Any]:
        with self._changed:
            return list(self.records)

    def wait_until(self, condition: Callable[[list[Any]], object], *, timeout: float, what: str) -> Any:
        """The first truthy value of `condition(records)`, re-checked on every new record."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (found := condition(self.records)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"not within {timeout}s: {what}; last records {self.records[-5:]}")
                self._changed.wait(remaining)
            return found

    def run(self, step: Callable[[], object], *, pace: float = 0.0, close: Callable[[], None] = lambda: None) -> None:
        """Calls `step` repeatedly on a thread, `pace` seconds apart, recording each result, until `stop()`;
        then `close`."""

        def loop() -> None:
            try:
                while not self._halt.is_set():
                    self.add(step())
                    self._halt.wait(pace)
            finally:
                close()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(30)


def watch_readiness(edge_url: str) -> Recorder:
    """Polls the edge's /health/readiness back to back (each answer is recorded as a Probe)."""
    client = httpx.Client(base_url=edge_url, timeout=2.0)

    def probe() -> Probe:
        try:
            response = client.get("/health/readiness")
            body = response.json()
        except httpx.HTTPError:
            return Probe(time.monotonic(), 0, {})
        except ValueError:  # not the readiness script's answer (e.g. a local reply)
            body = {"raw": response.text}
        return Probe(time.monotonic(), response.status_code, body)

    recorder = Recorder()
    recorder.run(probe, pace=0.02, close=client.close)
    return recorder


@dataclass(frozen=True)
class Write:
    """One attempted profile creation: when it was sent and answered, the status, and the id when acknowledged."""

    sent: float
    answered: float
    status: int
    profile_id: str | None


def write_profiles(edge_url: str, headers: Mapping[str, str]) -> Recorder:
    """Creates profiles through the edge one after another, at most about 100 a second (a bounded loop: the
    test stops it), so that refused connections while the edge is down are not counted by the thousand."""
    client = httpx.Client(base_url=edge_url, headers=dict(headers), timeout=10.0)

    def create() -> Write:
        sent = time.monotonic()
        email = f"w-{uuid.uuid4().hex[:12]}@example.org"
        try:
            response = client.post("/v1/profiles", json={"email": email, "given_name": "Load"})
        except httpx.HTTPError:
            return Write(sent, time.monotonic(), 0, None)
        ok = response.status_code == httpx.codes.OK
        return Write(
            sent, time.monotonic(), response.status_code, response.json()["profile"]["profile_id"] if ok else None
        )

    recorder = Recorder()
    recorder.run(create, pace=0.01, close=client.close)
    return recorder
