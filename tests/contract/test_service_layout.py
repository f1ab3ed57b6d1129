"""Same role, same file, in every service (docs/architecture.md): each service directory holds exactly
its role files, and tables, event envelopes and servicers live only in theirs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from services.cli.spec import REPO_ROOT

SERVICES_DIR = REPO_ROOT / "services"
# Every service: built from config, served over gRPC, with a plain-Python domain.
CORE = frozenset({"__init__.py", "__main__.py", "bootstrap.py", "domain", "handlers.py", "grpc_api.py", "wire.py"})
# Every service with a database: the read side, the write side, their tables and rows, the outbox.
PERSISTENT = frozenset({"queries.py", "repository.py", "tables.py", "rows.py", "events.py", "migrations"})
# Every service holding personal data: where it keeps people, for privacy export and erasure.
PERSONAL = frozenset({"privacy.py"})
# Q2Q's screening, its classifier's labelled corpus (data/), training command (train/), model (model/), evaluation,
# and the optional model-backed provider in front of the local model (providers/).
Q2Q_PARTS = frozenset({"consumers.py", "settings.py", "screening", "data", "train", "model", "evaluation", "providers"})
EXPECTED: dict[str, frozenset[str]] = {
    "gateway": CORE | PERSISTENT | PERSONAL | {"settings.py", "sso", "keys", "operations", "dsr", "sealing.py"},
    # Personal fields sealed at rest: which, with whose key, and the online migration sealing old rows.
    "profile": CORE | PERSISTENT | PERSONAL | {"consumers.py", "sealing.py"},
    "kintell": CORE | PERSISTENT | PERSONAL | {"sealing.py"},
    "buddy": CORE | PERSISTENT | PERSONAL | {"sealing.py"},
    "upskilling": CORE | PERSISTENT | PERSONAL | {"sealing.py"},
    # Safety's evaluation command, its labelled sets and training corpus (data/), the training command (train/)
    # and the trained classifier it ships (model/).
    "safety": CORE | PERSISTENT | PERSONAL | {"consumers.py", "data", "evaluate.py", "sealing.py", "train", "model"},
    "q2q": CORE | PERSISTENT | PERSONAL | Q2Q_PARTS | {"sealing.py"},
    # The Envoy rate-limit service keeps counters in Redis or memory: no database, no events.
    "ratelimit": CORE | {"repository.py", "settings.py", "limits.yaml", "README.md"},
}
# Every domain names its errors and the commands it handles; the model may span several modules
# (gateway: clients, keys, tokens). The rate-limit service's one request is a query (domain/query.py).
DOMAIN_FILES = frozenset({"__init__.py", "errors.py", "commands.py"})
QUERY_ONLY = frozenset({"ratelimit"})
NOT_SERVICES = frozenset({"kit", "cli", "__init__.py", "__pycache__"})


def _entries(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name != "__pycache__"}


def _service_modules() -> list[Path]:
    return [
        path
        for name in EXPECTED
        for path in (SERVICES_DIR / name).rglob("*.py")
        if "migrations" not in path.relative_to(SERVICES_DIR).parts
    ]


def _calls(path: Path, name: str) -> bool:
    """Whether the module calls `name(...)` or `<anything>.name(...)`."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Name) and func.id == name) or (
                isinstance(func, ast.Attribute) and func.attr == name
            ):
                return True
    return False


def test_every_service_directory_is_listed() -> None:
    assert _entries(SERVICES_DIR) - NOT_SERVICES == set(EXPECTED)


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_a_service_holds_exactly_its_role_files(service: str) -> None:
    found = _entries(SERVICES_DIR / service)
    expected = EXPECTED[service]
    assert not expected - found, f"services/{service} lacks role files {sorted(expected - found)}"
    assert not found - expected, (
        f"services/{service} has files outside the layout {sorted(found - expected)}: "
        "move them to their role file or a sub-package (docs/architecture.md)"
    )


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_a_domain_holds_its_model_commands_and_errors(service: str) -> None:
    found = _entries(SERVICES_DIR / service / "domain")
    required = DOMAIN_FILES - {"commands.py"} if service in QUERY_ONLY else DOMAIN_FILES
    assert found >= required, f"services/{service}/domain lacks {sorted(required - found)}"


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_a_domain_imports_no_adapter(service: str) -> None:
    adapters = ("sqlalchemy", "grpc", "teei.", "google.protobuf", "nats", "services.kit.persistence")
    for path in (SERVICES_DIR / service / "domain").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            bad = [n for n in names if n.startswith(adapters)]
            assert not bad, f"{path.relative_to(REPO_ROOT)} imports adapter code {bad}"


def test_tables_are_defined_only_in_tables_py() -> None:
    offenders = [p for p in _service_modules() if p.name != "tables.py" and _calls(p, "Table")]
    assert not offenders, f"sa.Table outside tables.py: {[str(p.relative_to(REPO_ROOT)) for p in offenders]}"


def test_event_envelopes_are_built_only_in_events_py() -> None:
    offenders = [p for p in _service_modules() if p.name != "events.py" and _calls(p, "new_event")]
    assert not offenders, f"envelopes built outside events.py: {[str(p.relative_to(REPO_ROOT)) for p in offenders]}"


def test_servicers_live_only_in_grpc_api_py() -> None:
    offenders = []
    for path in _service_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Attribute) and b.attr.endswith("Servicer") for b in node.bases
            ):
                offenders += [] if path.name == "grpc_api.py" else [str(path.relative_to(REPO_ROOT))]
    assert not offenders, f"servicers outside grpc_api.py: {offenders}"


def test_the_layout_is_documented() -> None:
    text = (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    roles = {name for files in EXPECTED.values() for name in files} - {"__init__.py", "limits.yaml", "README.md"}
    missing = sorted(role for role in roles if not re.search(rf"[`/]{re.escape(role)}\b", text))
    assert not missing, f"docs/architecture.md does not describe {missing}"
