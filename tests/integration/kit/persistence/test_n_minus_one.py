"""N-1 compatibility of every Alembic revision of every service: during a rolling deploy (and after a
rollback of the code alone) the previous release's code runs against the new schema. That code writes
rows with the columns it knows and reads those columns back; so, for every revision R, with the schema of
the revision before (R-1) reflected as that release's code sees it, on the schema of R:

- an INSERT naming only R-1's columns succeeds in every table R-1 had (a new column is nullable or has
  a server default; no table or column R-1 wrote has gone), on SQLite and on PostgreSQL;
- a SELECT of R-1's columns reads those rows back with the values written (no column renamed, no type
  narrowed so that a value changes).

A revision that cannot hold this is a contract step (docs/data/migrations.md) and is listed in
CONTRACT_STEPS with what the release before it must already have stopped using; the test fails for
any other. What this cannot see: the meaning of a value (e.g. a sealed field an old release would show
as its ciphertext), which the release notes of such a step must cover.
"""

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
# Text columns a revision's backfill parses as JSON: a valid empty value.
JSON_COLUMNS = {"attendees": "[]"}
# (service, revision) → why the release before it does not write or read what the revision removes.
CONTRACT_STEPS: dict[tuple[str, str], str] = {}


def _previous(service: str, revision: str) -> str:
    earlier = [r for s, r in STEPS if s == service and r < revision]
    return earlier[-1] if earlier else "base"


def _old_schema(engine: sa.Engine) -> list[sa.Table]:
    """The tables as the previous release's code knows them, parents first."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    return [t for t in metadata.sorted_tables if not t.name.startswith("alembic_version_")]


def _old_rows(engine: sa.Engine, tables: list[sa.Table]) -> dict[str, list[dict[str, Any]]]:
    """Two rows per table with R-1's columns only (values its CHECKs allow), foreign keys pointing at the
    parents' rows."""
    written: dict[str, list[dict[str, Any]]] = {}
    inspector = sa.inspect(engine)
    for table in tables:
        rows = []
        allowed = allowed_values(inspector.get_check_constraints(table.name), table)
        for n in (7001, 7002):
            given = {name: value for name, value in JSON_COLUMNS.items() if name in table.c} | allowed
            row = filled(table, n, given)
            for key in table.foreign_keys:
                parent = written.get(key.column.table.name)
                if parent:
                    row[key.parent.name] = parent[n % len(parent)][key.column.name]
            rows.append(row)
        written[table.name] = rows
    return written


def _old_release_on_new_schema(url: str, migrations: Path, before: str, revision: str) -> list[str]:
    """What the release at `before` meets, writing and reading, on `revision`'s schema: one line per failure."""
    db.upgrade(url, migrations, before)
    engine = db.create_engine(url)
    failures: list[str] = []
    try:
        tables = _old_schema(engine)
        rows = _old_rows(engine, tables)
        db.upgrade(url, migrations, revision)
        for table in tables:
            try:
                with engine.begin() as connection:
                    connection.execute(table.insert(), rows[table.name])
            except sa.exc.DBAPIError as exc:
                failures.append(f"INSERT into {table.name}: {str(exc.orig).splitlines()[0]}")
                continue
            failures += _read_back(engine, table, rows[table.name])
    finally:
        engine.dispose()
    return failures


def _read_back(engine: sa.Engine, table: sa.Table, rows: list[dict[str, Any]]) -> list[str]:
    keys = list(table.primary_key.columns) or list(table.c)
    try:
        with engine.connect() as connection:
            found = [
                dict(connection.execute(sa.select(table).where(*(c == row[c.name] for c in keys))).mappings().one())
                for row in rows
            ]
    except sa.exc.DBAPIError as exc:
        return [f"SELECT from {table.name}: {str(exc.orig).splitlines()[0]}"]
    changed = [
        f"{table.name}.{name}: wrote {row[name]!r}, read {back[name]!r}"
        for row, back in zip(rows, found, strict=True)
        for name in row
        if not _same(row[name], back[name])
    ]
    return changed[:3]


def _same(written: Any, read: Any) -> bool:
    if hasattr(written, "tzinfo") and hasattr(read, "tzinfo") and written.tzinfo and not read.tzinfo:
        return bool(written.replace(tzinfo=None) == read)
    return bool(written == read)


def _check(url: str, service: str, revision: str) -> None:
    before = _previous(service, revision)
    if before == "base":
        return
    failures = _old_release_on_new_schema(url, SERVICES_DIR / service / "migrations", before, revision)
    if (service, revision) in CONTRACT_STEPS:
        assert failures, f"{service}/{revision} is listed as a contract step but the release before runs on it"
        return
    assert not failures, f"the release before {service}/{revision} fails on its schema: " + "; ".join(failures)


@pytest.mark.parametrize(("service", "revision"), STEPS, ids=[f"{s}/{r}" for s, r in STEPS])
def test_the_previous_release_writes_and_reads_on_each_revision_on_sqlite(
    service: str, revision: str, tmp_path: Path
) -> None:
    _check(db.sqlite_url(tmp_path / f"{service}.db"), service, revision)


@pytest.mark.parametrize(("service", "revision"), STEPS, ids=[f"{s}/{r}" for s, r in STEPS])
def test_the_previous_release_writes_and_reads_on_each_revision_on_postgresql(
    service: str, revision: str, postgres_url: str
) -> None:
    _check(postgres_url, service, revision)


PROBE_ENV = """from services.kit.persistence.db import run_alembic_env
import sqlalchemy as sa

run_alembic_env(service="probe", metadata=sa.MetaData())
"""
PROBE_FIRST = """revision = "0001"
down_revision = None
import sqlalchemy as sa
from alembic import op


def upgrade():
    op.create_table(
        "probe", sa.Column("id", sa.String(36), primary_key=True), sa.Column("note", sa.Text, nullable=False)
    )


def downgrade():
    op.drop_table("probe")
"""
PROBE_STEPS = {
    "expand": 'op.add_column("probe", sa.Column("extra", sa.Text, nullable=True))',
    "defaulted": 'op.add_column("probe", sa.Column("extra", sa.Text, nullable=False, server_default=""))',
    "not_null": 'op.add_column("probe", sa.Column("extra", sa.Text, nullable=False))',
    "dropped": 'op.drop_column("probe", "note")',
    "renamed": 'op.alter_column("probe", "note", new_column_name="remark")',
}


def _probe(folder: Path, change: str) -> Path:
    (folder / "versions").mkdir(parents=True)
    (folder / "env.py").write_text(PROBE_ENV)
    (folder / "versions" / "0001_first.py").write_text(PROBE_FIRST)
    second = f"""revision = "0002"
down_revision = "0001"
import sqlalchemy as sa
from alembic import op


def upgrade():
    with op.batch_alter_table("probe") as batch:
        {change.replace("op.", "batch.").replace('"probe", ', "")}


def downgrade():
    pass
"""
    (folder / "versions" / "0002_second.py").write_text(second)
    return folder


@pytest.mark.parametrize(
    ("change", "breaks"),
    [("expand", False), ("defaulted", False), ("not_null", True), ("dropped", True), ("renamed", True)],
)
def test_the_harness_fails_a_step_the_previous_release_cannot_run_on(tmp_path: Path, change: str, breaks: bool) -> None:
    """The harness itself: an expand step passes; a NOT NULL column without a default, a dropped or a
    renamed column fail it."""
    migrations = _probe(tmp_path / "migrations", PROBE_STEPS[change])
    failures = _old_release_on_new_schema(db.sqlite_url(tmp_path / "probe.db"), migrations, "0001", "0002")
    assert bool(failures) is breaks, failures
