"""Read-only transactions of the persistence kit: on SQLite a read runs beside a writer holding the write
lock (deferred BEGIN under WAL) and cannot write (PRAGMA query_only); on PostgreSQL a read is a READ ONLY
transaction at READ COMMITTED. Writers keep BEGIN IMMEDIATE."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services.kit.persistence import db

metadata = sa.MetaData()
notes = sa.Table("notes", metadata, sa.Column("note_id", sa.Integer, primary_key=True), sa.Column("text", sa.String))
BUSY_MS = 300


def _short_busy_timeout(dbapi_connection: Any, _: Any) -> None:
    dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_MS}")


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[sa.Engine]:
    """A production SQLite engine whose busy timeout is short, so a read that waits on the lock fails fast."""
    engine = db.create_engine(db.sqlite_url(tmp_path / "notes.db"))
    sa.event.listen(engine, "connect", _short_busy_timeout)
    metadata.create_all(engine)
    with db.UnitOfWork(engine).begin() as session:
        session.execute(notes.insert().values(note_id=1, text="committed"))
    yield engine
    engine.dispose()


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[sa.Engine]:
    """A production PostgreSQL engine with the notes table."""
    engine = db.create_engine(postgres_url)
    metadata.create_all(engine)
    with db.UnitOfWork(engine).begin() as session:
        session.execute(notes.insert().values(note_id=1, text="committed"))
    yield engine
    engine.dispose()


def _texts(session: sa.orm.Session) -> list[str]:
    return list(session.execute(sa.select(notes.c.text).order_by(notes.c.note_id)).scalars())


def test_a_sqlite_read_proceeds_while_another_connection_holds_the_write_lock(sqlite: sa.Engine) -> None:
    uow = db.UnitOfWork(sqlite)
    with sqlite.connect() as writer:
        writer.execute(notes.insert().values(note_id=2, text="uncommitted"))  # BEGIN IMMEDIATE: lock held
        started = time.monotonic()
        with uow.read() as session:
            seen = _texts(session)
        waited = time.monotonic() - started
        with pytest.raises(sa.exc.OperationalError, match="database is locked"), uow.begin() as session:
            session.execute(notes.update().values(text="blocked"))  # a writer still waits for the lock
    assert seen == ["committed"]  # the last committed snapshot, not the writer's row
    assert waited < BUSY_MS / 1000 / 2


def test_a_sqlite_read_refuses_writes_and_the_connection_writes_again_afterwards(sqlite: sa.Engine) -> None:
    uow = db.UnitOfWork(sqlite)
    with pytest.raises(sa.exc.OperationalError, match="readonly database"), uow.read() as session:
        session.execute(notes.insert().values(note_id=2, text="from a read"))
    with uow.begin() as session:
        session.execute(notes.insert().values(note_id=3, text="from a writer"))
    with uow.read() as session:
        assert _texts(session) == ["committed", "from a writer"]


def test_sqlite_reads_begin_deferred_and_writes_begin_immediate(sqlite: sa.Engine) -> None:
    uow, begun = db.UnitOfWork(sqlite), []

    def record(_: object, __: object, statement: str, *args: object) -> None:
        if statement.startswith("BEGIN"):
            begun.append(statement)

    sa.event.listen(sqlite, "before_cursor_execute", record)
    with uow.read() as session:
        _texts(session)
    with uow.begin() as session:
        _texts(session)
    assert begun == ["BEGIN", "BEGIN IMMEDIATE"]


def test_a_postgresql_read_is_read_only_at_read_committed_and_refuses_writes(postgres: sa.Engine) -> None:
    uow = db.UnitOfWork(postgres)
    with uow.read() as session:
        assert session.execute(sa.text("SHOW transaction_read_only")).scalar_one() == "on"
        assert session.execute(sa.text("SHOW transaction_isolation")).scalar_one() == "read committed"
    with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"), uow.read() as session:
        session.execute(notes.insert().values(note_id=2, text="from a read"))
    with uow.begin() as session:
        assert session.execute(sa.text("SHOW transaction_read_only")).scalar_one() == "off"
        session.execute(notes.insert().values(note_id=3, text="from a writer"))
    with uow.read() as session:
        assert _texts(session) == ["committed", "from a writer"]
