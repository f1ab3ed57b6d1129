"""The live table definitions are the schema the frozen revisions build: a database migrated to head
differs in nothing from each service's SCHEMA (tables, columns, types, indexes, constraints), on SQLite
and PostgreSQL, so autogenerate proposes no change and code never assumes what the database lacks."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.kit.persistence import db

SERVICES = ("profile", "kintell", "buddy", "upskilling", "q2q", "safety", "gateway")


def _differences(url: str, service: str) -> list[Any]:
    bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    tables = importlib.import_module(f"services.{service}.tables")
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    try:
        with engine.connect() as connection:
            options = {"version_table": f"alembic_version_{service}", "compare_type": True}
            context = MigrationContext.configure(connection, opts=options)
            found: list[Any] = compare_metadata(context, _combined(tables.SCHEMA))
            return found
    finally:
        engine.dispose()


def _combined(schema: tuple[sa.MetaData, ...]) -> sa.MetaData:
    combined = sa.MetaData()
    for metadata in schema:
        for table in metadata.tables.values():
            table.to_metadata(combined)
    return combined


# SQLite's reflection skips an index on an expression (gateway's lower(email)), and autogenerate with it:
# the PostgreSQL comparison below covers those.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
@pytest.mark.parametrize("service", SERVICES)
def test_a_sqlite_database_at_head_matches_the_live_tables(service: str, tmp_path: Path) -> None:
    assert _differences(db.sqlite_url(tmp_path / f"{service}.db"), service) == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_postgresql_database_at_head_matches_the_live_tables(service: str, postgres_url: str) -> None:
    assert _differences(postgres_url, service) == []


def test_the_check_sees_a_missing_index(tmp_path: Path) -> None:
    """The comparison can fail: an index the database has and the tables lack is reported."""
    url = db.sqlite_url(tmp_path / "profile.db")
    _differences(url, "profile")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE INDEX ix_extra ON profiles (created_at)")
    engine.dispose()
    assert any(diff[0] == "remove_index" for diff in _differences(url, "profile"))
