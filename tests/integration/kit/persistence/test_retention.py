"""Retention of de-duplication records on real, migrated service databases: exactly the expired rows go."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa

from services.buddy import bootstrap as buddy_bootstrap
from services.kintell import bootstrap as kintell_bootstrap
from services.kit.config import ServiceConfig
from services.kit.persistence import db, retention
from services.kit.testing import running
from services.profile import bootstrap as profile_bootstrap
from services.upskilling import bootstrap as upskilling_bootstrap

NOW = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)
CONFIG = ServiceConfig(grpc_port=0)  # the defaults: inbox 14 d, published outbox 7 d, webhook de-dup 30 d


def _migrated(url: str, migrations: Path) -> Iterator[sa.Engine]:
    db.upgrade(url, migrations)
    engine = db.create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def kintell_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """The Kintell connector's database, migrated to head, on SQLite and on PostgreSQL."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from _migrated(url or db.sqlite_url(tmp_path / "kintell.db"), kintell_bootstrap.MIGRATIONS)


def _insert(engine: sa.Engine, name: str, *rows: dict[str, object]) -> None:
    """Rows of `name`, every required column not given filled with a distinct placeholder."""
    table = sa.Table(name, sa.MetaData(), autoload_with=engine)
    required = [c for c in table.columns if not c.nullable and c.name not in rows[0]]
    filled = [{**row, **{c.name: f"{c.name[:8]}-{i}" for c in required}} for i, row in enumerate(rows)]
    with engine.begin() as connection:
        connection.execute(table.insert(), filled)


def _left(engine: sa.Engine, name: str, column: str) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(sa.text(f"SELECT {column} FROM {name}")).scalars())


def _ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def _key(key: str, state: str, expires_at: datetime) -> dict[str, object]:
    created_at = expires_at - timedelta(hours=24)
    return {"tenant": "acme", "key": key, "state": state, "created_at": created_at, "expires_at": expires_at}


def _seed(engine: sa.Engine) -> None:
    _insert(
        engine,
        "idempotency_keys",
        _key("expired-answer", "COMPLETED", _ago(seconds=1)),
        _key("abandoned-claim", "PENDING", _ago(minutes=1)),
        _key("live-answer", "COMPLETED", _ago(seconds=-1)),
        _key("live-claim", "PENDING", _ago(minutes=-4)),
    )
    _insert(
        engine,
        "inbox",
        {"consumer": "c", "event_id": "old", "processed_at": _ago(days=14, seconds=1)},
        {"consumer": "c", "event_id": "recent", "processed_at": _ago(days=13, hours=23)},
    )
    old = {"event_type": "t", "envelope": b"e", "created_at": _ago(days=40)}
    _insert(
        engine,
        "outbox",
        {**old, "event_id": "published-long-ago", "published_at": _ago(days=7, seconds=1)},
        {**old, "event_id": "published-recently", "published_at": _ago(days=6, hours=23)},
        {**old, "event_id": "never-published", "published_at": None},
    )
    _insert(
        engine,
        "kintell_webhook_deliveries",
        {"delivery_id": "old", "received_at": _ago(days=30, seconds=1)},
        {"delivery_id": "recent", "received_at": _ago(days=29, hours=23)},
    )


def test_a_sweep_deletes_exactly_the_expired_rows_of_each_kind(kintell_engine: sa.Engine) -> None:
    _seed(kintell_engine)
    task = retention.Retention(kintell_engine, retention.default_rules(CONFIG), interval=3600, clock=lambda: NOW)
    counts = task.sweep()
    assert counts == {"idempotency_keys": 2, "inbox": 1, "outbox": 1, "kintell_webhook_deliveries": 1}
    assert _left(kintell_engine, "idempotency_keys", "key") == ["live-answer", "live-claim"]
    assert _left(kintell_engine, "inbox", "event_id") == ["recent"]
    assert _left(kintell_engine, "outbox", "event_id") == ["never-published", "published-recently"]
    assert _left(kintell_engine, "kintell_webhook_deliveries", "delivery_id") == ["recent"]
    assert task.sweep() == dict.fromkeys(counts, 0)


def test_retention_periods_come_from_the_settings(tmp_path: Path) -> None:
    config = CONFIG.model_copy(
        update={"inbox_retention_days": 1.0, "outbox_retention_days": 2.0, "webhook_dedup_retention_days": 3.0}
    )
    for engine in _migrated(db.sqlite_url(tmp_path / "kintell.db"), kintell_bootstrap.MIGRATIONS):
        _seed(engine)
        retention.Retention(engine, retention.default_rules(config), interval=3600, clock=lambda: NOW).sweep()
        assert _left(engine, "inbox", "event_id") == []
        assert _left(engine, "outbox", "event_id") == ["never-published"]
        assert _left(engine, "kintell_webhook_deliveries", "delivery_id") == []


@pytest.mark.parametrize(
    ("bootstrap", "table", "key"),
    [
        (buddy_bootstrap, "buddy_webhook_deliveries", "delivery_id"),
        (upskilling_bootstrap, "upskilling_webhook_deliveries", "event_id"),
    ],
    ids=["buddy", "upskilling"],
)
def test_every_connectors_webhook_dedup_table_is_swept_in_bounded_batches(
    tmp_path: Path, bootstrap: ModuleType, table: str, key: str
) -> None:
    for engine in _migrated(db.sqlite_url(tmp_path / "connector.db"), bootstrap.MIGRATIONS):
        old = [{key: f"old-{i}", "received_at": _ago(days=31 + i)} for i in range(5)]
        _insert(engine, table, *old, {key: "recent", "received_at": _ago(days=1)})
        task = retention.Retention(engine, retention.default_rules(CONFIG), interval=3600, clock=lambda: NOW)
        task.batch_size = 2
        assert task.sweep()[table] == 5
        assert _left(engine, table, key) == ["recent"]


async def test_the_server_sweeps_periodically_and_stops_cleanly(tmp_path: Path) -> None:
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path / "var", retention_interval_seconds=0.05)
    service = profile_bootstrap.build(config)
    assert service.engine is not None
    async with running(service) as (server, _):
        assert server.retention is not None
        # Inserted after the start-up sweep: only a later, periodic sweep removes it.
        _insert(service.engine, "idempotency_keys", _key("expired", "COMPLETED", datetime.now(UTC)))
        deadline = time.monotonic() + 10
        while _left(service.engine, "idempotency_keys", "key"):
            assert time.monotonic() < deadline, "the expired key was never swept"
            await asyncio.sleep(0.02)  # polling interval of a bounded wait
    task = server.retention._task
    assert task is not None
    assert task.done()
    assert task.exception() is None


async def test_stopping_does_not_wait_for_the_next_interval(tmp_path: Path) -> None:
    for engine in _migrated(db.sqlite_url(tmp_path / "kintell.db"), kintell_bootstrap.MIGRATIONS):
        task = retention.Retention(engine, retention.default_rules(CONFIG), interval=3600)
        task.start()
        started = time.monotonic()
        await asyncio.wait_for(task.stop(), 10)
        assert time.monotonic() - started < 5
