"""Leases on a real database (SQLite and PostgreSQL): one holder at a time, however many processes ask at
once; a holder's lease is taken over only once it expires or is released; a keeper renews what it holds,
and a stopped keeper's lease passes to the one still running."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.config import ServiceConfig
from services.kit.persistence import db, leases, retention


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        url = db.sqlite_url(tmp_path / "leases.db")
    else:
        url = request.getfixturevalue("postgres_url")
    engine = db.create_engine(url)
    leases.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _lease(engine: sa.Engine, holder: str, clock: Clock, ttl: float = 10.0) -> leases.Lease:
    return leases.Lease(engine, "relay", holder=holder, ttl_seconds=ttl, clock=clock)


def test_a_running_lease_is_refused_to_another_holder_and_renewed_by_its_own(engine: sa.Engine) -> None:
    clock = Clock()
    first, second = _lease(engine, "a", clock), _lease(engine, "b", clock)
    assert first.acquire()
    assert not second.acquire()
    clock.now += timedelta(seconds=9)
    assert first.acquire()  # renewed: runs 10 s from now
    clock.now += timedelta(seconds=9)
    assert not second.acquire()
    assert first.holder_now() == "a"


def test_an_expired_lease_is_taken_over_and_its_old_holder_refused(engine: sa.Engine) -> None:
    clock = Clock()
    first, second = _lease(engine, "a", clock), _lease(engine, "b", clock)
    assert first.acquire()
    clock.now += timedelta(seconds=11)
    assert first.holder_now() is None
    assert second.acquire()
    assert not first.acquire()
    assert second.holder_now() == "b"


def test_a_released_lease_is_taken_at_once(engine: sa.Engine) -> None:
    clock = Clock()
    first, second = _lease(engine, "a", clock), _lease(engine, "b", clock)
    assert first.acquire()
    second.release()  # not the holder: changes nothing
    assert not second.acquire()
    first.release()
    assert second.acquire()


def test_of_many_simultaneous_first_claims_exactly_one_wins(engine: sa.Engine) -> None:
    clock = Clock()
    claims = [_lease(engine, f"holder-{n}", clock) for n in range(8)]
    with ThreadPoolExecutor(len(claims)) as pool:
        won = list(pool.map(lambda lease: lease.acquire(), claims))
    assert won.count(True) == 1


def test_of_many_simultaneous_takeovers_of_an_expired_lease_exactly_one_wins(engine: sa.Engine) -> None:
    clock = Clock()
    assert _lease(engine, "dead", clock).acquire()
    clock.now += timedelta(seconds=11)
    claims = [_lease(engine, f"holder-{n}", clock) for n in range(8)]
    with ThreadPoolExecutor(len(claims)) as pool:
        won = list(pool.map(lambda lease: lease.acquire(), claims))
    assert won.count(True) == 1


async def _until(condition: leases.LeaseKeeper, held: bool, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while condition.held != held:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"lease {'not taken' if held else 'still held'} within {seconds} s"
        await condition.wait_changed(remaining)


async def test_two_keepers_hold_the_lease_one_at_a_time_and_the_second_takes_over_a_stopped_first(
    engine: sa.Engine,
) -> None:
    ttl = 4.0
    first = leases.LeaseKeeper(leases.Lease(engine, "relay", holder="first", ttl_seconds=ttl))
    second = leases.LeaseKeeper(leases.Lease(engine, "relay", holder="second", ttl_seconds=ttl))
    first.start()
    await _until(first, True, 10)
    second.start()
    try:
        await asyncio.wait_for(second.wait_changed(ttl), 10)  # three renewals of the first
        assert (first.held, second.held) == (True, False)
        await first.stop()
        assert (first.held, second.held) == (False, False)
        await _until(second, True, 10)
    finally:
        await first.stop()
        await second.stop()
    assert leases.Lease(engine, "relay", holder="anyone").holder_now() is None  # released on stop


class CountedRetention(retention.Retention):
    """The retention task, counting its sweeps and signalling each one."""

    def __init__(self, engine: sa.Engine, lease: leases.LeaseKeeper) -> None:
        super().__init__(engine, retention.default_rules(ServiceConfig(grpc_port=0)), interval=0.05, lease=lease)
        self.sweeps = 0
        self._swept = threading.Condition()

    def sweep(self) -> dict[str, int]:
        counts = super().sweep()
        with self._swept:
            self.sweeps += 1
            self._swept.notify_all()
        return counts

    async def wait_sweeps(self, count: int) -> None:
        def wait() -> bool:
            with self._swept:
                return self._swept.wait_for(lambda: self.sweeps >= count, 10.0)

        assert await asyncio.to_thread(wait), f"only {self.sweeps} of {count} sweeps"


async def test_of_two_retention_tasks_on_one_database_only_the_lease_holder_sweeps_until_it_stops(
    engine: sa.Engine,
) -> None:
    ttl = 4.0
    keepers = [leases.LeaseKeeper(leases.Lease(engine, "retention", holder=h, ttl_seconds=ttl)) for h in "ab"]
    keepers[0].start()
    await _until(keepers[0], True, 10)
    keepers[1].start()
    tasks = [CountedRetention(engine, keeper) for keeper in keepers]
    for task in tasks:
        task.start()
    try:
        await tasks[0].wait_sweeps(5)  # across several renewals of the lease
        assert tasks[1].sweeps == 0
        await tasks[0].stop()
        await keepers[0].stop()
        swept = tasks[0].sweeps
        await _until(keepers[1], True, 10)
        await tasks[1].wait_sweeps(2)
        assert tasks[0].sweeps == swept
    finally:
        for task, keeper in zip(tasks, keepers, strict=True):
            await task.stop()
            await keeper.stop()
