"""Runs one k6 script and reads its summary: requests/s, latency percentiles and failed checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

K6 = Path(sys.executable).parent / "k6"
SCRIPTS = Path(__file__).with_name("k6")


@dataclass(frozen=True)
class Result:
    """One measurement: throughput (requests, rows or events per second), latency and errors."""

    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    vus: int = 0

    def as_json(self) -> dict[str, float | int]:
        """The figures the JSON report keeps per scenario."""
        return {
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "errors": self.errors,
        }


def run(script: str, env: dict[str, str], *, vus: int, summary: Path) -> Result:
    """Runs `script` (a file under k6/) with `vus` virtual users; k6's own output stays quiet."""
    full_env = {**os.environ, **env, "VUS": str(vus)}
    argv = [str(K6), "run", "--quiet", "--no-usage-report", "--summary-export", str(summary), str(SCRIPTS / script)]
    completed = subprocess.run(argv, env=full_env, capture_output=True, text=True, check=False)
    if completed.returncode != 0 or not summary.exists():
        raise RuntimeError(f"k6 {script} failed ({completed.returncode}): {_cause(completed.stderr)}")
    return read_summary(json.loads(summary.read_text()), vus=vus)


def read_summary(summary: dict[str, dict[str, dict[str, float]]], *, vus: int) -> Result:
    """The figures of a k6 `--summary-export` file (HTTP or gRPC)."""
    metrics = summary["metrics"]
    duration = metrics.get("http_req_duration") or metrics["grpc_req_duration"]
    checks = metrics["checks"]
    return Result(
        rps=metrics["iterations"]["rate"],
        p50_ms=duration["p(50)"],
        p95_ms=duration["p(95)"],
        p99_ms=duration["p(99)"],
        errors=int(checks["fails"]),
        vus=vus,
    )


def profile_get(edge: str, profile_id: str, token: str, work: Path) -> dict[str, float]:
    """GET /v1/profiles/{id} through `edge` (BENCH_VUS virtual users for BENCH_DURATION): requests/s, p95
    and failed checks, for the benchmarks that compare one mesh setting on and off."""
    env = {
        "TOKEN": token,
        "DURATION": os.environ.get("BENCH_DURATION", "10s"),
        "URL": f"{edge}/v1/profiles/{profile_id}",
        "RUN": f"profile-get-{work.name}",
    }
    result = run("http.js", env, vus=int(os.environ.get("BENCH_VUS", "8")), summary=work / "profile-get.json")
    return {"rps": result.rps, "p95_ms": result.p95_ms, "failed": float(result.errors)}


def _cause(stderr: str) -> str:
    """What k6 said went wrong: from its first panic or error line (a Go panic's cause comes before a long
    trace of goroutines), else the end of its output."""
    lines = stderr.splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith(("panic:", "fatal error:", "ERRO["))), None)
    return "\n".join(lines[first : first + 12]) if first is not None else stderr[-2000:]
