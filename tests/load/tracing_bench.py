"""Benchmark: tracing overhead. k6 against GET /v1/profiles/{id} through the edge on a mesh with tracing
on (every request sampled, exported to the local receiver) and one with TEEI_TRACING=false, in one run.
Prints a Markdown table. Run with `.venv/bin/python -m tests.load.tracing_bench`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx

from services.cli import spec
from services.cli.launcher import Mesh
from tests.e2e.conftest import mint
from tests.load.k6run import profile_get


def measure(tracing: bool, tmp: Path) -> dict[str, float]:
    """Requests/s, p95 and failures of the edge route on a fresh mesh with tracing on or off."""
    environ = {**os.environ, "TEEI_TRACING": "true" if tracing else "false"}
    mesh = Mesh(resources=spec.with_free_ports(spec.load()), var_dir=tmp / "var", environ=environ)
    mesh.start()
    try:
        token = mint(mesh.var_dir, "bench")
        created = httpx.post(
            f"{mesh.edge_url}/v1/profiles",
            json={"email": "bench@example.org"},
            headers={"authorization": f"Bearer {token}"},
        ).json()["profile"]
        return profile_get(mesh.edge_url, created["profile_id"], token, tmp)
    finally:
        mesh.stop()


def main() -> None:
    """Measures off, then on, and prints the table."""
    results = {}
    for tracing in (False, True):
        with tempfile.TemporaryDirectory(prefix="teei-trace-bench-") as tmp:
            results[tracing] = measure(tracing, Path(tmp))
    on, off = results[True], results[False]
    print("| tracing | requests/s | p95 (ms) | failed |\n|---|---|---|---|")
    for label, row in (("off", off), ("on (100 % sampled)", on)):
        print(f"| {label} | {row['rps']:.0f} | {row['p95_ms']:.2f} | {row['failed']:.2%} |")
    print(f"| ratio on / off | {on['rps'] / off['rps']:.2f} | {on['p95_ms'] / off['p95_ms']:.2f} | |")


if __name__ == "__main__":
    main()
