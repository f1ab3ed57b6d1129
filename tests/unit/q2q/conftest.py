"""A migrated SQLite Q2Q database, its notes, held texts and evidence sealed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.persistence import db
from services.kit.security import pii
from services.q2q import bootstrap


@pytest.fixture
def cipher(tmp_path: Path) -> Iterator[pii.PiiCipher]:
    """The service's field cipher on a keyring and key store under the test's folder."""
    made = pii.local(tmp_path, "q2q")
    yield made
    made.close()


@pytest.fixture
def engine(tmp_path: Path, cipher: pii.PiiCipher) -> Iterator[sa.Engine]:
    """An engine on a fresh, migrated Q2Q database, its free text sealed by `cipher`."""
    url = db.sqlite_url(tmp_path / "q2q.db")
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    pii.attach(engine, cipher)
    yield engine
    engine.dispose()


@pytest.fixture
def uow(engine: sa.Engine) -> db.UnitOfWork:
    """Sessions on that database."""
    return db.UnitOfWork(engine)
