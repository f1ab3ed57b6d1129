"""Policy YAML: safe loading that refuses a repeated key instead of keeping the last one."""

from __future__ import annotations

import pytest
import yaml

from services.kit import yamlfiles


def test_a_repeated_key_at_any_depth_is_refused_naming_it() -> None:
    with pytest.raises(yamlfiles.DuplicateKeys, match="duplicate keys: edge"):
        yamlfiles.parse("services:\n  profile:\n    edge: a\n    edge: b\n")


def test_python_objects_are_not_constructed() -> None:
    with pytest.raises(yaml.YAMLError):
        yamlfiles.parse("!!python/object/apply:os.system ['true']")


def test_a_plain_document_loads() -> None:
    assert yamlfiles.parse(b"version: 1\nlist: [a, b]\n") == {"version": 1, "list": ["a", "b"]}
