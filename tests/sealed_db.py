"""The fixtures every personal-data service's unit tests share: its field cipher on a keyring under the
test's folder, and an engine on a freshly migrated SQLite database whose personal fields it seals.

A service's `conftest.py` takes both with `cipher, engine = sealed_db.fixtures("buddy", bootstrap.MIGRATIONS)`
and adds its own unit of work over `engine`; its tests read the database file with `file_bytes`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.messaging.events import outbox
from services.kit.persistence import db
from services.kit.security import pii

CipherFixture = Callable[[Path], Iterator[pii.PiiCipher]]
EngineFixture = Callable[[Path, pii.PiiCipher], Iterator[sa.Engine]]


def fixtures(service: str, migrations: Path) -> tuple[CipherFixture, EngineFixture]:
    """The `cipher` and `engine` fixtures of `service`, whose Alembic revisions are in `migrations`."""

    @pytest.fixture(name="cipher")
    def cipher_fixture(tmp_path: Path) -> Iterator[pii.PiiCipher]:
        """The service's field cipher on a keyring and key store under the test's folder."""
        made = pii.local(tmp_path, service)
        yield made
        made.close()

    @pytest.fixture(name="engine")
    def engine_fixture(tmp_path: Path, cipher: pii.PiiCipher) -> Iterator[sa.Engine]:
        """An engine on the service's freshly migrated database, its personal fields sealed by `cipher`."""
        url = db.sqlite_url(tmp_path / f"{service}.db")
        db.upgrade(url, migrations)
        engine = db.create_engine(url)
        pii.attach(engine, cipher)
        yield engine
        engine.dispose()

    return cipher_fixture, engine_fixture


def file_bytes(engine: sa.Engine) -> bytes:
    """The database file as a thief would copy it, once the outbox has been published and pruned."""
    with engine.begin() as connection:
        connection.execute(sa.delete(outbox))  # event payloads carry e-mails by design (JetStream's own cipher)
    path = Path(str(engine.url.database))
    with sqlite3.connect(path) as connection:
        connection.execute("VACUUM")  # the pruned envelopes' free pages go
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
