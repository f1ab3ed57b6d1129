"""Upskilling migrations upgrade, downgrade and upgrade again on SQLite and PostgreSQL (sealed rows written
back in plain text first, as the rollback of sealing requires); the connector works after."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kit.persistence import db
from services.kit.security import pii
from services.upskilling import bootstrap, handlers, queries, sealing
from services.upskilling.domain.commands import ListProgress, ReceiveWebhook
from services.upskilling.repository import SqlUpskillingUnitOfWork
from tests.unit.upskilling import support

TABLES = {
    "upskilling_progress",
    "upskilling_credentials",
    "upskilling_webhook_deliveries",
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


def _receive(engine: sa.Engine, event_id: str) -> SqlUpskillingUnitOfWork:
    uow = SqlUpskillingUnitOfWork(db.UnitOfWork(engine))
    command = ReceiveWebhook("acme", "ecornell", support.body(support.ecornell("course.started", event_id)))
    handlers.receive_webhook(command, uow=uow)
    return uow


def _round_trip(url: str, var_dir: Path) -> None:
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert TABLES | {"alembic_version_upskilling"} <= _tables(url)
    engine, cipher = db.create_engine(url), pii.local(var_dir, "upskilling")
    pii.attach(engine, cipher)
    try:
        _receive(engine, "ec-1")
        with engine.connect() as connection:
            assert pii.is_sealed(connection.execute(sa.text("SELECT email FROM upskilling_progress")).scalar_one())
        with db.UnitOfWork(engine).begin() as session:  # the rollback of sealing, before going below it
            while sealing.unseal_batch(session, cipher):
                pass
    finally:
        engine.dispose()
    db.downgrade(url, bootstrap.MIGRATIONS)
    assert _tables(url) & TABLES == set()
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    pii.attach(engine, cipher)
    try:
        uow = _receive(engine, "ec-2")
        assert len(queries.list_progress(ListProgress("acme"), uow=uow)[0]) == 1
        assert support.pending_types(engine) == ["upskilling.progress.updated"]
    finally:
        engine.dispose()
        cipher.close()


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _round_trip(db.sqlite_url(tmp_path / "nested" / "upskilling.db"), tmp_path)


def test_postgresql_upgrade_downgrade_upgrade(postgres_url: str, tmp_path: Path) -> None:
    _round_trip(postgres_url, tmp_path)
