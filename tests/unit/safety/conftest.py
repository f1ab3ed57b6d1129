"""A migrated SQLite database for the safety handlers and consumers, its free text sealed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.persistence import db
from services.kit.security import pii
from services.safety import bootstrap
from services.safety.repository import SqlSafetyUnitOfWork


@pytest.fixture
def cipher(tmp_path: Path) -> Iterator[pii.PiiCipher]:
    """The service's field cipher on a keyring and key store under the test's folder."""
    made = pii.local(tmp_path, "safety")
    yield made
    made.close()


@pytest.fixture
def engine(tmp_path: Path, cipher: pii.PiiCipher) -> Iterator[sa.Engine]:
    """An engine on a fresh, migrated safety database, its flagged texts and notes sealed by `cipher`."""
    url = db.sqlite_url(tmp_path / "safety.db")
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    pii.attach(engine, cipher)
    yield engine
    engine.dispose()


@pytest.fixture
def uow(engine: sa.Engine) -> SqlSafetyUnitOfWork:
    """The safety unit of work on that database."""
    return SqlSafetyUnitOfWork(db.UnitOfWork(engine))
