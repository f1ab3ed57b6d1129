"""Fixtures of the Kintell unit tests: the real schema on a temporary SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kintell import bootstrap
from services.kintell.repository import KintellUnitOfWork, SqlKintellUnitOfWork
from services.kit.persistence import db
from services.kit.security import pii


@pytest.fixture
def cipher(tmp_path: Path) -> Iterator[pii.PiiCipher]:
    """The connector's field cipher on a keyring and key store under the test's folder."""
    made = pii.local(tmp_path, "kintell")
    yield made
    made.close()


@pytest.fixture
def engine(tmp_path: Path, cipher: pii.PiiCipher) -> Iterator[sa.Engine]:
    """An engine on a migrated SQLite database, its personal fields sealed by `cipher`."""
    url = db.sqlite_url(tmp_path / "kintell.db")
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    pii.attach(engine, cipher)
    yield engine
    engine.dispose()


@pytest.fixture
def uow(engine: sa.Engine) -> KintellUnitOfWork:
    """The connector's unit of work on that database."""
    return SqlKintellUnitOfWork(db.UnitOfWork(engine))
