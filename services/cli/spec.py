"""The declarative list of local resources (tilt.yaml), parsed into typed records."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = REPO_ROOT / "tilt.yaml"


class SpecError(Exception):
    """tilt.yaml is malformed."""


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

    def ports(self) -> dict[str, int]:
        """Every port of the resource by its placeholder name."""
        return {"port": self.port, **self.extra_ports}


def load(path: Path = DEFAULT_SPEC) -> tuple[Resource, ...]:
    """Resources in start order (dependencies first)."""
    document = yaml.safe_load(path.read_text())
    if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
        raise SpecError(f"{path}: expected a mapping with a 'resources' list")
    resources = [_resource(item) for item in document["resources"]]
    return _in_dependency_order(resources)


def _resource(item: dict[str, Any]) -> Resource:
    try:
        extra = {key: int(value) for key, value in item.items() if key.endswith("_port")}
        return Resource(
            name=str(item["name"]),
            kind=str(item["kind"]),
            port=int(item["port"]),
            cmd=tuple(str(part) for part in item["cmd"]),
            health={str(k): str(v) for k, v in item["health"].items()},
            deps=tuple(item.get("deps", ())),
            grpc_services=tuple(item.get("grpc_services", ())),
            extra_ports=extra,
            env={str(k): str(v) for k, v in item.get("env", {}).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SpecError(f"resource {item.get('name', '?')}: {exc!r}") from exc


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
    """A currently free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def with_free_ports(resources: tuple[Resource, ...]) -> tuple[Resource, ...]:
    """The same resources on free loopback ports."""
    return tuple(replace(r, port=free_port(), extra_ports={k: free_port() for k in r.extra_ports}) for r in resources)
