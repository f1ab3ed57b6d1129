"""Fixtures: a migrated SQLite database per test, its learners' fields sealed, and the connector's unit of
work over it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.kit.persistence import db
from services.upskilling import bootstrap
from services.upskilling.repository import SqlUpskillingUnitOfWork
from tests import sealed_db

cipher, engine = sealed_db.fixtures("upskilling", bootstrap.MIGRATIONS)


@pytest.fixture
def uow(engine: sa.Engine) -> SqlUpskillingUnitOfWork:
    """The connector's unit of work on that database."""
    return SqlUpskillingUnitOfWork(db.UnitOfWork(engine))
