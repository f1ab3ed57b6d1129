"""Two event buses of one service (two worker processes) on one durable consumer and a real NATS: only the
consumer lease's holder applies, so each person's events apply in the order they were recorded, each once;
when the holder stops, the other worker takes the lease over and applies what follows, still in order."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
import sqlalchemy as sa

from services.kit.messaging import events
from services.kit.messaging.eventbus import DLQ_STREAM, STREAM, EventBus
from services.kit.persistence import db, leases
from teei.events.v1 import envelope_pb2
from teei.profile.v1 import events_pb2, profile_pb2

MILESTONE = "journey.milestone.reached"
TTL_SECONDS = 6.0  # long beside a renewal on a loaded machine; a stopped holder releases it at once


class Applied:
    """Records (worker, subject, event id) in the order applied, across both workers' handlers."""

    def __init__(self) -> None:
        self.applied: list[tuple[str, str, str]] = []
        self._changed = threading.Condition()

    def handler(self, worker: str) -> events.Handler:
        def apply(envelope: envelope_pb2.Envelope, session: sa.orm.Session) -> None:
            with self._changed:
                self.applied.append((worker, envelope.subject, envelope.id))
                self._changed.notify_all()

        return apply

    async def wait_for(self, count: int) -> list[tuple[str, str, str]]:
        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: len(self.applied) >= count, 30.0)

        assert await asyncio.to_thread(wait), f"only {len(self.applied)} of {count} events applied"
        with self._changed:
            return list(self.applied)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    engine = db.create_engine(url or db.sqlite_url(tmp_path / "bus.db"))
    events.metadata.create_all(engine)
    leases.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
async def emptied_streams(nats_url: str) -> AsyncIterator[None]:
    nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=2)
    for stream in (STREAM, DLQ_STREAM):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream().delete_stream(stream)
    yield
    await nc.close()


def _record(engine: sa.Engine, people: list[str], count: int) -> list[envelope_pb2.Envelope]:
    envelopes = [
        events.new_event(
            events_pb2.MilestoneReached(profile_id=person, kind=profile_pb2.MILESTONE_KIND_BUDDY_MATCHED),
            source="teei/test",
            tenant="acme",
            subject=person,
        )
        for person in (people[i % len(people)] for i in range(count))
    ]
    for start in range(0, count, 25):  # several transactions, so the relay and consumers see several batches
        with db.UnitOfWork(engine).begin() as session:
            events.record_many(session, envelopes[start : start + 25])
    return envelopes


async def _worker(
    nats_url: str, engine: sa.Engine, name: str, applied: Applied
) -> tuple[EventBus, leases.LeaseKeeper, leases.LeaseKeeper]:
    relay = leases.LeaseKeeper(leases.Lease(engine, "outbox-relay", holder=name, ttl_seconds=TTL_SECONDS))
    consumers = leases.LeaseKeeper(leases.Lease(engine, "consumers", holder=name, ttl_seconds=TTL_SECONDS))
    relay.start()
    consumers.start()
    subscription = events.Subscription("profile-like", (MILESTONE,), applied.handler(name))
    bus = EventBus(
        url=nats_url,
        service="test",
        engine=engine,
        subscriptions=[subscription],
        poll_seconds=0.1,
        relay_lease=relay,
        consumer_lease=consumers,
    )
    await bus.start()
    return bus, relay, consumers


async def _stop(worker: tuple[EventBus, leases.LeaseKeeper, leases.LeaseKeeper]) -> None:
    bus, relay, consumers = worker
    await bus.stop()
    await relay.stop()
    await consumers.stop()


def _in_recorded_order(applied: list[tuple[str, str, str]], recorded: list[envelope_pb2.Envelope]) -> None:
    for person in {e.subject for e in recorded}:
        assert [i for _, s, i in applied if s == person] == [e.id for e in recorded if e.subject == person]
    assert len(applied) == len({i for _, _, i in applied}) == len(recorded)


async def test_only_the_consumer_lease_holder_applies_and_the_other_worker_takes_over_in_order(
    nats_url: str, engine: sa.Engine, emptied_streams: None
) -> None:
    applied, people = Applied(), [f"p-{i}" for i in range(4)]
    first = await _worker(nats_url, engine, "first", applied)
    deadline = time.monotonic() + 10
    while not first[2].held:
        assert time.monotonic() < deadline, "the first worker never took the consumer lease"
        await first[2].wait_changed(deadline - time.monotonic())
    second = await _worker(nats_url, engine, "second", applied)
    running = [first, second]
    try:
        early = await asyncio.to_thread(_record, engine, people, 200)
        seen = await applied.wait_for(len(early))
        assert {worker for worker, _, _ in seen} == {"first"}
        assert (first[2].held, second[2].held) == (True, False)
        running.remove(first)
        await _stop(first)
        late = await asyncio.to_thread(_record, engine, people, 200)
        seen = await applied.wait_for(len(early) + len(late))
        assert {worker for worker, _, _ in seen[len(early) :]} == {"second"}
        _in_recorded_order(seen, early + late)
    finally:
        for worker in running:
            await _stop(worker)
