"""Fixtures of the Kintell unit tests: the real schema on a temporary SQLite database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.kintell import bootstrap
from services.kintell.repository import KintellUnitOfWork, SqlKintellUnitOfWork
from services.kit.persistence import db
from tests import sealed_db

cipher, engine = sealed_db.fixtures("kintell", bootstrap.MIGRATIONS)


@pytest.fixture
def uow(engine: sa.Engine) -> KintellUnitOfWork:
    """The connector's unit of work on that database."""
    return SqlKintellUnitOfWork(db.UnitOfWork(engine))
