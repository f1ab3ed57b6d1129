"""Buddy migrations upgrade, downgrade and upgrade again on SQLite and PostgreSQL, leaving no table behind (sealed rows
unsealed first: the downgrade below sealing refuses while a value is sealed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from services.buddy import bootstrap, handlers, sealing
from services.buddy.domain.commands import ImportRecords
from services.buddy.repository import SqlBuddyUnitOfWork
from services.kit.persistence import db
from services.kit.security import pii
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


def _round_trip(url: str, var_dir: Path) -> None:
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert TABLES | {"alembic_version_buddy"} <= _tables(url)
    engine, cipher = db.create_engine(url), pii.local(var_dir, "buddy")
    pii.attach(engine, cipher)
    try:
        uow = SqlBuddyUnitOfWork(db.UnitOfWork(engine))
        for kind in ("matches", "events", "checkins", "feedback"):
            batch = handlers.import_records(ImportRecords("acme", kind, csv_of(kind)), uow=uow)
            assert batch.rows_stored == 1
        with pytest.raises(RuntimeError, match="unseal"):
            db.downgrade(url, bootstrap.MIGRATIONS)
        with db.UnitOfWork(engine).begin() as session:  # the rollback of sealing, before going below it
            while sealing.unseal_batch(session, cipher):
                pass
    finally:
        engine.dispose()
        cipher.close()
    db.downgrade(url, bootstrap.MIGRATIONS)
    assert _tables(url) & TABLES == set()
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert _tables(url) >= TABLES


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _round_trip(db.sqlite_url(tmp_path / "buddy.db"), tmp_path)


def test_postgresql_upgrade_downgrade_upgrade(postgres_url: str, tmp_path: Path) -> None:
    _round_trip(postgres_url, tmp_path)
