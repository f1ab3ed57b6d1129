"""What Prometheus needs to scrape a local mesh: `var/telemetry/prometheus/targets.json` (file_sd: one entry per
service with a metrics port, one for Envoy's admin `/stats/prometheus`, one for `teei up` itself) and a
`prometheus.yml` that reads it and loads the mesh's alerting rules. Written by `teei up` once the mesh is up."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeAlias

import prometheus_client
import yaml
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.cli.spec import REPO_ROOT, Resource

# Per resource name: restarts so far, and whether it runs healthy now.
Statuses: TypeAlias = Callable[[], Mapping[str, tuple[int, bool]]]
RULES = REPO_ROOT / "observability" / "prometheus" / "rules.yml"
ENVOY_METRICS_PATH = "/stats/prometheus"
LAUNCHER_JOB = "teei-up"


def folder(var_dir: Path) -> Path:
    """Where the mesh's Prometheus files live."""
    return var_dir / "telemetry" / "prometheus"


def targets(resources: tuple[Resource, ...], *, launcher_port: int | None = None) -> list[dict[str, object]]:
    """The file_sd target groups: every service with a `metrics_port`, every Envoy, and the launcher."""
    groups: list[dict[str, object]] = []
    for resource in resources:
        if "metrics_port" in resource.extra_ports:
            groups.append(_group(resource.extra_ports["metrics_port"], job="teei", service=resource.name))
        elif resource.kind == "envoy":
            admin = resource.extra_ports["admin_port"]
            groups.append(_group(admin, job="envoy", service=resource.name, __metrics_path__=ENVOY_METRICS_PATH))
    if launcher_port is not None:
        groups.append(_group(launcher_port, job=LAUNCHER_JOB, service=LAUNCHER_JOB))
    return groups


def _group(port: int, **labels: str) -> dict[str, object]:
    return {"targets": [f"127.0.0.1:{port}"], "labels": labels}


def config(targets_path: Path, *, rules: Path = RULES, scrape_interval: str = "15s") -> dict[str, object]:
    """A prometheus.yml scraping the targets file (re-read on change) with the mesh's alerting rules."""
    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "teei-mesh", "file_sd_configs": [{"files": [str(targets_path)]}]}],
    }


def write(var_dir: Path, resources: tuple[Resource, ...], *, launcher_port: int | None = None) -> Path:
    """Writes targets.json and prometheus.yml (each replaced whole); the targets file's path."""
    out = folder(var_dir)
    out.mkdir(parents=True, exist_ok=True)
    targets_path = out / "targets.json"
    _replace(targets_path, json.dumps(targets(resources, launcher_port=launcher_port), indent=2))
    _replace(out / "prometheus.yml", yaml.safe_dump(config(targets_path), sort_keys=False))
    return targets_path


def _replace(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


class SupervisionCollector(Collector):
    """The launcher's own metrics: restarts per resource and whether each is up, read from `statuses()`."""

    def __init__(self, statuses: Statuses) -> None:
        self._statuses = statuses

    def collect(self) -> Iterator[Metric]:
        restarts = CounterMetricFamily(
            "teei_process_restarts", "Restarts of a mesh process by teei up.", labels=["resource"]
        )
        up = GaugeMetricFamily("teei_process_up", "1 while the mesh process runs healthy, else 0.", labels=["resource"])
        for name, (count, running) in self._statuses().items():
            restarts.add_metric([name], count)
            up.add_metric([name], 1.0 if running else 0.0)
        yield restarts
        yield up


def registry(statuses: Statuses) -> prometheus_client.CollectorRegistry:
    """A registry holding only the launcher's supervision metrics."""
    found = prometheus_client.CollectorRegistry()
    found.register(SupervisionCollector(statuses))
    return found
