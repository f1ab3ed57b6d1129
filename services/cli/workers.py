"""A worker group: N processes of one service's command behind its one port
(`python -m services.cli.workers --replicas N -- <cmd>`), as `teei up` runs a gRPC service whose replica
count (tilt.yaml `replicas`, TEEI_REPLICAS) is above one.

Every worker binds the service's port itself: grpc.aio listens with SO_REUSEPORT, so the kernel spreads the
port's new connections over the workers (the way a rolling restart's successor shares the port with its
predecessor, services/cli/rolling.py); that serves callers inside the mesh, each with its connections. The
edge holds few connections per service (HTTP/2, one per Envoy thread), which the kernel may well hand to
one worker: with `--worker-ports`, each worker also listens on a port of its own (TEEI_GRPC_WORKER_PORT),
and the edge balances requests over those (round robin) and checks each worker's health there. The group

- is ready once every worker is: each is given a ready file of its own (TEEI_READY_FILE, written by
  kit/grpc/server.py once it serves), and the group writes its own TEEI_READY_FILE, when it was given one, once
  all exist;
- restarts a worker that exits, after a back-off doubling from 0.5 s to 10 s per exit in a row (reset once a
  worker has served for a minute), while the others keep serving;
- forwards SIGTERM/SIGINT to every worker, waits for their graceful drains, and exits when they are gone (0
  when every worker exited cleanly); a worker outlives no group: it gets SIGKILL when the group dies;
- serves the workers' Prometheus metrics at the service's TEEI_METRICS_PORT, each worker serving its own on
  a private loopback port: one scrape answers every worker's series, told apart by a `worker` label.

Work that must run once per service takes a lease in the service's database (kit/persistence/leases.py);
event consumers share their durable (JetStream hands each message to one of them); migrations are applied by
the first worker to take the service's migration lock (kit/persistence/db.py), the others find them done.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from services.cli import spec
from services.kit import backoff, logs
from services.kit.telemetry import metrics

# Polling interval of the group's loop: how soon a worker's exit or readiness is seen.
POLL_SECONDS = 0.05
RESTART_BASE_SECONDS, RESTART_CAP_SECONDS = 0.5, 10.0
# A worker that served this long counts as settled: its next exit is restarted after the first back-off.
SETTLED_SECONDS = 60.0
WORKER_VARIABLE = "TEEI_WORKER"
_PR_SET_PDEATHSIG = 1


@dataclass
class Worker:
    """One slot of the group: its index, current process (None while waiting to restart) and history."""

    index: int
    ready_file: Path
    metrics_port: int | None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    exits_in_a_row: int = 0
    restart_at: float | None = None
    restarts: int = 0


@dataclass
class WorkerGroup:
    """Runs `cmd` `replicas` times; `run()` returns the exit code once every worker is gone."""

    cmd: Sequence[str]
    replicas: int
    name: str = "service"
    # A port per worker besides the shared one (TEEI_GRPC_WORKER_PORT): the edge balances over them.
    worker_ports: Sequence[int] = ()
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    run_dir: Path | None = None
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)
    clock: Callable[[], float] = time.monotonic
    workers: list[Worker] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ValueError(f"replicas must be at least 1, got {self.replicas}")
        if self.worker_ports and len(self.worker_ports) != self.replicas:
            raise ValueError(f"{len(self.worker_ports)} worker ports for {self.replicas} workers")
        if self.run_dir is None:
            var_dir = self.environ.get("TEEI_VAR_DIR")
            self.run_dir = Path(var_dir) / "run" if var_dir else Path(tempfile.gettempdir())
        token = uuid.uuid4().hex[:12]
        group_metrics = self.environ.get("TEEI_METRICS_PORT")
        self.workers = [
            Worker(
                index=i,
                ready_file=self.run_dir / f"{self.name}.{token}.worker{i}.ready",
                metrics_port=None if group_metrics is None else spec.free_port(),
            )
            for i in range(self.replicas)
        ]

    def stop(self) -> None:
        """Asks the group to stop: every worker gets SIGTERM and is waited for (safe from a signal handler)."""
        self._stop.set()

    def pids(self) -> list[int | None]:
        """The workers' current process ids (None for one waiting to be restarted)."""
        with self._lock:
            return [None if w.process is None else w.process.pid for w in self.workers]

    def metrics_targets(self) -> list[tuple[str, str]]:
        """(worker label, metrics URL) of every worker that serves metrics."""
        return [
            (str(w.index), f"http://127.0.0.1:{w.metrics_port}/metrics")
            for w in self.workers
            if w.metrics_port is not None
        ]

    def run(self) -> int:
        """Starts every worker, writes the group's ready file once all serve, restarts what exits; on stop,
        drains them all. The exit code: 0 when every worker exited cleanly at the end, else 1."""
        assert self.run_dir is not None
        self.run_dir.mkdir(parents=True, exist_ok=True)
        group_ready = self.environ.get("TEEI_READY_FILE")
        announced = False
        for worker in self.workers:
            self._spawn(worker)
        try:
            while not self._stop.is_set():
                now = self.clock()
                for worker in self.workers:
                    self._tend(worker, now)
                if not announced and all(w.ready_file.exists() for w in self.workers):
                    announced = True
                    if group_ready:
                        _write_ready_file(Path(group_ready))
                    self.say(f"{self.name}: all {self.replicas} workers serving (pids {self.pids()})")
                self._stop.wait(POLL_SECONDS)  # polling interval of the group's loop, not synchronisation
            return self._drain()
        finally:
            for worker in self.workers:
                worker.ready_file.unlink(missing_ok=True)
            if group_ready:
                Path(group_ready).unlink(missing_ok=True)

    def _tend(self, worker: Worker, now: float) -> None:
        """Notices a worker's exit (scheduling its restart) and restarts it once its back-off has passed."""
        process = worker.process
        if process is not None:
            code = process.poll()
            if code is None:
                return
            with self._lock:
                worker.process = None
            worker.ready_file.unlink(missing_ok=True)
            settled = now - worker.started_at >= SETTLED_SECONDS
            worker.exits_in_a_row = 1 if settled else worker.exits_in_a_row + 1
            wait = backoff.delay(worker.exits_in_a_row, base=RESTART_BASE_SECONDS, cap=RESTART_CAP_SECONDS, floor=0.5)
            worker.restart_at = now + wait
            self.say(
                f"{self.name}: worker {worker.index} (pid {process.pid}) exited with {code}; restart in {wait:.2f}s"
            )
        if worker.restart_at is not None and now >= worker.restart_at:
            worker.restart_at = None
            worker.restarts += 1
            self._spawn(worker)
            self.say(f"{self.name}: worker {worker.index} started again (pid {self.pids()[worker.index]})")

    def _spawn(self, worker: Worker) -> None:
        env = {**self.environ, WORKER_VARIABLE: str(worker.index), "TEEI_READY_FILE": str(worker.ready_file)}
        if worker.metrics_port is not None:
            env["TEEI_METRICS_PORT"] = str(worker.metrics_port)
        if self.worker_ports:
            env["TEEI_GRPC_WORKER_PORT"] = str(self.worker_ports[worker.index])
        worker.ready_file.unlink(missing_ok=True)
        process = subprocess.Popen(list(self.cmd), env=env, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)  # noqa: PLW1509 - no threads of gRPC here; the hook only calls prctl
        with self._lock:
            worker.process, worker.started_at = process, self.clock()

    def _drain(self) -> int:
        """SIGTERM to every worker, then waits for each: their graceful shutdowns run side by side."""
        with self._lock:
            running = [w.process for w in self.workers if w.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = [process.wait() for process in running]
        self.say(f"{self.name}: workers stopped (exit codes {codes})")
        return 0 if all(code == 0 for code in codes) else 1


def _die_with_parent() -> None:
    """In the worker, before exec: the kernel sends it SIGKILL when the group's process dies (a group killed
    by SIGKILL leaves no worker holding the port)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _write_ready_file(path: Path) -> None:
    """Writes the group's process id to `path` in one step (a reader never sees it half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(str(os.getpid()))
    partial.replace(path)


def command(replicas: int, cmd: Sequence[str], *, name: str, worker_ports: Sequence[int] = ()) -> list[str]:
    """The command that runs `cmd` as a group of `replicas` workers (each also on its `worker_ports` one)."""
    ports = ["--worker-ports", ",".join(map(str, worker_ports))] if worker_ports else []
    return [
        sys.executable,
        "-m",
        "services.cli.workers",
        "--replicas",
        str(replicas),
        "--name",
        name,
        *ports,
        "--",
        *cmd,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m services.cli.workers --replicas N [--name NAME] -- <cmd>`."""
    parser = argparse.ArgumentParser(prog="services.cli.workers", description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, required=True, help="worker processes (at least 1)")
    parser.add_argument("--name", default="service", help="the service's name, in messages and file names")
    parser.add_argument("--worker-ports", default="", help="comma-separated: each worker's own port, in order")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the command each worker runs")
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no command: give it after --")
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    try:
        ports = [int(port) for port in args.worker_ports.split(",") if port.strip()]
    except ValueError:
        parser.error(f"--worker-ports: expected comma-separated port numbers, not {args.worker_ports!r}")
    if ports and len(ports) != args.replicas:
        parser.error(f"--worker-ports: {len(ports)} ports for {args.replicas} workers")
    logs.configure(service=f"{args.name}-workers", level=os.environ.get("TEEI_LOG_LEVEL", "info"))
    group = WorkerGroup(cmd=cmd, replicas=args.replicas, name=args.name, worker_ports=ports)

    def on_signal(signum: int, _: FrameType | None) -> None:
        group.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    endpoint = None
    port = os.environ.get("TEEI_METRICS_PORT")
    if port is not None:
        registry = metrics.federated_registry(group.metrics_targets)
        host = os.environ.get("TEEI_METRICS_HOST", "127.0.0.1")
        endpoint = metrics.serve(int(port), host=host, registry=registry)
    try:
        return group.run()
    finally:
        if endpoint is not None:
            endpoint.close()


if __name__ == "__main__":
    raise SystemExit(main())
