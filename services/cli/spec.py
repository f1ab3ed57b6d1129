"""The declarative list of local resources (tilt.yaml): validated by pydantic models (unknown keys refused,
errors naming the resource and key), then turned into typed records in start order. Each resource carries
its restart policy, as Kubernetes spells it (`restart_policy`, back-off, crash-loop limit)."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from services.kit import yamlfiles

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = REPO_ROOT / "tilt.yaml"


class SpecError(Exception):
    """tilt.yaml is malformed."""


PolicyName = Literal["Always", "OnFailure", "Never"]


class RestartBackoff(BaseModel):
    """Wait before restarting an exited process: doubles from `base_seconds` up to `cap_seconds`, with jitter.

    Kubernetes' kubelet waits 10 s doubling to 300 s; a local mesh restarts sooner, so that one crash
    is back within the readiness budget (15 s) even after a few exits in a row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_seconds: Annotated[float, Field(gt=0, le=300)] = 0.5
    cap_seconds: Annotated[float, Field(gt=0, le=3600)] = 10.0

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> RestartBackoff:
        if self.cap_seconds < self.base_seconds:
            raise PydanticCustomError("backoff_cap", "cap_seconds must not be below base_seconds")
        return self


class CrashLoop(BaseModel):
    """A process that exits `exits` times within `window_seconds` stays down (Kubernetes' CrashLoopBackOff,
    except that it is not retried later: the mesh reports it and an operator restarts it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exits: Annotated[int, Field(ge=1, le=1000)] = 5
    window_seconds: Annotated[float, Field(gt=0, le=86400)] = 60.0


class RestartPolicy(BaseModel):
    """When an exited process is started again (Kubernetes' `restartPolicy`): `Always` after any exit,
    `OnFailure` after a non-zero exit code or a signal, `Never` not at all."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: PolicyName = "Always"
    backoff: RestartBackoff = RestartBackoff()
    crash_loop: CrashLoop = CrashLoop()


class LivenessProbe(BaseModel):
    """Kills a process that stops answering its health check (Kubernetes' `livenessProbe`): the check of
    `health` runs every `period_seconds`, each given `timeout_seconds`; after `failure_threshold` failures in
    a row the process gets SIGKILL and its restart policy brings it back. Probing starts only once the
    process has been healthy, so a slow start never counts; the defaults act within ~15 s of a hang."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period_seconds: Annotated[float, Field(ge=0.1, le=3600)] = 5.0
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    failure_threshold: Annotated[int, Field(ge=1, le=100)] = 3


@dataclass(frozen=True)
class Resource:
    """One process of the mesh."""

    name: str
    kind: str
    port: int
    cmd: tuple[str, ...]
    health: dict[str, str]
    deps: tuple[str, ...] = ()
    grpc_services: tuple[str, ...] = ()
    extra_ports: dict[str, int] = field(default_factory=dict)
    # Extra environment, formatted like `cmd`; `{ports[name]}` is another resource's port.
    env: dict[str, str] = field(default_factory=dict)
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    liveness: LivenessProbe = field(default_factory=LivenessProbe)
    # Worker processes serving a gRPC service on its one port; None: one per core (`replica_count`).
    replicas: int | None = None

    def ports(self) -> dict[str, int]:
        """Every port of the resource by its placeholder name."""
        return {"port": self.port, **self.extra_ports}


# Overrides every service's `replicas` (e.g. `TEEI_REPLICAS=1` for one process per service).
REPLICAS_VARIABLE = "TEEI_REPLICAS"


def replica_count(resource: Resource, environ: Mapping[str, str] | None = None) -> int:
    """How many worker processes serve `resource`: one for anything but a gRPC service; else TEEI_REPLICAS
    when set, its `replicas` when given, else the number of cores. SpecError for a TEEI_REPLICAS that is not
    a whole number of at least 1."""
    if resource.kind != "grpc":
        return 1
    forced = (os.environ if environ is None else environ).get(REPLICAS_VARIABLE, "").strip()
    if forced:
        if not forced.isdigit() or int(forced) < 1:
            raise SpecError(f"{REPLICAS_VARIABLE}={forced!r}: expected a whole number of at least 1")
        return int(forced)
    return resource.replicas or os.cpu_count() or 1


def load(path: Path = DEFAULT_SPEC) -> tuple[Resource, ...]:
    """Resources in start order (dependencies first); SpecError names the file and the entry that is wrong."""
    try:
        raw = yamlfiles.read(path, max_bytes=_MAX_SPEC_BYTES)
    except yamlfiles.YamlFileError as exc:
        raise SpecError(str(exc)) from exc
    try:
        document = SpecDocument.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(f"{path}: " + "; ".join(_describe(error, raw) for error in exc.errors())) from None
    return _in_dependency_order([entry.resource() for entry in document.resources])


# --- tilt.yaml as written ---------------------------------------------------------------------------

_MAX_SPEC_BYTES = 256 * 1024
MAX_REPLICAS = 64
Text = Annotated[str, StringConstraints(min_length=1)]


class ResourceEntry(BaseModel):
    """One entry of `resources`; any `<name>_port` key is an extra port, `{<name>_port}` in `cmd`.
    `restart_policy`, `restart_backoff` and `crash_loop` default to `Always`, 0.5 s to 10 s, 5 exits in 60 s;
    `liveness` to a check every 5 s, killing after 3 failures in a row; `replicas` (gRPC services only) to one
    worker process per core."""

    # Numbers in `cmd` or `env` are written as they read (`-p, 4322`), as the launcher formats them.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    name: Text
    kind: Text
    port: Annotated[int, Field(ge=0, le=65535)]
    cmd: Annotated[tuple[str, ...], Field(min_length=1)]
    health: dict[Literal["grpc", "http"], str]
    deps: tuple[Text, ...] = ()
    grpc_services: tuple[Text, ...] = ()
    extra_ports: dict[str, Annotated[int, Field(ge=0, le=65535)]] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    restart_policy: PolicyName = "Always"
    restart_backoff: RestartBackoff = RestartBackoff()
    crash_loop: CrashLoop = CrashLoop()
    liveness: LivenessProbe = LivenessProbe()
    replicas: Annotated[int, Field(ge=1, le=MAX_REPLICAS, strict=True)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _gather_extra_ports(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        ports = {key: port for key, port in value.items() if isinstance(key, str) and key.endswith("_port")}
        return {key: v for key, v in value.items() if key not in ports} | {"extra_ports": ports}

    @model_validator(mode="after")
    def _replicas_of_services_only(self) -> ResourceEntry:
        if self.replicas is not None and self.kind != "grpc":
            raise PydanticCustomError("replicas_kind", "only a gRPC service (kind: grpc) runs several replicas")
        return self

    def resource(self) -> Resource:
        """The typed record the launcher runs."""
        restart = RestartPolicy(policy=self.restart_policy, backoff=self.restart_backoff, crash_loop=self.crash_loop)
        fields = self.model_dump(exclude={"restart_policy", "restart_backoff", "crash_loop", "liveness"})
        return Resource(**fields, restart=restart, liveness=self.liveness)


class SpecDocument(BaseModel):
    """The whole file: `version: 1` (optional) and the list of resources, each named once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    resources: list[ResourceEntry]

    @field_validator("resources")
    @classmethod
    def _names_are_unique(cls, resources: list[ResourceEntry]) -> list[ResourceEntry]:
        names = [entry.name for entry in resources]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise PydanticCustomError("duplicate_resource", f"names used more than once: {', '.join(repeated)}")
        return resources


def _describe(error: ErrorDetails, raw: object) -> str:
    """One validation error naming the resource (by its name when it has one) and the key."""
    loc = error["loc"]
    if not loc:
        return f"expected a mapping with a 'resources' list ({error['msg']})"
    if loc[0] != "resources" or len(loc) < 2:
        return f"{'.'.join(map(str, loc))}: {error['msg']}"
    key = ".".join(str(part) for part in loc[2:] if part != "[key]") or "entry"
    return f"resource {_name_of(raw, loc[1])}: {key}: {error['msg']}"


def _name_of(raw: object, index: int | str) -> str:
    items = raw.get("resources") if isinstance(raw, dict) else None
    item = items[index] if isinstance(items, list) and isinstance(index, int) else None
    name = item.get("name") if isinstance(item, dict) else None
    return str(name) if name else f"#{index}"


def _in_dependency_order(resources: list[Resource]) -> tuple[Resource, ...]:
    by_name = {r.name: r for r in resources}
    ordered: list[Resource] = []
    visiting: set[str] = set()

    def visit(resource: Resource) -> None:
        if resource in ordered:
            return
        if resource.name in visiting:
            raise SpecError(f"dependency cycle at {resource.name}")
        visiting.add(resource.name)
        for dep in resource.deps:
            if dep not in by_name:
                raise SpecError(f"{resource.name} depends on unknown resource {dep}")
            visit(by_name[dep])
        ordered.append(resource)

    for resource in resources:
        visit(resource)
    return tuple(ordered)


def missing_programs(resources: tuple[Resource, ...], *, bin_dir: Path) -> list[str]:
    """The `{bin}/…` programs of `resources` not installed in `bin_dir` (Envoy and NATS come with the `mesh` extra)."""
    programs = {r.cmd[0].format(bin=bin_dir) for r in resources if r.cmd[0].startswith("{bin}/")}
    return sorted(program for program in programs if not Path(program).exists())


def free_port() -> int:
    """A currently free loopback TCP port, below the kernel's ephemeral range and not handed out before.

    A port the kernel picks (bind to 0) lies in the ephemeral range, where any outgoing connection may take
    it as its local port before the mesh binds it again on a restart; ports below that range are only ever
    taken by a listener that asks for them.
    """
    low, high = _PORT_FLOOR, _ephemeral_low() - 1
    for _ in range(1000):
        port = _ports.randrange(low, high)
        if port not in _issued and _bindable(port):
            _issued.add(port)
            return port
    raise RuntimeError(f"no free loopback port in {low}-{high}")


# Above the well-known and registered ports the machine's own servers use (PostgreSQL, Redis, NATS).
_PORT_FLOOR = 20000
_issued: set[int] = set()
_ports = random.Random()  # noqa: S311 - spreads test ports apart, not a secret


def _ephemeral_low() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return max(low, _PORT_FLOOR + 1000)


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def with_free_ports(resources: tuple[Resource, ...]) -> tuple[Resource, ...]:
    """The same resources on free loopback ports."""
    return tuple(replace(r, port=free_port(), extra_ports={k: free_port() for k in r.extra_ports}) for r in resources)


SHARED_DATABASE = "postgres"


def with_databases(resources: tuple[Resource, ...], urls: dict[str, str]) -> tuple[Resource, ...]:
    """The same resources with each service given `urls[<its name>]` (else the shared `urls["postgres"]`) as
    its DATABASE_URL; services without one keep their SQLite file under the var folder."""
    return tuple(
        replace(r, env={**r.env, "DATABASE_URL": url.replace("{", "{{").replace("}", "}}")})  # env is formatted
        if r.kind == "grpc" and (url := urls.get(r.name) or urls.get(SHARED_DATABASE))
        else r
        for r in resources
    )


def service_names(resources: tuple[Resource, ...]) -> list[str]:
    """The services that keep a database of their own (the `grpc` resources)."""
    return [r.name for r in resources if r.kind == "grpc"]
