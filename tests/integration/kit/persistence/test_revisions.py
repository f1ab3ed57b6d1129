"""Alembic revisions are frozen history: they import no live project code, and a database written by a
service's first revision upgrades to head keeping every row (with what later revisions backfill), then
downgrades to base."""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import services
from services.kit import identity
from services.kit.persistence import db, frozen_revisions
from tests.integration.kit.persistence.old_rows import FIRST_ROWS, Rows, filled

SERVICES_DIR = Path(services.__file__).resolve().parent
REVISIONS = sorted(SERVICES_DIR.glob("*/migrations/versions/*.py"))
ALLOWED = {"alembic", "sqlalchemy"} | set(sys.stdlib_module_names)
# Bodies several services' revisions share, each module pinned by its SHA-256.
FROZEN = frozen_revisions.__name__
# Columns later revisions add to tables of the first one: `<role>_profile_id`, backfilled from
# `<role>_email`, or a column left NULL.
PROFILE_ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    "buddy": {"buddy_matches": ("participant", "buddy"), "buddy_checkins": ("person",), "buddy_feedback": ("author",)},
    "kintell": {"kintell_sessions": ("participant", "volunteer")},
}
NULL_ADDED: dict[str, dict[str, tuple[str, ...]]] = {
    # Rows from before sealing keep their plain values: the running service seals them (online migration).
    "profile": {"profiles": ("merged_into", "email_index"), "profile_external_ids": ("external_ref",)},
    "gateway": {"oauth_clients": ("email_index",)},
    "q2q": {"q2q_evidence": ("profile_id",)},
    # A quarantined row's person: derived from its cells when the online migration seals it.
    **{c: {"quarantined_rows": ("profile_id",)} for c in ("kintell", "buddy", "upskilling")},
}
# Columns later revisions add with a server default, which every old row takes.
DEFAULT_ADDED: dict[str, dict[str, dict[str, Any]]] = {
    "safety": {"safety_reviews": {"priority": 1}},
    # A quarantined row's company: copied from its batch when the online migration seals it.
    "kintell": {"quarantined_rows": {"company_id": ""}},
    "buddy": {"buddy_events": {"writer_profile_id": ""}, "quarantined_rows": {"company_id": ""}},
    "upskilling": {
        "upskilling_progress": {"external_index": ""},
        "upskilling_credentials": {"external_index": ""},
        "quarantined_rows": {"company_id": ""},
    },
}


def _imported(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            names.append("<dynamic import>")
    return names


def test_every_service_has_revisions() -> None:
    assert {path.parts[-4] for path in REVISIONS} == set(FIRST_ROWS)


@pytest.mark.parametrize("path", REVISIONS, ids=lambda p: f"{p.parts[-4]}/{p.name}")
def test_a_revision_imports_only_alembic_sqlalchemy_and_the_standard_library(path: Path) -> None:
    """Live code (the kit, a service's tables or model) would let a later change rewrite history; the frozen
    revision bodies are pinned, never edited (tests/unit/kit/persistence/test_frozen_revisions.py)."""
    imported = _imported(ast.parse(path.read_text(), str(path)))
    frozen = [name for name in imported if name == FROZEN or name.startswith(f"{FROZEN}.")]
    assert [name for name in imported if name.split(".")[0] not in ALLOWED and name not in frozen] == []


def _first_revision(migrations: Path) -> str:
    return min(path.name.split("_")[0] for path in (migrations / "versions").glob("*.py"))


def _reflect(engine: sa.Engine) -> sa.MetaData:
    metadata = sa.MetaData()
    metadata.reflect(engine)
    return metadata


def _write_old_rows(engine: sa.Engine, service: str, rows: Rows) -> Rows:
    tables = _reflect(engine).tables
    assert set(rows) == set(tables) - {f"alembic_version_{service}"}, "rows for every table of the first revision"
    written = {
        name: [filled(tables[name], n, row) for n, row in enumerate(table_rows)] for name, table_rows in rows.items()
    }
    with engine.begin() as connection:
        for name, table_rows in written.items():
            connection.execute(tables[name].insert(), table_rows)
    return written


def _profile_id(company_id: str, email: str) -> str:
    return identity.profile_id_for_email(company_id, email) if email.strip() else ""


def _added(service: str, table: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    roles = PROFILE_ROLES.get(service, {}).get(table, ())
    nulls = NULL_ADDED.get(service, {}).get(table, ())

    def values(row: dict[str, Any]) -> dict[str, Any]:
        derived = {f"{role}_profile_id": _profile_id(row["company_id"], row[f"{role}_email"]) for role in roles}
        return derived | dict.fromkeys(nulls) | DEFAULT_ADDED.get(service, {}).get(table, {})

    return values


def _utc(value: Any) -> Any:
    # SQLite hands back naive times and PostgreSQL times in the session's zone: compare instants.
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _stored(connection: sa.Connection, table: sa.Table) -> list[dict[str, Any]]:
    rows = connection.execute(sa.select(table)).mappings()
    return sorted(({key: _utc(value) for key, value in row.items()} for row in rows), key=repr)


def _expected(service: str, name: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    added = _added(service, name)
    return sorted(({key: _utc(value) for key, value in row.items()} | added(row) for row in rows), key=repr)


def _attendance(rows: Rows) -> list[dict[str, Any]]:
    """Each event's attendees as revision 0002 backfilled them; later revisions add each one's place in
    the list (0 for rows from before) and their person columns (empty; the running service seals them)."""
    seen = {
        (event["record_id"], _profile_id(event["company_id"], person.get("email", "")), event["company_id"], 0)
        for event in rows["buddy_events"]
        for person in json.loads(event["attendees"])
    }
    person = dict.fromkeys(("email", "external_id", "given_name", "family_name"), "")
    return sorted(
        ({"event_id": e, "profile_id": p, "company_id": c, "position": n} | person for e, p, c, n in seen if p),
        key=repr,
    )


def _check_head(engine: sa.Engine, service: str, old: Rows) -> None:
    tables = _reflect(engine).tables
    backfilled = {"buddy_event_attendees": _attendance(old)} if service == "buddy" else {}
    with engine.connect() as connection:
        for name, rows in old.items():
            assert _stored(connection, tables[name]) == _expected(service, name, rows), name
        for name in set(tables) - set(old) - {f"alembic_version_{service}"}:
            assert _stored(connection, tables[name]) == backfilled.get(name, []), name


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def _old_database_upgrades(url: str, service: str) -> None:
    migrations = SERVICES_DIR / service / "migrations"
    db.upgrade(url, migrations, _first_revision(migrations))
    engine = db.create_engine(url)
    try:
        old = _write_old_rows(engine, service, FIRST_ROWS[service]())
        db.upgrade(url, migrations)
        _check_head(engine, service, old)
        db.downgrade(url, migrations)
        assert _tables(engine) == {f"alembic_version_{service}"}
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", sorted(FIRST_ROWS))
def test_an_old_sqlite_database_upgrades_keeping_its_rows_then_downgrades(service: str, tmp_path: Path) -> None:
    _old_database_upgrades(db.sqlite_url(tmp_path / f"{service}.db"), service)


@pytest.mark.parametrize("service", sorted(FIRST_ROWS))
def test_an_old_postgresql_database_upgrades_keeping_its_rows_then_downgrades(service: str, postgres_url: str) -> None:
    _old_database_upgrades(postgres_url, service)
