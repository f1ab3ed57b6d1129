"""The unit of work: one transaction, savepoints that really nest (also on SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.persistence import db

metadata = sa.MetaData()
things = sa.Table("things", metadata, sa.Column("id", sa.Integer, primary_key=True))


def test_a_savepoint_is_rolled_back_with_its_outer_transaction(tmp_path: Path) -> None:
    engine = db.create_engine(db.sqlite_url(tmp_path / "t.db"))
    metadata.create_all(engine)
    uow = db.UnitOfWork(engine)

    def command() -> None:
        with uow.begin() as session:
            with session.begin_nested():
                session.execute(things.insert().values(id=1))
            raise RuntimeError("the command failed after the nested block")

    with pytest.raises(RuntimeError):
        command()
    with uow.begin() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(things)).scalar_one() == 0
    engine.dispose()


def test_a_failed_savepoint_keeps_the_outer_transaction(tmp_path: Path) -> None:
    engine = db.create_engine(db.sqlite_url(tmp_path / "t.db"))
    metadata.create_all(engine)
    with db.UnitOfWork(engine).begin() as session:
        session.execute(things.insert().values(id=1))
        with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
            session.execute(things.insert().values(id=1))
        session.execute(things.insert().values(id=2))
    with engine.connect() as connection:
        assert connection.execute(sa.select(things.c.id).order_by(things.c.id)).scalars().all() == [1, 2]
    engine.dispose()
