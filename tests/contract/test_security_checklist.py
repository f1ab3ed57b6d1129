"""docs/security.md names, for each control, the test that proves it: every named test must exist."""

from __future__ import annotations

import re

from services.cli.spec import REPO_ROOT

DOC = REPO_ROOT / "docs" / "security.md"
REFERENCE = re.compile(r"`(tests/[^`:\s]+\.py)(?:::(test_\w+))?`|`::(test_\w+)`")


def _references() -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    current = ""
    for match in REFERENCE.finditer(DOC.read_text()):
        if match.group(1):
            current = match.group(1)
            found.append((current, match.group(2)))
        else:
            found.append((current, match.group(3)))
    return found


def test_the_checklist_names_tests() -> None:
    assert len(_references()) >= 40


def test_every_test_the_checklist_names_exists() -> None:
    missing = []
    for path, name in _references():
        source = REPO_ROOT / path
        if not source.is_file():
            missing.append(path)
        elif name and not re.search(rf"^(async )?def {name}\b", source.read_text(), re.MULTILINE):
            missing.append(f"{path}::{name}")
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"
