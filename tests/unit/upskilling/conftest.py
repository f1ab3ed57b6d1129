"""Fixtures: a migrated SQLite database per test and the connector's unit of work over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.persistence import db
from services.upskilling import bootstrap
from services.upskilling.repository import SqlUpskillingUnitOfWork


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """A real SQLite database with the connector's migrations applied."""
    url = db.sqlite_url(tmp_path / "upskilling.db")
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def uow(engine: sa.Engine) -> SqlUpskillingUnitOfWork:
    """The connector's unit of work on that database."""
    return SqlUpskillingUnitOfWork(db.UnitOfWork(engine))
