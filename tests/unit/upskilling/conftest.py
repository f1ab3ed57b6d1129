"""Fixtures: a migrated SQLite database per test, its learners' fields sealed, and the connector's unit of
work over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.persistence import db
from services.kit.security import pii
from services.upskilling import bootstrap
from services.upskilling.repository import SqlUpskillingUnitOfWork


@pytest.fixture
def cipher(tmp_path: Path) -> Iterator[pii.PiiCipher]:
    """The connector's field cipher on a keyring and key store under the test's folder."""
    made = pii.local(tmp_path, "upskilling")
    yield made
    made.close()


@pytest.fixture
def engine(tmp_path: Path, cipher: pii.PiiCipher) -> Iterator[sa.Engine]:
    """A real SQLite database with the connector's migrations applied, its personal fields sealed by `cipher`."""
    url = db.sqlite_url(tmp_path / "upskilling.db")
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    pii.attach(engine, cipher)
    yield engine
    engine.dispose()


@pytest.fixture
def uow(engine: sa.Engine) -> SqlUpskillingUnitOfWork:
    """The connector's unit of work on that database."""
    return SqlUpskillingUnitOfWork(db.UnitOfWork(engine))
