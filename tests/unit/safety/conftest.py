"""A migrated SQLite database for the safety handlers and consumers, its free text sealed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.kit.persistence import db
from services.safety import bootstrap
from services.safety.repository import SqlSafetyUnitOfWork
from tests import sealed_db

cipher, engine = sealed_db.fixtures("safety", bootstrap.MIGRATIONS)


@pytest.fixture
def uow(engine: sa.Engine) -> SqlSafetyUnitOfWork:
    """The safety unit of work on that database."""
    return SqlSafetyUnitOfWork(db.UnitOfWork(engine))
