"""Buddy unit fixtures: handlers run against a migrated SQLite database in the test's folder."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.buddy import bootstrap
from services.buddy.repository import SqlBuddyUnitOfWork
from services.kit.persistence import db
from tests import sealed_db

cipher, engine = sealed_db.fixtures("buddy", bootstrap.MIGRATIONS)


@pytest.fixture
def uow(engine: sa.Engine) -> SqlBuddyUnitOfWork:
    """The buddy unit of work over that database."""
    return SqlBuddyUnitOfWork(db.UnitOfWork(engine))
