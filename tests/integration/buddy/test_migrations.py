"""Buddy migrations upgrade, downgrade and upgrade again on SQLite, leaving no table behind."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.buddy import bootstrap, handlers
from services.buddy.domain.commands import ImportRecords
from services.buddy.repository import SqlBuddyUnitOfWork
from services.kit.persistence import db
from tests.unit.buddy.samples import csv_of

TABLES = {
    "buddy_matches",
    "buddy_events",
    "buddy_checkins",
    "buddy_feedback",
    "buddy_webhook_deliveries",
    "import_batches",
    "quarantined_rows",
    "outbox",
    "inbox",
}


def _tables(url: str) -> set[str]:
    engine = db.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = db.sqlite_url(tmp_path / "buddy.db")
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert TABLES | {"alembic_version_buddy"} <= _tables(url)
    engine = db.create_engine(url)
    try:
        batch = handlers.import_records(
            ImportRecords("acme", "matches", csv_of("matches")), uow=SqlBuddyUnitOfWork(db.UnitOfWork(engine))
        )
        assert batch.rows_stored == 1
    finally:
        engine.dispose()
    db.downgrade(url, bootstrap.MIGRATIONS)
    assert _tables(url) & TABLES == set()
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert _tables(url) >= TABLES
