"""The Prometheus files teei up writes: one file_sd target per service, Envoy and the launcher, and a config
promtool accepts; the launcher's supervision metrics."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from prometheus_client import generate_latest

from services.cli import prometheus, spec
from services.cli.launcher import Mesh


def test_targets_cover_every_service_envoy_and_the_launcher(tmp_path: Path) -> None:
    resources = spec.load()
    path = prometheus.write(tmp_path, resources, launcher_port=9460)
    groups = json.loads(path.read_text())
    by_service = {group["labels"]["service"]: group for group in groups}
    # NATS and the trace inbox serve no Prometheus metrics.
    assert set(by_service) == {r.name for r in resources if r.kind not in ("nats", "otlp")} | {"teei-up"}
    assert by_service["profile"]["targets"] == ["127.0.0.1:9462"]
    assert by_service["edge"]["targets"] == ["127.0.0.1:9901"]
    assert by_service["edge"]["labels"]["__metrics_path__"] == "/stats/prometheus"
    assert path.parent == tmp_path / "telemetry" / "prometheus"


def test_without_a_launcher_port_the_launcher_is_not_a_target() -> None:
    groups = json.loads(json.dumps(prometheus.targets(spec.load())))
    assert "teei-up" not in {group["labels"]["service"] for group in groups}


def test_promtool_accepts_the_written_config(tmp_path: Path) -> None:
    prometheus.write(tmp_path, spec.load(), launcher_port=9460)
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make promtool`"
    config = prometheus.folder(tmp_path) / "prometheus.yml"
    result = subprocess.run([promtool, "check", "config", str(config)], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_supervision_metrics_show_restarts_and_state() -> None:
    registry = prometheus.registry(lambda: {"profile": (3, False), "gateway": (0, True)})
    text = generate_latest(registry).decode()
    assert 'teei_process_restarts_total{resource="profile"} 3.0' in text
    assert 'teei_process_up{resource="profile"} 0.0' in text
    assert 'teei_process_up{resource="gateway"} 1.0' in text


def test_the_launcher_passes_each_service_its_metrics_port(tmp_path: Path) -> None:
    mesh = Mesh(resources=spec.load(), var_dir=tmp_path, environ={})
    env = mesh._service_env(mesh.resource("q2q"))
    assert env["TEEI_METRICS_PORT"] == "9466"
    assert "TEEI_METRICS_PORT" not in mesh._service_env(mesh.resource("nats"))
