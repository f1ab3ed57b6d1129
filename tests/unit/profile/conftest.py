"""Fixtures for profile unit tests: a migrated SQLite database and helpers to read it back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.persistence import db
from services.kit.security import pii
from services.profile import bootstrap
from services.profile.repository import SqlProfileUnitOfWork


@pytest.fixture
def cipher(tmp_path: Path) -> Iterator[pii.PiiCipher]:
    """The profile service's field cipher on a keyring and key store under the test's folder."""
    made = pii.local(tmp_path, "profile")
    yield made
    made.close()


@pytest.fixture
def engine(tmp_path: Path, cipher: pii.PiiCipher) -> Iterator[sa.Engine]:
    """A SQLite database with every profile migration applied, its personal fields sealed by `cipher`."""
    url = db.sqlite_url(tmp_path / "profile.db")
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    pii.attach(engine, cipher)
    yield engine
    engine.dispose()


@pytest.fixture
def uow(engine: sa.Engine) -> SqlProfileUnitOfWork:
    """The profile unit of work over the test database."""
    return SqlProfileUnitOfWork(db.UnitOfWork(engine))
