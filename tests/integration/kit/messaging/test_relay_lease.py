"""Two event buses (two worker processes of one service) on one outbox and a real NATS: only the relay
lease's holder publishes, each event once; once it stops, the other takes the lease over and publishes."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
import sqlalchemy as sa
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from services.kit.messaging import events
from services.kit.messaging.eventbus import STREAM, EventBus
from services.kit.persistence import db, leases
from teei.events.v1 import envelope_pb2
from teei.profile.v1 import events_pb2, profile_pb2

TTL_SECONDS = 6.0  # long beside a renewal on a loaded machine; a stopped holder releases it at once


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    engine = db.create_engine(url or db.sqlite_url(tmp_path / "outbox.db"))
    events.metadata.create_all(engine)
    leases.metadata.create_all(engine)
    yield engine
    engine.dispose()


class Published:
    """Every message published on the events' subjects as plain NATS sees it: a second publish of one event
    shows here even when JetStream drops it as a duplicate."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self._changed = asyncio.Event()

    async def seen(self, msg: Msg) -> None:
        self.counts[events.Envelope.FromString(msg.data).id] += 1
        self._changed.set()

    async def wait_for(self, event_ids: set[str], seconds: float = 20.0) -> None:
        deadline = time.monotonic() + seconds
        while not event_ids <= set(self.counts):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{len(event_ids - set(self.counts))} events never published"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
            self._changed.clear()


@pytest.fixture
async def published(nats_url: str) -> AsyncIterator[Published]:
    nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=2)
    try:
        yield await _watching(nc)
    finally:
        await nc.close()


async def _watching(nc: NatsClient) -> Published:
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await nc.jetstream().delete_stream(STREAM)
    seen = Published()
    await nc.subscribe(events.SUBJECT_PREFIX + ">", cb=seen.seen)
    return seen


def _record(engine: sa.Engine, count: int) -> set[str]:
    payloads = [
        events_pb2.MilestoneReached(profile_id=f"p-{n}", kind=profile_pb2.MILESTONE_KIND_BUDDY_MATCHED)
        for n in range(count)
    ]
    envelopes: list[envelope_pb2.Envelope] = [
        events.new_event(payload, source="teei/test", tenant="acme", subject=payload.profile_id) for payload in payloads
    ]
    with db.UnitOfWork(engine).begin() as session:
        events.record_many(session, envelopes)
    return {envelope.id for envelope in envelopes}


async def _all_marked(engine: sa.Engine) -> None:
    deadline = time.monotonic() + 10
    while True:
        with db.UnitOfWork(engine).read() as session:
            if not events.pending(session):
                return
        assert time.monotonic() < deadline, "published events never marked"
        await asyncio.sleep(0.02)  # polling interval of a bounded wait


async def _worker(nats_url: str, engine: sa.Engine, holder: str) -> tuple[EventBus, leases.LeaseKeeper]:
    keeper = leases.LeaseKeeper(leases.Lease(engine, "outbox-relay", holder=holder, ttl_seconds=TTL_SECONDS))
    keeper.start()
    bus = EventBus(url=nats_url, service="test", engine=engine, poll_seconds=0.1, relay_lease=keeper)
    await bus.start()
    return bus, keeper


async def test_only_the_lease_holder_relays_and_the_other_worker_takes_over_when_it_stops(
    nats_url: str, engine: sa.Engine, published: Published
) -> None:
    first = await _worker(nats_url, engine, "first")
    deadline = time.monotonic() + 10
    while not first[1].held:
        assert time.monotonic() < deadline, "the first worker never took the lease"
        await first[1].wait_changed(deadline - time.monotonic())
    second = await _worker(nats_url, engine, "second")
    running = [first, second]
    try:
        early = _record(engine, 50)
        await published.wait_for(early)
        await _all_marked(engine)  # else stopping republishes the batch it had not marked yet (JetStream drops it)
        assert (first[1].held, second[1].held) == (True, False)
        running.remove(first)
        await first[0].stop()
        await first[1].stop()
        late = _record(engine, 50)
        await published.wait_for(late)
        assert (first[1].held, second[1].held) == (False, True)
        assert {event_id: n for event_id, n in published.counts.items() if n > 1} == {}
    finally:
        for bus, keeper in running:
            await bus.stop()
            await keeper.stop()
