"""YAML files the mesh reads as policy (trust policy, rate limits): safe, and refusing duplicate keys."""

from __future__ import annotations

from typing import Any

import yaml


class DuplicateKeys(ValueError):
    """A mapping repeats a key; YAML would silently keep the last one, so a policy could lose a grant."""


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
