"""Buddy migrations upgrade, downgrade and upgrade again on SQLite and PostgreSQL, leaving no table behind;
at the head, rows unsealed read as sealed ones do, the online migration seals them again, and the
downgrade below sealing refuses until they are unsealed."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from services.buddy import bootstrap, handlers, queries, sealing
from services.buddy.domain.commands import ImportRecords, ListRecords, RecordFilter
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


def _read(uow: SqlBuddyUnitOfWork) -> list[tuple[str, str]]:
    """Every record's kind, Buddy id and people (an event's attendees), as the queries return them."""
    found = []
    for kind in ("matches", "events", "checkins", "feedback"):
        for record in queries.list_records(ListRecords("acme", kind, RecordFilter()), uow=uow)[0]:
            found.append((kind, repr(record)))
    return sorted(found)


def _unseal(engine: sa.Engine, cipher: pii.PiiCipher) -> None:
    with db.UnitOfWork(engine).begin() as session:
        while sealing.unseal_batch(session, cipher):
            pass


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
        expected = _read(uow)
        _unseal(engine, cipher)
        assert _read(uow) == expected  # plain rows, as written before sealing, read alike
        with db.UnitOfWork(engine).begin() as session:  # the online migration seals them again
            assert sealing.seal_batch(session, cipher) == 4
            assert sealing.seal_batch(session, cipher) == 0
        assert _read(uow) == expected
        with pytest.raises(RuntimeError, match="unseal"):
            db.downgrade(url, bootstrap.MIGRATIONS)
        _unseal(engine, cipher)  # the rollback of sealing, before going below it
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
