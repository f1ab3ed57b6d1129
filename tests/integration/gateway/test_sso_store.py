"""Pending SSO logins on SQLite and PostgreSQL: the migration round-trips, and racing callbacks use a state once."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.gateway import bootstrap
from services.gateway.domain import sso as rules
from services.gateway.domain.sso import Provider
from services.gateway.repository import SSO_LOGIN_RETENTION
from services.kit.persistence import db

ENVIRON = {"TEEI_KEY_ENCRYPTION_KEY": base64.b64encode(b"q" * 32).decode()}
PROVIDER = Provider(
    name="corp", issuer="https://idp.test", discovery_url="https://idp.test/d", client_id="c", client_secret="s"
)
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty gateway database of each kind."""
    if request.param == "sqlite":
        return db.sqlite_url(tmp_path / "gateway.db")
    postgres: str = request.getfixturevalue("postgres_url")
    return postgres


def _tables(url: str) -> set[str]:
    engine = db.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migration_adds_and_drops_the_pending_logins_table(url: str, tmp_path: Path) -> None:
    bootstrap.open_gateway(url, tmp_path, environ=ENVIRON).engine.dispose()
    assert "sso_logins" in _tables(url)
    db.downgrade(url, bootstrap.MIGRATIONS, "0001")
    assert "sso_logins" not in _tables(url)
    assert "signing_keys" in _tables(url)
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert "sso_logins" in _tables(url)


def test_racing_callbacks_use_a_state_exactly_once(url: str, tmp_path: Path) -> None:
    gateway = bootstrap.open_gateway(url, tmp_path, environ=ENVIRON)
    try:
        start = rules.start_login(PROVIDER, redirect_uri="https://app.test/in", now=NOW)
        with gateway.uow.begin() as store:
            store.sso_logins.add(start.pending)

        def consume(_: int) -> bool:
            with gateway.uow.begin() as store:
                found, first_use = store.sso_logins.consume(rules.hash_state(start.state), now=NOW)
            assert found is not None
            assert found.state_hash == start.pending.state_hash
            return first_use

        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = list(pool.map(consume, range(8)))
        assert outcomes.count(True) == 1
        with gateway.uow.begin() as store:
            assert store.sso_logins.consume("no-such-state", now=NOW) == (None, False)
    finally:
        gateway.engine.dispose()


def test_purge_keeps_recent_logins_and_drops_long_expired_ones(url: str, tmp_path: Path) -> None:
    gateway = bootstrap.open_gateway(url, tmp_path, environ=ENVIRON)
    try:
        old = rules.start_login(PROVIDER, redirect_uri=None, now=NOW - timedelta(days=1))
        recent = rules.start_login(PROVIDER, redirect_uri=None, now=NOW - SSO_LOGIN_RETENTION)
        with gateway.uow.begin() as store:
            store.sso_logins.add(old.pending)
            store.sso_logins.add(recent.pending)
        with gateway.uow.begin() as store:
            assert store.sso_logins.purge(now=NOW) == 1
            assert store.sso_logins.consume(old.pending.state_hash, now=NOW) == (None, False)
            assert store.sso_logins.consume(recent.pending.state_hash, now=NOW)[0] is not None
    finally:
        gateway.engine.dispose()
