"""A migrated SQLite Q2Q database, its notes, held texts and evidence sealed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.kit.persistence import db
from services.q2q import bootstrap
from tests import sealed_db

cipher, engine = sealed_db.fixtures("q2q", bootstrap.MIGRATIONS)


@pytest.fixture
def uow(engine: sa.Engine) -> db.UnitOfWork:
    """Sessions on that database."""
    return db.UnitOfWork(engine)
