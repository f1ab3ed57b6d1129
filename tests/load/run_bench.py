"""Benchmark: k6 against GET /v1/profiles/{id} through the edge and over direct gRPC, in one run.

Also measures seconds from launch to readiness. Writes reports/bench-profile-get.md.
Run with `make bench`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from services.cli import spec
from services.cli.launcher import Mesh
from tests.e2e.conftest import mint

K6 = Path(sys.executable).parent / "k6"
SCRIPT = Path(__file__).with_name("profile_get.js")
REPORT = spec.REPO_ROOT / "reports" / "bench-profile-get.md"


def run_k6(
    mode: str, target: str, profile_id: str, token: str, out_dir: Path, *, tls_dir: Path | None = None
) -> dict[str, float]:
    """Runs one k6 scenario and returns requests/s, p95 (ms) and the failure rate."""
    summary = out_dir / f"{mode}.json"
    env = {**os.environ, "MODE": mode, "TARGET": target, "PROFILE_ID": profile_id, "TOKEN": token}
    env.update({"VUS": os.environ.get("BENCH_VUS", "8"), "DURATION": os.environ.get("BENCH_DURATION", "10s")})
    if tls_dir is not None:
        env["TLS_DIR"] = str(tls_dir)
    subprocess.run([str(K6), "run", "--quiet", "--summary-export", str(summary), str(SCRIPT)], env=env, check=True)
    metrics = json.loads(summary.read_text())["metrics"]
    duration = metrics["http_req_duration" if mode == "rest" else "grpc_req_duration"]
    requests = metrics["http_reqs" if mode == "rest" else "iterations"]
    return {"rps": requests["rate"], "p95_ms": duration["p(95)"], "failed": 1 - metrics["checks"]["value"]}


def main() -> None:
    """Starts a mesh on free ports, measures, stops it, writes the report."""
    with tempfile.TemporaryDirectory(prefix="teei-bench-") as tmp:
        mesh = Mesh(resources=spec.with_free_ports(spec.load()), var_dir=Path(tmp) / "var")
        started = time.monotonic()
        mesh.start()
        ready_seconds = time.monotonic() - started
        try:
            token = mint(mesh.var_dir, "bench")
            headers = {"authorization": f"Bearer {token}"}
            created = httpx.post(
                f"{mesh.edge_url}/v1/profiles", json={"email": "bench@example.org"}, headers=headers
            ).json()["profile"]
            rest = run_k6("rest", mesh.edge_url, created["profile_id"], token, Path(tmp))
            target = f"localhost:{mesh.resource('profile').port}"
            grpc = run_k6("grpc", target, created["profile_id"], token, Path(tmp), tls_dir=mesh.mtls_dir)
        finally:
            mesh.stop()
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(_report(ready_seconds, rest, grpc))
    print(REPORT.read_text())


def _report(ready: float, rest: dict[str, float], grpc: dict[str, float]) -> str:
    return f"""# GET /v1/profiles/{{id}}: edge (REST) vs direct gRPC

Measured in one run on this machine (k6, {os.environ.get("BENCH_VUS", "8")} VUs,
{os.environ.get("BENCH_DURATION", "10s")} each; the machine is shared, so read the ratios).

| path | requests/s | p95 (ms) | failed |
|---|---|---|---|
| REST through Envoy edge | {rest["rps"]:.0f} | {rest["p95_ms"]:.2f} | {rest["failed"]:.2%} |
| gRPC direct to profile (mTLS) | {grpc["rps"]:.0f} | {grpc["p95_ms"]:.2f} | {grpc["failed"]:.2%} |
| ratio edge / direct | {rest["rps"] / grpc["rps"]:.2f} | {rest["p95_ms"] / grpc["p95_ms"]:.2f} | |

Launch to readiness (NATS, seven services, Envoy): {ready:.1f} s.
"""


if __name__ == "__main__":
    main()
