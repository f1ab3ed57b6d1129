"""Benchmark: where the edge counts its rate limits. One mesh (SQLite), and beside its edge one more
edge per layout, all on the mesh's services, JWKS and rate-limit service, from one limits file:

- `global`: every descriptor (tenant, client, address) asked of the rate-limit service (the old layout);
- `local+tenant global`: clients and addresses in Envoy's own buckets, the tenant quota in the service
  (the Kubernetes layout and the `teei up` default);
- `all local`: the tenant quota in a local bucket too, no call at all (TEEI_EDGE_TENANT_LIMIT=local).

k6 runs GET /v1/profiles/{id} through each edge in turn (`--target profile`: to the mesh's profile
service, the `profile_get_edge` path; `--target trivial`: to the trivial servicer, the `trivial_edge`
path), for several rounds (the machine is shared:
compare ratios of one run, not absolute figures), and the CPU seconds of the rate-limit process and of
the measured edge are read from /proc around each run. The limits file sets every limit far above what
the run reaches: every request is counted, none refused. Prints a Markdown table.

    .venv/bin/python -m tests.load.ratelimit_bench [--target profile|trivial] [--duration 5s] [--vus 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from services.cli import edge, edge_ratelimit, spec
from services.cli.launcher import DESCRIPTOR_SET, Mesh
from tests.e2e.conftest import mint
from tests.load import ceilings
from tests.load.k6run import run

LAYOUTS = ("global", "local+tenant global", "all local")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (/proc/<pid>/stat, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def layout_settings(
    mesh: Mesh, layout: str, limits: Path, ports: tuple[int, int], trivial_port: int | None
) -> edge.EdgeSettings:
    """An edge like the mesh's own (mTLS to the services, JWKS from the mesh edge) with `layout`'s limits;
    with `trivial_port`, in front of the trivial servicer alone (the Python floor) instead."""
    main_edge, limiter = mesh.resource("edge"), mesh.resource("ratelimit")
    tls = None if mesh.mtls_dir is None else edge.UpstreamTls.of(mesh.mtls_dir, "edge")
    upstreams = tuple(
        edge.Upstream(name=r.name, grpc_services=r.grpc_services, host="127.0.0.1", port=r.port)
        for r in mesh.resources
        if r.kind == "grpc"
    )
    if trivial_port is not None:
        upstreams = (
            edge.Upstream(
                name="profile", grpc_services=(ceilings.PROFILE_SERVICE,), host="127.0.0.1", port=trivial_port
            ),
        )
    if layout == "global":
        local, global_keys = None, edge.RATELIMIT_KEYS
    else:
        local, global_keys = edge_ratelimit.from_file(limits, "local" if layout == "all local" else "global")
    ratelimit = (
        edge.RateLimitSettings(host="127.0.0.1", port=limiter.port, tls=tls, keys=global_keys) if global_keys else None
    )
    return edge.EdgeSettings(
        listen_port=ports[0],
        admin_port=ports[1],
        descriptor_path=DESCRIPTOR_SET,
        upstreams=upstreams,
        transcoded_services=(ceilings.PROFILE_SERVICE,) if trivial_port is not None else None,
        health_interval_ms=mesh.health_interval_ms,
        upstream_tls=tls,
        jwt=edge.JwtSettings(jwks_host="127.0.0.1", jwks_port=main_edge.port),
        ratelimit=ratelimit,
        local_ratelimit=local,
    )


@dataclass
class Measured:
    rps: list[float]
    limiter_cpu_per_1k: list[float]
    edge_cpu_per_1k: list[float]
    errors: int = 0


@contextmanager
def layout_edge(
    mesh: Mesh, layout: str, limits: Path, work: Path, *, token: str, path: str, trivial_port: int | None
) -> Iterator[tuple[str, int]]:
    """The edge of `layout`, answering; yields its base URL and its pid."""
    port, admin_port = spec.free_port(), spec.free_port()
    name = layout.replace(" ", "_").replace("+", "_")
    settings = layout_settings(mesh, layout, limits, (port, admin_port), trivial_port)
    config = edge.write_envoy_config(settings, work / f"{name}.yaml")
    argv = [str(ceilings.ENVOY), "-c", str(config), "--base-id", str(admin_port), "--log-level", "warn"]
    with ceilings._process(argv, work / f"{name}.log") as process:
        url = f"http://127.0.0.1:{port}"
        ceilings._wait_for(f"{url}{path}", headers={"authorization": f"Bearer {token}"})
        yield url, process.pid


def measure(duration: str, vus: int, rounds: int, work: Path, target: str) -> dict[str, Measured]:
    limits = ceilings.unreached_limits(work / "limits.yaml")
    environ = {**os.environ, "TEEI_RATELIMIT_CONFIG": str(limits)}
    mesh = Mesh(resources=spec.with_free_ports(spec.load()), var_dir=work / "var", environ=environ)
    mesh.start()
    results = {layout: Measured([], [], []) for layout in LAYOUTS}
    stack = ExitStack()
    try:
        trivial_port = None
        if target == "trivial":
            trivial_port = spec.free_port()
            argv = [sys.executable, "-m", "tests.load.trivial_servicer", str(trivial_port), str(mesh.mtls_dir)]
            stack.enter_context(ceilings._process(argv, work / "trivial.log"))
        token = mint(mesh.var_dir, "bench", subject="bench")
        headers = {"authorization": f"Bearer {token}"}
        created = httpx.post(f"{mesh.edge_url}/v1/profiles", json={"email": "bench@example.org"}, headers=headers)
        path = f"/v1/profiles/{created.json()['profile']['profile_id']}"
        limiter_pid = mesh.running["ratelimit"].process.pid
        for round_ in range(rounds):
            for layout in LAYOUTS:
                edge_of_layout = layout_edge(
                    mesh, layout, limits, work, token=token, path=path, trivial_port=trivial_port
                )
                with edge_of_layout as (url, edge_pid):
                    limiter0, edge0 = cpu_seconds(limiter_pid), cpu_seconds(edge_pid)
                    env = {"TOKEN": token, "DURATION": duration, "URL": f"{url}{path}", "RUN": f"rl-{round_}"}
                    result = run("http.js", env, vus=vus, summary=work / "summary.json")
                    limiter1, edge1 = cpu_seconds(limiter_pid), cpu_seconds(edge_pid)
                requests = result.rps * float(duration.rstrip("s"))
                measured = results[layout]
                measured.rps.append(result.rps)
                measured.limiter_cpu_per_1k.append((limiter1 - limiter0) / requests * 1000)
                measured.edge_cpu_per_1k.append((edge1 - edge0) / requests * 1000)
                measured.errors += result.errors
    finally:
        stack.close()
        mesh.stop()
    return results


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="5s")
    parser.add_argument("--vus", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--target", choices=("profile", "trivial"), default="profile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="teei-rl-bench-") as tmp:
        results = measure(args.duration, args.vus, args.rounds, Path(tmp), args.target)
    base = results["global"]
    print("| layout | requests/s | ratio to global | rate-limit CPU s / 1k req | edge CPU s / 1k req | failed |")
    print("|---|---|---|---|---|---|")
    for layout, m in results.items():
        print(
            f"| {layout} | {_mean(m.rps):.0f} | {_mean(m.rps) / _mean(base.rps):.2f} |"
            f" {_mean(m.limiter_cpu_per_1k):.3f} | {_mean(m.edge_cpu_per_1k):.3f} | {m.errors} |"
        )


if __name__ == "__main__":
    main()
