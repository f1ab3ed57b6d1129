"""OpenAPI 3.1 from the contracts: read the descriptor set Envoy transcodes with and write one spec per
service, one merged spec, and an index (`make gen`). The schemas themselves: openapi_schema.py."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool

from services.cli.openapi_schema import DESCRIPTOR_SET, OUT_DIR, UUID_FIELDS, UUID_PATTERN, Builder, load_pool
from services.cli.spec import REPO_ROOT
from services.kit.grpc import unbuilt

# Callers (the edge renderer, contract tests) read the id fields and their pattern from here too.
__all__ = [
    "DESCRIPTOR_SET",
    "UUID_FIELDS",
    "UUID_PATTERN",
    "Builder",
    "generate",
    "load_pool",
    "rest_methods",
    "rest_paths",
]


def unbuilt_methods(services_dir: Path = REPO_ROOT / "services") -> frozenset[str]:
    """Full names of the RPCs whose behaviour is not built: a servicer method inherited from the generated
    base class or declared `NotBuilt` (both answer UNIMPLEMENTED), and every method of a service no servicer
    of a `*api.py` module under `services/` (sub-packages included) serves."""
    built: set[str] = set()
    for base, servicer in _servicers(services_dir):
        service = _service_of(base)
        for name in service.methods_by_name:
            method = getattr(servicer, name, None)
            if method is not getattr(base, name, None) and not unbuilt.is_not_built(method):
                built.add(f"{service.full_name}.{name}")
    pool, _ = load_pool()
    every = {m.full_name for s in teei_services(pool, _file_names(DESCRIPTOR_SET)) for m in s.methods}
    return frozenset(every - built)


def _servicers(services_dir: Path) -> list[tuple[type, type]]:
    """(generated base class, servicer class) of every servicer module under `services_dir`."""
    found: list[tuple[type, type]] = []
    for path in sorted(services_dir.rglob("*api.py")):
        dotted = ".".join(path.relative_to(services_dir).with_suffix("").parts)
        module = importlib.import_module(f"{services_dir.name}.{dotted}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            bases = [b for b in cls.__mro__[1:] if _is_generated_servicer(b)]
            if cls.__module__ == module.__name__ and bases:
                found.append((bases[0], cls))
    return found


def _is_generated_servicer(cls: type) -> bool:
    return cls.__module__.endswith("_pb2_grpc") and cls.__name__.endswith("Servicer")


def _service_of(base: type) -> descriptor.ServiceDescriptor:
    """The service a generated `<Service>Servicer` base class belongs to."""
    pb2 = importlib.import_module(base.__module__.removesuffix("_grpc"))
    service: descriptor.ServiceDescriptor = pb2.DESCRIPTOR.services_by_name[base.__name__.removesuffix("Servicer")]
    return service


def rest_methods(descriptor_set: Path = DESCRIPTOR_SET) -> dict[str, list[str]]:
    """Every REST path template bound in the contracts and its HTTP methods (upper case)."""
    paths = _every_binding(descriptor_set).paths
    return {path: sorted(verb.upper() for verb in item) for path, item in sorted(paths.items())}


def rest_paths(descriptor_set: Path = DESCRIPTOR_SET) -> list[str]:
    """Every REST path template bound in the contracts."""
    return sorted(_every_binding(descriptor_set).paths)


def _every_binding(descriptor_set: Path) -> Builder:
    pool, comments = load_pool(descriptor_set)
    builder = Builder(comments)
    for service in teei_services(pool, _file_names(descriptor_set)):
        builder.add_service(service)
    return builder


def _file_names(descriptor_set: Path) -> list[str]:
    return [f.name for f in descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes()).file]


def document(title: str, builder: Builder) -> dict[str, Any]:
    """An OpenAPI 3.1 document of what the builder collected."""
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "v1"},
        "servers": [{"url": "http://localhost:8080"}],
        "paths": dict(sorted(builder.paths.items())),
        "components": {"schemas": dict(sorted(builder.schemas.items()))},
    }


def teei_services(pool: descriptor_pool.DescriptorPool, files: Iterable[str]) -> list[descriptor.ServiceDescriptor]:
    """The teei.* services in the pool, by name."""
    services: list[descriptor.ServiceDescriptor] = []
    for name in files:
        proto = pool.FindFileByName(name)
        services.extend(s for s in proto.services_by_name.values() if s.full_name.startswith("teei."))
    return sorted(services, key=lambda s: s.full_name)


def generate(out_dir: Path = OUT_DIR, descriptor_set: Path = DESCRIPTOR_SET) -> list[Path]:
    """Writes one spec per service, the merged spec and index.md; returns the files written."""
    pool, comments = load_pool(descriptor_set)
    services = teei_services(pool, _file_names(descriptor_set))
    not_built = unbuilt_methods()
    out_dir.mkdir(parents=True, exist_ok=True)
    merged, written, rows = Builder(comments, not_built), [], []
    for service in services:
        single = Builder(comments, not_built)
        single.add_service(service)
        merged.add_service(service)
        short = service.full_name.split(".")[1]
        path = out_dir / f"{short}.openapi.yaml"
        path.write_text(yaml.safe_dump(document(f"teei {short} API", single), sort_keys=False, allow_unicode=True))
        written.append(path)
        operations = sum(len(item) for item in single.paths.values())
        rows.append(f"| {service.full_name} | [{path.name}]({path.name}) | {operations} |")
    merged_path = out_dir / "teei.openapi.yaml"
    merged_path.write_text(yaml.safe_dump(document("teei-mesh API", merged), sort_keys=False, allow_unicode=True))
    index = out_dir / "index.md"
    index.write_text(_index(rows, merged_path.name))
    return [*written, merged_path, index]


def _index(rows: list[str], merged: str) -> str:
    return "\n".join(
        [
            "# OpenAPI catalogue",
            "",
            "Generated from the contracts by `make gen`; do not edit. All public routes are under `/v1`.",
            f"The merged spec of every service is [{merged}]({merged}).",
            "",
            "| service | spec | operations |",
            "|---|---|---|",
            *rows,
            "",
        ]
    )


if __name__ == "__main__":
    for written_path in generate():
        print(written_path.relative_to(REPO_ROOT))
