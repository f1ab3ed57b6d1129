"""Safety migrations upgrade, downgrade and upgrade again, and the service works on the result."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.security import pii
from services.kit.text_sources import TextSourceType
from services.safety import bootstrap, handlers, queries, sealing
from services.safety.domain.commands import GetFlag, ScreenText
from services.safety.domain.model import TextSource
from services.safety.repository import SqlSafetyUnitOfWork

TABLES = {"safety_flags", "safety_reviews", "safety_review_actions", "outbox", "inbox"}


def _tables(url: str) -> set[str]:
    engine = db.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _works(url: str, var_dir: Path) -> None:
    engine, cipher = db.create_engine(url), pii.local(var_dir, "safety")
    pii.attach(engine, cipher)
    try:
        uow = SqlSafetyUnitOfWork(db.UnitOfWork(engine))
        source = TextSource("m-1", TextSourceType.SURVEY_RESPONSE, "")
        result = handlers.screen_text(ScreenText("acme", "you are such an idiot", source), uow=uow)
        assert queries.get_flag(GetFlag("acme", result.flag_id), uow=uow).review_id == result.review_id
        with db.UnitOfWork(engine).begin() as session:
            assert [e.type for e in events.pending(session)] == ["safety.flag.raised"]
        with db.UnitOfWork(engine).begin() as session:  # the rollback of sealing, before going below it
            while sealing.unseal_batch(session, cipher):
                pass
    finally:
        engine.dispose()
        cipher.close()


def _round_trip(url: str, var_dir: Path) -> None:
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert {*TABLES, "alembic_version_safety"} <= _tables(url)
    _works(url, var_dir)
    db.downgrade(url, bootstrap.MIGRATIONS)
    assert not TABLES & _tables(url)
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert _tables(url) >= TABLES
    _works(url, var_dir)


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _round_trip(db.sqlite_url(tmp_path / "nested" / "safety.db"), tmp_path)


def test_postgresql_upgrade_downgrade_upgrade(postgres_url: str, tmp_path: Path) -> None:
    _round_trip(postgres_url, tmp_path)
