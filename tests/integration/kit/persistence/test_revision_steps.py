"""Every Alembic revision of every service, one step at a time, with rows in every table: it upgrades
from the revision before, downgrades back to it keeping the rows of the tables both schemas share, and
upgrades again, on SQLite and on PostgreSQL. A rolling deploy runs revision N-1 and N side by side, so
a step that cannot go both ways with data in place blocks a rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import services
from services.kit.persistence import db
from tests.integration.kit.persistence.old_rows import allowed_values, filled

SERVICES_DIR = Path(services.__file__).resolve().parent
STEPS = [(path.parts[-4], path.name.split("_")[0]) for path in sorted(SERVICES_DIR.glob("*/migrations/versions/*.py"))]
ROWS_PER_TABLE = 3
# Text columns a revision's backfill parses as JSON: a valid empty value.
JSON_COLUMNS = {"attendees": "[]"}


def _previous(service: str, revision: str) -> str:
    earlier = [r for s, r in STEPS if s == service and r < revision]
    return earlier[-1] if earlier else "base"


def _fill(engine: sa.Engine, start: int, count: int = ROWS_PER_TABLE) -> dict[str, int]:
    """`count` rows in every table, parents first, foreign keys pointing at the parents' rows."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    written: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as connection:
        inspector = sa.inspect(connection)
        for table in metadata.sorted_tables:
            if table.name.startswith("alembic_version_"):
                continue
            allowed = allowed_values(inspector.get_check_constraints(table.name), table)
            rows = [_row(table, start + n, written) | allowed for n in range(count)]
            connection.execute(table.insert(), rows)
            written[table.name] = rows
    return _counts(engine)


def _row(table: sa.Table, n: int, written: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    row = filled(table, n, {name: value for name, value in JSON_COLUMNS.items() if name in table.c})
    for key in table.foreign_keys:
        parent = written.get(key.column.table.name)
        if parent:
            row[key.parent.name] = parent[n % len(parent)][key.column.name]
    return row


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        names = [n for n in sa.inspect(connection).get_table_names() if not n.startswith("alembic_version_")]
        return {n: int(connection.execute(sa.text(f'SELECT count(*) FROM "{n}"')).scalar_one()) for n in names}


def _step_both_ways(url: str, service: str, revision: str) -> None:
    migrations = SERVICES_DIR / service / "migrations"
    before = _previous(service, revision)
    if before != "base":
        db.upgrade(url, migrations, before)
    engine = db.create_engine(url)
    try:
        old = _fill(engine, 100) if before != "base" else {}
        db.upgrade(url, migrations, revision)
        at_revision = _fill(engine, 200)
        assert {name: count for name, count in at_revision.items() if name in old} == {
            name: count + ROWS_PER_TABLE for name, count in old.items()
        }
        db.downgrade(url, migrations, before)
        kept = _counts(engine)
        assert {name: kept[name] for name in old} == {name: at_revision[name] for name in old}
        db.upgrade(url, migrations, revision)
        assert set(_counts(engine)) == set(at_revision)
    finally:
        engine.dispose()


@pytest.mark.parametrize(("service", "revision"), STEPS, ids=[f"{s}/{r}" for s, r in STEPS])
def test_a_revision_steps_up_and_down_with_rows_on_sqlite(service: str, revision: str, tmp_path: Path) -> None:
    _step_both_ways(db.sqlite_url(tmp_path / f"{service}.db"), service, revision)


@pytest.mark.parametrize(("service", "revision"), STEPS, ids=[f"{s}/{r}" for s, r in STEPS])
def test_a_revision_steps_up_and_down_with_rows_on_postgresql(service: str, revision: str, postgres_url: str) -> None:
    _step_both_ways(postgres_url, service, revision)
