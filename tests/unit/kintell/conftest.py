"""Fixtures of the Kintell unit tests: the real schema on a temporary SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kintell import bootstrap
from services.kintell.repository import KintellUnitOfWork, SqlKintellUnitOfWork
from services.kit.persistence import db


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on a migrated SQLite database."""
    url = db.sqlite_url(tmp_path / "kintell.db")
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def uow(engine: sa.Engine) -> KintellUnitOfWork:
    """The connector's unit of work on that database."""
    return SqlKintellUnitOfWork(db.UnitOfWork(engine))
