"""Gateway migrations upgrade and downgrade on SQLite and PostgreSQL, and the ring works on both; sealed
personal fields (revisions 0008 and 0009) hold the downgrade back until they are unsealed."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.gateway import bootstrap, handlers, queries, sealing
from services.gateway.domain.clients import Client
from services.gateway.domain.commands import ReceivePrivacyRequest
from services.gateway.tables import oauth_clients, privacy_requests
from services.kit.persistence import db
from services.kit.security import pii
from tests.unit.gateway.conftest import FakeClock

ENVIRON = {"TEEI_KEY_ENCRYPTION_KEY": base64.b64encode(b"m" * 32).decode()}
TABLES = {"signing_keys", "oauth_clients", "privacy_requests", "alembic_version_gateway"}
EMAIL = "ada@example.org"


def _tables(url: str) -> set[str]:
    engine = db.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _round_trip(url: str, var_dir: Path) -> None:
    cipher = pii.local(var_dir, "gateway")
    gateway = bootstrap.open_gateway(url, var_dir, environ=ENVIRON, cipher=cipher)
    try:
        assert _tables(url) >= TABLES
        assert len(gateway.keys.published()) == 2
        assert gateway.keys.sign({"sub": "x"}).count(".") == 2
        command = ReceivePrivacyRequest(kind="export", company_id="acme", requested_by="a", email=EMAIL, reason="r")
        clock = FakeClock(gateway.keys.published()[0].created_at)
        request, _ = handlers.receive_privacy_request(command, services=("profile",), uow=gateway.uow, clock=clock)
        with gateway.uow.begin() as repo:
            repo.clients.add(Client("hris", "acme", "integration", frozenset(), "$argon2id$x", clock(), email=EMAIL))
        with gateway.engine.connect() as connection:
            assert pii.is_sealed(connection.execute(sa.select(privacy_requests.c.subject_email)).scalar_one())
            assert pii.is_sealed(connection.execute(sa.select(oauth_clients.c.email)).scalar_one())
        with pytest.raises(RuntimeError, match="unseal"):
            db.downgrade(url, bootstrap.MIGRATIONS)
        with db.UnitOfWork(gateway.engine).begin() as session:  # the rollback of sealing, before going below it
            while sealing.unseal_batch(session, cipher):
                pass
        viewer = queries.Viewer("acme", "a", sees_company=True)
        assert queries.get_privacy_request(request.request_id, viewer, uow=gateway.uow)[0].subject.email == EMAIL
        with gateway.engine.connect() as connection:
            assert connection.execute(sa.select(oauth_clients.c.email)).scalar_one() == EMAIL
    finally:
        gateway.engine.dispose()
        cipher.close()
    db.downgrade(url, bootstrap.MIGRATIONS)
    assert not ({"signing_keys", "oauth_clients", "privacy_requests"} & _tables(url))
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert _tables(url) >= TABLES


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _round_trip(db.sqlite_url(tmp_path / "nested" / "gateway.db"), tmp_path)


def test_postgresql_upgrade_downgrade_upgrade(postgres_url: str, tmp_path: Path) -> None:
    _round_trip(postgres_url, tmp_path)
