"""The `teei` command."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from services.cli import (
    audit,
    backup,
    certs,
    chaos,
    dlq,
    keys,
    pii,
    privacy,
    prometheus,
    rolling,
    spec,
    traces,
    webhooks,
)
from services.cli.deploy import cli as deploy
from services.cli.launcher import LaunchError, Mesh
from services.cli.supervisor import Supervisor
from services.kit import logs
from services.kit.telemetry import metrics


def console() -> None:
    """The `teei` console script: commands print their results on stdout (e.g.
    `TOKEN=$(teei token mint ...)`), so the process's logs go to stderr."""
    logs.configure(service="teei-cli", level="warning", stream=logs.STDERR)
    main()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `teei` console script."""
    parser = argparse.ArgumentParser(prog="teei", description="teei-mesh operator tooling")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run the whole mesh locally until Ctrl-C / SIGTERM")
    up.add_argument("--spec", type=Path, default=spec.DEFAULT_SPEC, help="resource list (tilt.yaml)")
    up.add_argument("--var-dir", type=Path, default=spec.REPO_ROOT / "var", help="data and logs")
    up.add_argument("--free-ports", action="store_true", help="pick free loopback ports instead of the defaults")
    up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness")
    up.add_argument("--no-mtls", dest="mtls", action="store_false", help="plaintext between edge and services")
    up.add_argument("--metrics-port", type=int, default=9460, help="port of teei up's own metrics (restarts)")
    up.add_argument("--backup-every", type=backup.interval, default=None, help="scheduled backups, e.g. 1h")
    up.add_argument("--keep", type=int, default=24, help="scheduled backups kept (the newest)")
    dlq.register(commands)
    keys.register(commands)
    certs.register(commands)
    webhooks.register(commands)
    chaos.register(commands)
    deploy.register(commands)
    backup.register(commands)
    traces.register(commands)
    privacy.register(commands)
    audit.register(commands)
    pii.register(commands)
    rolling.register(commands)
    args = parser.parse_args(argv)
    if args.command != "up":
        raise SystemExit(args.run(args))
    schedule = (args.backup_every, args.keep) if args.backup_every else None
    if schedule and not backup.passphrase_set():
        parser.error("--backup-every needs TEEI_BACKUP_PASSPHRASE (at least 12 characters)")
    raise SystemExit(
        run_up(
            args.spec,
            args.var_dir.resolve(),
            free_ports=args.free_ports,
            timeout=args.timeout,
            mtls=args.mtls,
            metrics_port=args.metrics_port,
            backups=schedule,
        )
    )


def run_up(
    spec_path: Path,
    var_dir: Path,
    *,
    free_ports: bool,
    timeout: float,
    mtls: bool = True,
    metrics_port: int = 9460,
    backups: tuple[float, int] | None = None,
) -> int:
    """Starts the mesh, reports readiness, and stops it cleanly on SIGINT/SIGTERM."""
    resources = spec.load(spec_path)
    if free_ports:
        resources = spec.with_free_ports(resources)
        metrics_port = spec.free_port()
    mesh = Mesh(resources=resources, var_dir=var_dir, mtls=mtls, metrics_port=metrics_port)
    stop, roll = threading.Event(), threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        stop.set()

    def on_hangup(signum: int, _: FrameType | None) -> None:
        roll.set()  # a rolling restart (`teei roll`), run by the supervising loop

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_hangup)
    started = time.monotonic()
    try:
        mesh.start(timeout=timeout)
    except LaunchError as exc:
        print(f"teei up: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"teei up: mesh ready in {time.monotonic() - started:.1f}s", flush=True)
    print(f"teei up: edge {mesh.edge_url}  (logs in {var_dir / 'logs'})", flush=True)
    if backups is not None:
        nats_url = f"nats://127.0.0.1:{mesh.resource('nats').port}"
        backup.schedule(var_dir, every=backups[0], keep=backups[1], stop=stop, nats_url=nats_url)
    code = _supervise(mesh, stop, roll)
    mesh.stop()
    print("teei up: stopped", flush=True)
    return code


def _supervise(mesh: Mesh, stop: threading.Event, roll: threading.Event) -> int:
    """Restarts what exits, as tilt.yaml's restart policies say, and rolls the services on SIGHUP, until
    SIGINT/SIGTERM; then stops the mesh."""
    supervisor = Supervisor(mesh, report=lambda line: print(f"teei up: {line}", flush=True))
    supervisor.start()
    endpoint = None
    if mesh.metrics_port is not None:
        supervision = prometheus.registry(
            lambda: {name: (s.restarts, s.state == "running") for name, s in supervisor.statuses().items()}
        )
        try:
            endpoint = metrics.serve(mesh.metrics_port, registry=supervision)
        except OSError as exc:  # the mesh serves on; only its restart counts go unscraped
            print(f"teei up: metrics port {mesh.metrics_port} unavailable ({exc}); no launcher metrics", flush=True)
    while not stop.wait(0.5):
        if roll.is_set():
            roll.clear()
            supervisor.roll(rolling.requested(mesh.var_dir))
    if endpoint is not None:
        endpoint.close()
    supervisor.stop()
    return 0
