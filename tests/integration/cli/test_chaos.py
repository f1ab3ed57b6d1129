"""`teei chaos` touches only a mesh it can see: a var dir with mesh.json, an edge on loopback, and processes
alive, tied to that var dir and children of one launcher. Anything else is refused before a signal is sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli import chaos, main


@pytest.fixture
def child(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process of `tmp_path`'s mesh (its var dir in its environment), child of this test process."""
    env = {**os.environ, "TEEI_VAR_DIR": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def _state(var_dir: Path, edge_url: str, **pids: int | None) -> None:
    resources = {name: {"pid": pid, "port": 1} for name, pid in pids.items()}
    (var_dir / "mesh.json").write_text(json.dumps({"edge_url": edge_url, "status": "ready", "resources": resources}))


def test_a_var_dir_without_a_mesh_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main.main(["chaos", "--var-dir", str(tmp_path)])
    assert exited.value.code == 1
    assert "no running mesh in" in capsys.readouterr().err


def test_an_edge_off_loopback_is_refused(tmp_path: Path, child: subprocess.Popen[bytes]) -> None:
    _state(tmp_path, "http://10.1.2.3:8080", profile=child.pid)
    with pytest.raises(chaos.ChaosError, match="not on loopback"):
        chaos.check_visible(tmp_path)


def test_a_process_of_another_var_dir_is_refused(tmp_path: Path, child: subprocess.Popen[bytes]) -> None:
    other = tmp_path / "other"
    other.mkdir()
    _state(other, "http://127.0.0.1:8080", profile=child.pid)
    with pytest.raises(chaos.ChaosError, match=r"profile \(pid \d+\) does not belong to the mesh"):
        chaos.check_visible(other)


def test_a_resource_without_a_process_is_refused(tmp_path: Path, child: subprocess.Popen[bytes]) -> None:
    _state(tmp_path, "http://127.0.0.1:8080", profile=child.pid, nats=None)
    with pytest.raises(chaos.ChaosError, match="nats is not running"):
        chaos.check_visible(tmp_path)


def test_processes_of_the_var_dir_under_one_launcher_are_accepted(
    tmp_path: Path, child: subprocess.Popen[bytes]
) -> None:
    _state(tmp_path, "http://127.0.0.1:8080", profile=child.pid)
    assert chaos.check_visible(tmp_path)["resources"]["profile"]["pid"] == child.pid


def test_the_default_round_kills_services_then_nats_then_envoy_then_hangs_one() -> None:
    names = ["nats", "gateway", "profile", "edge"]
    assert [(s.name, s.signal.name) for s in chaos.default_round(names, hang="profile")] == [
        ("gateway", "SIGKILL"),
        ("profile", "SIGKILL"),
        ("nats", "SIGKILL"),
        ("edge", "SIGKILL"),
        ("profile", "SIGSTOP"),
    ]
