"""Kintell migrations upgrade, downgrade and upgrade again, and the connector works on the result."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kintell import bootstrap, handlers, queries
from services.kintell.domain.commands import ImportSessions, ListSessions, ReceiveWebhook
from services.kintell.repository import SqlKintellUnitOfWork
from services.kit.persistence import db
from tests.unit.kintell.samples import LANGUAGE_V1_0, csv, language_row, session_body

TABLES = {
    "kintell_sessions",
    "kintell_ratings",
    "kintell_webhook_deliveries",
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


def _round_trip(url: str) -> None:
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert {*TABLES, "alembic_version_kintell"} <= _tables(url)
    engine = db.create_engine(url)
    try:
        uow = SqlKintellUnitOfWork(db.UnitOfWork(engine))
        batch = handlers.import_sessions(ImportSessions("acme", csv(LANGUAGE_V1_0, language_row("k-1"))), uow=uow)
        assert batch.rows_stored == 1
        handlers.receive_session_completed(ReceiveWebhook("acme", session_body()), uow=uow)
        assert handlers.receive_session_completed(ReceiveWebhook("acme", session_body()), uow=uow).duplicate
        assert len(queries.list_sessions(ListSessions("acme"), uow=uow).sessions) == 2
    finally:
        engine.dispose()
    db.downgrade(url, bootstrap.MIGRATIONS)
    assert not TABLES & _tables(url)
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert _tables(url) >= TABLES


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _round_trip(db.sqlite_url(tmp_path / "kintell.db"))


def test_postgresql_upgrade_downgrade_upgrade(postgres_url: str) -> None:
    _round_trip(postgres_url)
