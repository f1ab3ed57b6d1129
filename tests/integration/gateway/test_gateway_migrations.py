"""Gateway migrations upgrade and downgrade on SQLite and PostgreSQL, and the ring works on both."""

from __future__ import annotations

import base64
from pathlib import Path

import sqlalchemy as sa

from services.gateway import bootstrap
from services.kit.persistence import db

ENVIRON = {"TEEI_KEY_ENCRYPTION_KEY": base64.b64encode(b"m" * 32).decode()}
TABLES = {"signing_keys", "oauth_clients", "alembic_version_gateway"}


def _tables(url: str) -> set[str]:
    engine = db.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _round_trip(url: str, var_dir: Path) -> None:
    gateway = bootstrap.open_gateway(url, var_dir, environ=ENVIRON)
    try:
        assert _tables(url) >= TABLES
        assert len(gateway.keys.published()) == 2
        assert gateway.keys.sign({"sub": "x"}).count(".") == 2
    finally:
        gateway.engine.dispose()
    db.downgrade(url, bootstrap.MIGRATIONS)
    assert not ({"signing_keys", "oauth_clients"} & _tables(url))
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert _tables(url) >= TABLES


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _round_trip(db.sqlite_url(tmp_path / "nested" / "gateway.db"), tmp_path)


def test_postgresql_upgrade_downgrade_upgrade(postgres_url: str, tmp_path: Path) -> None:
    _round_trip(postgres_url, tmp_path)
