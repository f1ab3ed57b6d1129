"""Metrics overhead: k6 on GET /v1/profiles/{id} through the edge, against a mesh with metrics on (every service
serving /metrics and recording per-RPC metrics, all targets scraped every BENCH_SCRAPE_SECONDS, default 15) and
the same mesh with metrics off, in one run, rounds alternating so the shared machine's drift hits both. Prints a
Markdown table.

`python -m tests.load.metrics_overhead` (BENCH_VUS, BENCH_DURATION, BENCH_ROUNDS).
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import tempfile
import threading
from pathlib import Path

import httpx

from services.cli import spec
from services.cli.launcher import Mesh
from tests.e2e.conftest import mint
from tests.load.k6run import profile_get


def _resources(metrics: bool) -> tuple[spec.Resource, ...]:
    resources = spec.with_free_ports(spec.load())
    if metrics:
        return resources
    stripped = [{k: v for k, v in r.extra_ports.items() if k != "metrics_port"} for r in resources]
    return tuple(dataclasses.replace(r, extra_ports=ports) for r, ports in zip(resources, stripped, strict=True))


def _scrape_until(stop: threading.Event, var_dir: Path, counts: list[int]) -> None:
    groups = json.loads((var_dir / "telemetry" / "prometheus" / "targets.json").read_text())
    while not stop.wait(float(os.environ.get("BENCH_SCRAPE_SECONDS", "15"))):  # Prometheus' default interval
        for group in groups:
            path = group["labels"].get("__metrics_path__", "/metrics")
            httpx.get(f"http://{group['targets'][0]}{path}", timeout=5)
            counts[0] += 1


def measure(metrics: bool, tmp: Path) -> dict[str, float]:
    """One round: a fresh mesh, one profile, k6 through the edge."""
    mesh = Mesh(resources=_resources(metrics), var_dir=tmp / ("on" if metrics else "off"))
    mesh.start()
    stop, counts = threading.Event(), [0]
    try:
        token = mint(mesh.var_dir, "bench")
        created = httpx.post(
            f"{mesh.edge_url}/v1/profiles",
            json={"email": "bench@example.org"},
            headers={"authorization": f"Bearer {token}"},
        ).json()["profile"]
        scraper = threading.Thread(target=_scrape_until, args=(stop, mesh.var_dir, counts), daemon=True)
        if metrics:
            scraper.start()
        result = profile_get(mesh.edge_url, created["profile_id"], token, tmp)
        stop.set()
        if metrics:
            scraper.join(10)
        return {**result, "scrapes": float(counts[0])}
    finally:
        mesh.stop()


def main() -> None:
    """Alternates rounds on and off; prints the medians."""
    rounds = int(os.environ.get("BENCH_ROUNDS", "2"))
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="teei-metrics-bench-") as tmp:
        for index in range(rounds):
            for metrics in (True, False) if index % 2 == 0 else (False, True):
                results[metrics].append(measure(metrics, Path(tmp) / f"{index}"))
    print("| metrics | requests/s (median) | p95 ms (median) | failed | rounds |")
    print("|---|---|---|---|---|")
    for metrics in (True, False):
        rows = results[metrics]
        rps = statistics.median(r["rps"] for r in rows)
        p95 = statistics.median(r["p95_ms"] for r in rows)
        failed = max(r["failed"] for r in rows)
        print(f"| {'on' if metrics else 'off'} | {rps:.0f} | {p95:.2f} | {failed:.2%} | {len(rows)} |")
    print("per round:", json.dumps({("on" if k else "off"): v for k, v in results.items()}))


if __name__ == "__main__":
    main()
