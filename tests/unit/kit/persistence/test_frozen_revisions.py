"""Frozen revision bodies are immutable: each module is pinned by its SHA-256, imports only Alembic,
SQLAlchemy, the standard library and its own package, and is used by a revision."""

from __future__ import annotations

import ast
import hashlib
import re
import shutil
import sys
from pathlib import Path

import pytest

import services
from services.kit.persistence import frozen_revisions

PACKAGE = frozen_revisions.__name__
FROZEN_DIR = Path(frozen_revisions.__file__).resolve().parent
REVISIONS = sorted(Path(services.__file__).resolve().parent.glob("*/migrations/versions/*.py"))
ALLOWED = {"alembic", "sqlalchemy"} | set(sys.stdlib_module_names)
NAME = re.compile(r"[a-z][a-z0-9_]*_v[0-9]+\.py")

# A module's SHA-256, taken when the first revision used it. Never update a row: a changed body is a new
# module (`<name>_v2.py`) with a row of its own, used by a new revision.
PINNED = {
    "audit_log_v1.py": "6e6109fd1d8a557f9898a9a26c9f7e8e4e64f66be4204ed06d2b2f12611810ba",
    "concurrent_indexes_v1.py": "57b60e6d36c0e2d898e678a8f65b2a4507962db3330bade604091d61064617f5",
    "idempotency_keys_v1.py": "da0ed61f9c71409dd0b5535563a3cfff92925e23e21c89c5d5d5a0a21a4557c8",
    "import_tables_v1.py": "e9b91d6014510fa1ff7ed89c094f912e3aa396c0752147fffda52b17a34e94fe",
    "leases_v1.py": "433483772c484ad2dd91db10984c1eb6fbc65579ac20136b9a15918e0eab749a",
    "outbox_inbox_v1.py": "9ac0b7acdc153f496347471742d17dd0bb90caf58ce79cdb38afc702af7ee998",
    "outbox_pending_v1.py": "bf5a07905d2f60d06aa7603781188b7a589978baebbc6b0364fb61646e3504d1",
    "sealed_quarantined_rows_v1.py": "45d05086ea7c5c074bb0f1e16fbd4e0fb069698842f429dfdf9f9e6935e70308",
    "sealed_values_v1.py": "c25b90553c997210489a529bdd4d54165eb369d71cc5a7968284c33b05612400",
    "audit_log_revision_v1.py": "8c18bb16285e18ce47ff963ae742ddf2c9d64d39b01c8e284f981125d133b954",
    "concurrent_indexes_revision_v1.py": "44940a80527e5d47a2c5aa558a45b397b57a4704406fbad5afa3caa81364dc74",
    "idempotency_keys_revision_v1.py": "46d54ffd99570a4d418dc55606684475cea5188522be7d8e253af5aeac046901",
    "import_batches_indexes_v1.py": "9340016c33ef46ce3c44477b3b7bd1921b364e45ffec1afc78727c3f5b518a8b",
    "leases_revision_v1.py": "4e6b76c3efb49442d770f0740ac6af8ad06192c5670280e27d7adf5818df9514",
    "outbox_inbox_revision_v1.py": "194dc4454d844b67451e82ffd21e7016314818a1b519589f3d2fb889b9dd38b7",
    "outbox_pending_revision_v1.py": "28fb93d13b8f464556710c99bced6f35216b31be085d7766f129154e96a22bcd",
    "sealed_quarantined_rows_revision_v1.py": "51cbd646f37ecb3bfc641bf644bef7cabb1a14111b85e1661a68a2bf6e132cf7",
}


def _bodies(directory: Path) -> list[Path]:
    return sorted(path for path in directory.glob("*.py") if path.name != "__init__.py")


def changed_bodies(directory: Path, pinned: dict[str, str]) -> list[str]:
    """What differs between the modules in `directory` and their pins, one sentence each."""
    problems = []
    for path in _bodies(directory):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if path.name not in pinned:
            problems.append(f"{path.name} is not pinned: add its SHA-256 {digest} to PINNED")
        elif digest != pinned[path.name]:
            problems.append(
                f"a frozen revision body changed: {path.name} (SHA-256 {digest}); revert it, and add a new "
                "snapshot instead (a new module used by a new revision)"
            )
    present = {path.name for path in _bodies(directory)}
    problems += [
        f"{name} is pinned but gone: a revision that used it can no longer run"
        for name in pinned
        if name not in present
    ]
    return problems


def _imported(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
    return names


def _frozen(name: str) -> bool:
    return name == PACKAGE or name.startswith(f"{PACKAGE}.")


def test_every_frozen_body_is_as_pinned() -> None:
    assert changed_bodies(FROZEN_DIR, PINNED) == []


def test_an_edited_body_fails_with_a_message_asking_for_a_new_snapshot(tmp_path: Path) -> None:
    shutil.copytree(FROZEN_DIR, tmp_path / "frozen", ignore=shutil.ignore_patterns("__pycache__"))
    edited = tmp_path / "frozen" / "leases_v1.py"
    edited.write_text(edited.read_text().replace("sa.String(64)", "sa.String(128)"))
    (tmp_path / "frozen" / "leases_v2.py").write_text('"""A new body."""\n')
    (tmp_path / "frozen" / "audit_log_v1.py").unlink()

    problems = changed_bodies(tmp_path / "frozen", PINNED)

    assert len(problems) == 3
    assert problems[0].startswith("a frozen revision body changed: leases_v1.py")
    assert "add a new snapshot instead" in problems[0]
    assert problems[1].startswith("leases_v2.py is not pinned")
    assert problems[2].startswith("audit_log_v1.py is pinned but gone")


@pytest.mark.parametrize("path", _bodies(FROZEN_DIR), ids=lambda p: p.name)
def test_a_frozen_body_is_named_by_version_and_imports_no_live_code(path: Path) -> None:
    assert NAME.fullmatch(path.name), "name a frozen body <what>_v<N>.py"
    imported = _imported(path)
    assert [name for name in imported if name.split(".")[0] not in ALLOWED and not _frozen(name)] == [], (
        "a frozen body imports only alembic, sqlalchemy, the standard library and other frozen bodies"
    )


@pytest.mark.parametrize("path", _bodies(FROZEN_DIR), ids=lambda p: p.name)
def test_a_frozen_body_is_used_by_a_revision_or_another_body(path: Path) -> None:
    users = [*REVISIONS, *_bodies(FROZEN_DIR)]
    module = path.stem
    assert any(re.search(rf"\b{module}\b", user.read_text()) for user in users if user != path)
