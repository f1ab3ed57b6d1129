"""Policy YAML: safe loading that refuses a repeated key instead of keeping the last one."""

from __future__ import annotations

from pathlib import Path

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


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"version: [1", "not valid YAML"),
        (b"#" * 2048, "larger than 1024 bytes"),
        (b"a: 1\na: 2\n", "duplicate keys: a"),
    ],
    ids=["broken-yaml", "oversized", "duplicate-key"],
)
def test_unreadable_files_are_refused_naming_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(content)
    with pytest.raises(yamlfiles.YamlFileError, match=message) as refused:
        yamlfiles.read(path, max_bytes=1024)
    assert str(refused.value).startswith(f"{path}: ")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(yamlfiles.YamlFileError, match="cannot read"):
        yamlfiles.read(tmp_path / "absent.yaml", max_bytes=1024)
