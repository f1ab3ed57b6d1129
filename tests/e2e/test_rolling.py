"""A rolling restart of the live mesh under traffic through the edge (`teei roll`, services/cli/rolling.py):
every request answers, while each service named is replaced process by process on its own port (the
successor migrates its database and serves before the predecessor drains and stops), and the launcher
then supervises the successors (a killed successor is restarted).

`make rolling` runs it (TEEI_ROLLING=1); it is not yet part of `make test`: one run in seven on the shared
development machine saw one failed request during the swap, whose cause is not yet found."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from services.cli.spec import REPO_ROOT
from tests.e2e.conftest import MeshProcess

pytestmark = pytest.mark.skipif(os.environ.get("TEEI_ROLLING") != "1", reason="`make rolling` (TEEI_ROLLING=1)")


class Traffic:
    """Client threads reading and writing profiles through the edge until stopped, counting every answer."""

    def __init__(self, mesh: MeshProcess, *, clients: int = 3) -> None:
        self.mesh, self.headers = mesh, mesh.auth()
        self.answers: Counter[str] = Counter()
        self.failures: list[str] = []
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(clients)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._halt.set()
        for thread in self._threads:
            thread.join(30)

    def wait_for(self, count: int, *, timeout: float = 60.0) -> None:
        """Returns once `count` more answers came (the traffic flows), failing after `timeout` seconds."""
        with self._lock:
            target = sum(self.answers.values()) + count
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if sum(self.answers.values()) >= target:
                    return
            assert time.monotonic() < deadline, f"traffic stalled: {self.answers}, {self.failures[-3:]}"
            time.sleep(0.05)  # polling interval of a bounded wait

    def _run(self, n: int) -> None:
        with httpx.Client(base_url=self.mesh.edge_url, headers=self.headers, timeout=30) as client:
            i = 0
            while not self._halt.is_set():
                i += 1
                created = client.post("/v1/profiles", json={"email": f"rolling-{n}-{i}@example.org"})
                if self._count("create", created):
                    profile_id = created.json()["profile"]["profile_id"]
                    self._count("get", client.get(f"/v1/profiles/{profile_id}"))

    def _count(self, kind: str, response: httpx.Response) -> bool:
        with self._lock:
            if response.status_code == 200:
                self.answers[kind] += 1
                return True
            self.failures.append(f"{kind} {response.status_code} {response.text[:200]}")
            return False


def _pids(mesh: MeshProcess) -> dict[str, int | None]:
    state = json.loads((mesh.var_dir / "mesh.json").read_text())
    return {name: info.get("pid") for name, info in state["resources"].items()}


def _teei_roll(mesh: MeshProcess, *services: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "services.cli", "roll", *services, "--var-dir", str(mesh.var_dir)]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def traffic(mesh: MeshProcess) -> Iterator[Traffic]:
    with Traffic(mesh) as flowing:
        flowing.wait_for(20)
        yield flowing


def test_rolling_restart_of_profile_and_gateway_under_traffic_fails_no_request(
    mesh: MeshProcess, traffic: Traffic
) -> None:
    before = _pids(mesh)
    rolled = _teei_roll(mesh, "profile", "gateway")
    assert rolled.returncode == 0, rolled.stderr
    after = _pids(mesh)
    for name in ("profile", "gateway"):
        assert after[name] not in (None, before[name]), name
        assert f"{name} pid {before[name]} → {after[name]}" in rolled.stdout
        with pytest.raises(ProcessLookupError):
            os.kill(int(before[name] or 0), 0)  # the predecessor is gone
    assert after["kintell"] == before["kintell"]  # not named: not rolled
    traffic.wait_for(20)  # traffic goes on against the successors
    assert traffic.failures == [], traffic.failures[:5]
    assert traffic.answers["create"] > 0
    assert traffic.answers["get"] > 0


def test_a_rolled_successor_is_supervised_like_its_predecessor(mesh: MeshProcess, traffic: Traffic) -> None:
    rolled = _teei_roll(mesh, "profile")
    assert rolled.returncode == 0, rolled.stderr
    successor = _pids(mesh)["profile"]
    assert successor is not None
    os.kill(successor, signal.SIGKILL)
    mesh.output.wait_for_text("profile healthy again", timeout=120)
    assert _pids(mesh)["profile"] not in (None, successor)
