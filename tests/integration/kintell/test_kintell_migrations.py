"""Kintell migrations upgrade, downgrade and upgrade again, and the connector works on the result."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kintell import bootstrap, handlers, queries, sealing
from services.kintell.domain.commands import ImportSessions, ListSessions, ReceiveWebhook
from services.kintell.repository import SqlKintellUnitOfWork
from services.kit.persistence import db
from services.kit.security import pii
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


def _round_trip(url: str, var_dir: Path) -> None:
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert {*TABLES, "alembic_version_kintell"} <= _tables(url)
    engine, cipher = db.create_engine(url), pii.local(var_dir, "kintell")
    pii.attach(engine, cipher)
    try:
        uow = SqlKintellUnitOfWork(db.UnitOfWork(engine))
        batch = handlers.import_sessions(ImportSessions("acme", csv(LANGUAGE_V1_0, language_row("k-1"))), uow=uow)
        assert batch.rows_stored == 1
        handlers.receive_session_completed(ReceiveWebhook("acme", session_body()), uow=uow)
        assert handlers.receive_session_completed(ReceiveWebhook("acme", session_body()), uow=uow).duplicate
        assert len(queries.list_sessions(ListSessions("acme"), uow=uow).sessions) == 2
        with db.UnitOfWork(engine).begin() as session:  # the rollback of sealing, before going below it
            while sealing.unseal_batch(session, cipher):
                pass
    finally:
        engine.dispose()
        cipher.close()
    db.downgrade(url, bootstrap.MIGRATIONS)
    assert not TABLES & _tables(url)
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert _tables(url) >= TABLES


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _round_trip(db.sqlite_url(tmp_path / "kintell.db"), tmp_path)


def test_postgresql_upgrade_downgrade_upgrade(postgres_url: str, tmp_path: Path) -> None:
    _round_trip(postgres_url, tmp_path)
