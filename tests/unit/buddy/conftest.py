"""Buddy unit fixtures: handlers run against a migrated SQLite database in the test's folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.buddy import bootstrap
from services.buddy.repository import SqlBuddyUnitOfWork
from services.kit.persistence import db
from services.kit.security import pii


@pytest.fixture
def cipher(tmp_path: Path) -> Iterator[pii.PiiCipher]:
    """The service's field cipher on a keyring and key store under the test's folder."""
    made = pii.local(tmp_path, "buddy")
    yield made
    made.close()


@pytest.fixture
def engine(tmp_path: Path, cipher: pii.PiiCipher) -> Iterator[sa.Engine]:
    """An engine on a freshly migrated buddy database, its personal fields sealed by `cipher`."""
    url = db.sqlite_url(tmp_path / "buddy.db")
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    pii.attach(engine, cipher)
    yield engine
    engine.dispose()


@pytest.fixture
def uow(engine: sa.Engine) -> SqlBuddyUnitOfWork:
    """The buddy unit of work over that database."""
    return SqlBuddyUnitOfWork(db.UnitOfWork(engine))
