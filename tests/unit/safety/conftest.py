"""A migrated SQLite database for the safety handlers and consumers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.persistence import db
from services.safety import bootstrap
from services.safety.repository import SqlSafetyUnitOfWork


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on a fresh, migrated safety database."""
    url = db.sqlite_url(tmp_path / "safety.db")
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def uow(engine: sa.Engine) -> SqlSafetyUnitOfWork:
    """The safety unit of work on that database."""
    return SqlSafetyUnitOfWork(db.UnitOfWork(engine))
