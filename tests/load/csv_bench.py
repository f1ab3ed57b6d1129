"""Benchmark: a 50,000-row Kintell CSV imported through the edge, against parsing the same bytes
with the csv module alone, measured in the same run. Writes reports/bench-csv-import.md."""

from __future__ import annotations

import csv
import io
import os
import tempfile
import time
from pathlib import Path

import httpx

from services.cli import spec
from services.cli.launcher import Mesh
from tests.e2e.conftest import mint

ROWS = int(os.environ.get("BENCH_ROWS", "50000"))
REPORT = spec.REPO_ROOT / "reports" / "bench-csv-import.md"
HEADER = (
    "session_id,participant_email,volunteer_email,scheduled_at,completed_at,"
    "duration_minutes,rating,feedback_text,language_level,topics"
)


def sample_csv(rows: int) -> bytes:
    """A valid language_session v1.0 file with `rows` sessions."""
    lines = [HEADER]
    for i in range(rows):
        lines.append(
            f"bench-{i},p{i % 5000}@example.org,v{i % 700}@example.org,2026-03-01T10:00:00Z,2026-03-01T11:00:00Z,"
            f'60,0.8,"Good session, I feel more confident speaking now",B1,"grammar,travel"'
        )
    return ("\r\n".join(lines) + "\r\n").encode()


def csv_module_seconds(data: bytes) -> float:
    """Seconds for the stdlib csv module to decode and read every row."""
    started = time.perf_counter()
    rows = sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    elapsed = time.perf_counter() - started
    assert rows == ROWS + 1
    return elapsed


def main() -> None:
    """Starts the mesh on free ports, imports the file through the edge, writes the report."""
    data = sample_csv(ROWS)
    baseline = min(csv_module_seconds(data) for _ in range(3))
    with tempfile.TemporaryDirectory(prefix="teei-bench-") as tmp:
        mesh = Mesh(resources=spec.with_free_ports(spec.load()), var_dir=Path(tmp) / "var")
        mesh.start()
        try:
            started = time.perf_counter()
            response = httpx.post(
                f"{mesh.edge_url}/v1/kintell/imports",
                content=data,
                headers={"authorization": f"Bearer {mint(mesh.var_dir, 'bench')}", "content-type": "text/csv"},
                timeout=600,
            )
            edge_seconds = time.perf_counter() - started
        finally:
            mesh.stop()
    response.raise_for_status()
    batch = response.json()["batch"]
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(
        f"""# Kintell CSV import: {ROWS:,} rows ({len(data) / 1e6:.1f} MB)

| path | seconds | rows/s |
|---|---|---|
| POST /v1/kintell/imports via the edge (validate, store, outbox) | {edge_seconds:.2f} | {ROWS / edge_seconds:,.0f} |
| csv module alone (decode + read) | {baseline:.3f} | {ROWS / baseline:,.0f} |
| ratio edge / csv module | {edge_seconds / baseline:.1f}x | |

Batch: {batch["rows_stored"]} stored, {batch["rows_quarantined"]} quarantined.
"""
    )
    print(REPORT.read_text())


if __name__ == "__main__":
    main()
