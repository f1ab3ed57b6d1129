"""Fixtures for profile unit tests: a migrated SQLite database and helpers to read it back."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.kit.persistence import db
from services.profile import bootstrap
from services.profile.repository import SqlProfileUnitOfWork
from tests import sealed_db

cipher, engine = sealed_db.fixtures("profile", bootstrap.MIGRATIONS)


@pytest.fixture
def uow(engine: sa.Engine) -> SqlProfileUnitOfWork:
    """The profile unit of work over the test database."""
    return SqlProfileUnitOfWork(db.UnitOfWork(engine))
