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
  a private loopback port: one scrape answers every worker's series, told apart by a `worker` label. The
  launcher picks those ports (`--worker-metrics-ports`) with every other port of the mesh: every listener
  here binds with SO_REUSEPORT, so a worker's metrics port picked in this process could be one the launcher
  has handed to a service not started yet, and the two would then silently share it.

A worker group of `python -m <package>` (how tilt.yaml runs every service) imports the package's __main__ once,
in the group process, and forks its first workers from there, before it starts a thread: they share what the
import built and skip its CPU time (a launch starts every service's workers side by side on few cores). A
worker restarted later is started afresh (its own interpreter), the group then running threads.

Work that must run once per service takes a lease in the service's database (kit/persistence/leases.py);
event consumers share their durable (JetStream hands each message to one of them); migrations are applied by
the first worker to take the service's migration lock (kit/persistence/db.py), the others find them done.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import importlib.util
import os
import runpy
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Protocol

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


class Process(Protocol):
    """A worker's process: a subprocess.Popen, or a `Forked` one."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def wait(self) -> int: ...

    def send_signal(self, sig: int) -> None: ...


@dataclass
class Forked:
    """A worker forked from the group (`WorkerGroup.preload`), with Popen's poll/wait/send_signal."""

    pid: int
    returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code (minus the signal's number when killed), None while it runs."""
        if self.returncode is None:
            self._reap(os.WNOHANG)
        return self.returncode

    def wait(self) -> int:
        """Waits for the exit; its code."""
        while self.returncode is None:
            self._reap(0)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """Sends `sig` unless the process has been reaped (its pid may be another's by then)."""
        if self.returncode is None:
            os.kill(self.pid, sig)

    def _reap(self, options: int) -> None:
        pid, status = os.waitpid(self.pid, options)
        if pid == self.pid:
            self.returncode = os.waitstatus_to_exitcode(status)


@dataclass
class Worker:
    """One slot of the group: its index, current process (None while waiting to restart) and history."""

    index: int
    ready_file: Path
    metrics_port: int | None
    process: Process | None = None
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
    # A metrics port per worker (when the group serves metrics, TEEI_METRICS_PORT); picked here when not given.
    metrics_ports: Sequence[int] = ()
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    run_dir: Path | None = None
    # The module `cmd` runs (`python -m <module>` with this interpreter): imported by `preload()`.
    module: str | None = None
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)
    clock: Callable[[], float] = time.monotonic
    workers: list[Worker] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _preloaded: bool = False

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ValueError(f"replicas must be at least 1, got {self.replicas}")
        if self.worker_ports and len(self.worker_ports) != self.replicas:
            raise ValueError(f"{len(self.worker_ports)} worker ports for {self.replicas} workers")
        if self.metrics_ports and len(self.metrics_ports) != self.replicas:
            raise ValueError(f"{len(self.metrics_ports)} worker metrics ports for {self.replicas} workers")
        if self.run_dir is None:
            var_dir = self.environ.get("TEEI_VAR_DIR")
            self.run_dir = Path(var_dir) / "run" if var_dir else Path(tempfile.gettempdir())
        token = uuid.uuid4().hex[:12]
        metrics_ports: Sequence[int] = ()
        if self.environ.get("TEEI_METRICS_PORT") is not None:
            metrics_ports = self.metrics_ports or [spec.free_port() for _ in range(self.replicas)]
        self.workers = [
            Worker(
                index=i,
                ready_file=self.run_dir / f"{self.name}.{token}.worker{i}.ready",
                metrics_port=metrics_ports[i] if metrics_ports else None,
            )
            for i in range(self.replicas)
        ]

    def preload(self) -> bool:
        """Imports a package `module`'s __main__ (whose body, but for imports, runs only as `__main__`), for
        workers forked from here to share what it imports; False, and workers started afresh, when `module`
        is no package (a plain module's body would run twice) or does not import."""
        if self.module is None:
            return False
        try:
            found = importlib.util.find_spec(self.module)
            if found is None or not found.submodule_search_locations:
                return False
            importlib.import_module(f"{self.module}.__main__")
        except Exception as exc:  # the workers then import it themselves, and report what fails
            self.say(f"{self.name}: not preloaded ({exc!r}); workers start afresh")
            return False
        self._preloaded = True
        return True

    def start(self) -> None:
        """Starts every worker not started yet (forked when preloaded and no thread runs yet)."""
        assert self.run_dir is not None
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for worker in self.workers:
            if worker.process is None and worker.restart_at is None:
                self._spawn(worker)

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
        group_ready = self.environ.get("TEEI_READY_FILE")
        announced = False
        self.start()
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
        process: Process
        if self._preloaded and self.module is not None and threading.active_count() == 1:
            process = _fork(self.module, env)
        else:
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


def _fork(module: str, env: Mapping[str, str]) -> Forked:
    """Forks a worker that runs `module` as `python -m` would, in environment `env`; the child never returns."""
    group = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return Forked(pid)
    code = 1
    try:
        _die_with_parent()
        if os.getppid() != group:  # the group died before the line above
            os._exit(1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.environ.clear()
        os.environ.update(env)
        # Its imports stay loaded; its own body runs again, as `__main__`.
        sys.modules.pop(f"{module}.__main__", None)
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _exit_code(code: object) -> int:
    """The process exit code `sys.exit(code)` gives (a message is printed, exit code 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def module_of(cmd: Sequence[str]) -> str | None:
    """The module of a `<this interpreter> -m <module>` command, else None."""
    if len(cmd) != 3 or cmd[1] != "-m":
        return None
    try:
        same = os.path.samefile(cmd[0], sys.executable)
    except OSError:
        return None
    return cmd[2] if same else None


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


def command(
    replicas: int,
    cmd: Sequence[str],
    *,
    name: str,
    worker_ports: Sequence[int] = (),
    metrics_ports: Sequence[int] = (),
) -> list[str]:
    """The command that runs `cmd` as a group of `replicas` workers (each also on its `worker_ports` one, and
    serving its metrics on its `metrics_ports` one)."""
    ports = ["--worker-ports", ",".join(map(str, worker_ports))] if worker_ports else []
    if metrics_ports:
        ports += ["--worker-metrics-ports", ",".join(map(str, metrics_ports))]
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


def _ports(parser: argparse.ArgumentParser, flag: str, value: str, replicas: int) -> list[int]:
    """The port numbers of comma-separated `value`: none, or one per worker (else the parser's usage error)."""
    try:
        ports = [int(port) for port in value.split(",") if port.strip()]
    except ValueError:
        parser.error(f"{flag}: expected comma-separated port numbers, not {value!r}")
    if ports and len(ports) != replicas:
        parser.error(f"{flag}: {len(ports)} ports for {replicas} workers")
    return ports


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m services.cli.workers --replicas N [--name NAME] -- <cmd>`."""
    parser = argparse.ArgumentParser(prog="services.cli.workers", description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, required=True, help="worker processes (at least 1)")
    parser.add_argument("--name", default="service", help="the service's name, in messages and file names")
    parser.add_argument("--worker-ports", default="", help="comma-separated: each worker's own port, in order")
    parser.add_argument(
        "--worker-metrics-ports", default="", help="comma-separated: each worker's metrics port, in order"
    )
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the command each worker runs")
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no command: give it after --")
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    ports = _ports(parser, "--worker-ports", args.worker_ports, args.replicas)
    metrics_ports = _ports(parser, "--worker-metrics-ports", args.worker_metrics_ports, args.replicas)
    logs.configure(service=f"{args.name}-workers", level=os.environ.get("TEEI_LOG_LEVEL", "info"))
    group = WorkerGroup(
        cmd=cmd,
        replicas=args.replicas,
        name=args.name,
        worker_ports=ports,
        metrics_ports=metrics_ports,
        module=module_of(cmd),
    )

    def on_signal(signum: int, _: FrameType | None) -> None:
        group.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # The workers are forked before the metrics endpoint's thread starts.
    group.preload()
    group.start()
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
