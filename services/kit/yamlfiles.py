"""YAML files the mesh reads as policy (trust policy, rate limits): bounded, safe, refusing duplicate keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class YamlFileError(ValueError):
    """A policy file cannot be read as one YAML document; the message names the file and why."""


class DuplicateKeys(YamlFileError):
    """A mapping repeats a key; YAML would silently keep the last one, so a policy could lose an entry."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys instead of keeping the last one."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [loader.construct_object(key) for key, _ in node.value]
    duplicates = sorted({str(k) for k in keys if keys.count(k) > 1})
    if duplicates:
        raise DuplicateKeys(f"duplicate keys: {', '.join(duplicates)}")
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def parse(raw: bytes | str) -> object:
    """The document in `raw`; yaml.YAMLError when it is not YAML, DuplicateKeys when a mapping repeats a key."""
    return yaml.load(raw, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def read(path: Path, *, max_bytes: int) -> object:
    """The document in the file at `path`, at most `max_bytes` long; YamlFileError naming the file otherwise."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlFileError(f"{path}: cannot read: {exc}") from exc
    if len(raw) > max_bytes:
        raise YamlFileError(f"{path}: larger than {max_bytes} bytes")
    try:
        return parse(raw)
    except yaml.YAMLError as exc:
        raise YamlFileError(f"{path}: not valid YAML: {exc}") from exc
    except DuplicateKeys as exc:
        raise DuplicateKeys(f"{path}: {exc}") from exc
