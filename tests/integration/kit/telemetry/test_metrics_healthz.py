"""The metrics endpoint answers GET /healthz itself, without collecting: a worker group's liveness check
(services/cli/launcher.py) asks it, so a hung group process is found even while its workers serve."""

from __future__ import annotations

import httpx
import prometheus_client

from services.kit.telemetry import metrics


class _Refusing(prometheus_client.registry.Collector):
    def collect(self) -> list[prometheus_client.Metric]:
        raise AssertionError("a health check must not collect metrics")


def test_healthz_answers_without_collecting_and_metrics_are_still_served() -> None:
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    counter = prometheus_client.Counter("teei_probe_total", "probes", registry=registry)
    counter.inc()
    endpoint = metrics.serve(0, registry=registry)
    try:
        base = f"http://127.0.0.1:{endpoint.port}"
        assert httpx.get(base + "/metrics", timeout=5).text.count("teei_probe_total 1.0") == 1
        registry.register(_Refusing())
        healthz = httpx.get(base + metrics.HEALTHZ_PATH, timeout=5)
        assert (healthz.status_code, healthz.text) == (200, "ok\n")
    finally:
        endpoint.close()
