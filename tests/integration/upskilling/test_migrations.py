"""Upskilling migrations upgrade, downgrade and upgrade again on SQLite and PostgreSQL; the connector works after."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kit.persistence import db
from services.upskilling import bootstrap, handlers, queries
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


def _round_trip(url: str) -> None:
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert TABLES | {"alembic_version_upskilling"} <= _tables(url)
    db.downgrade(url, bootstrap.MIGRATIONS)
    assert _tables(url) & TABLES == set()
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    try:
        uow = SqlUpskillingUnitOfWork(db.UnitOfWork(engine))
        command = ReceiveWebhook("acme", "ecornell", support.body(support.ecornell("course.started")))
        handlers.receive_webhook(command, uow=uow)
        assert len(queries.list_progress(ListProgress("acme"), uow=uow)[0]) == 1
        assert support.pending_types(engine) == ["upskilling.progress.updated"]
    finally:
        engine.dispose()


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _round_trip(db.sqlite_url(tmp_path / "nested" / "upskilling.db"))


def test_postgresql_upgrade_downgrade_upgrade(postgres_url: str) -> None:
    _round_trip(postgres_url)
