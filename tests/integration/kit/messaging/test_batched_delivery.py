"""The relay's windows of pipelined publishes and the consumers' batched applies, against a real NATS
JetStream server: each event published once and marked, applied once, a poison event dead-lettered
without holding up the rest, and one person's events applied in the order they were recorded."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
import sqlalchemy as sa

from services.kit.messaging import eventbus, events
from services.kit.messaging.eventbus import DLQ_PREFIX, DLQ_STREAM, STREAM, EventBus, RetryPolicy
from services.kit.persistence import db
from teei.events.v1 import envelope_pb2
from teei.profile.v1 import events_pb2, profile_pb2

MILESTONE = "journey.milestone.reached"


class Applied:
    """A handler that records (subject, event id) in the order applied; fails every delivery naming `poison`."""

    def __init__(self, poison: str = "") -> None:
        self.poison = poison
        self.applied: list[tuple[str, str]] = []
        self._changed = threading.Condition()

    def __call__(self, envelope: envelope_pb2.Envelope, session: sa.orm.Session) -> None:
        if envelope.subject == self.poison:
            raise RuntimeError("this event cannot be applied")
        with self._changed:
            self.applied.append((envelope.subject, envelope.id))
            self._changed.notify_all()

    async def wait_for(self, count: int) -> list[tuple[str, str]]:
        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: len(self.applied) >= count, 20.0)

        assert await asyncio.to_thread(wait), f"only {len(self.applied)} of {count} events applied"
        return self.applied


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    engine = db.create_engine(url or db.sqlite_url(tmp_path / "bus.db"))
    events.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[nats.js.JetStreamContext]:
    """A JetStream context on streams emptied for the test."""
    nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=2)
    context = nc.jetstream()
    for stream in (STREAM, DLQ_STREAM):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await context.delete_stream(stream)
    yield context
    await nc.close()


def _milestone(person: str) -> envelope_pb2.Envelope:
    payload = events_pb2.MilestoneReached(profile_id=person, kind=profile_pb2.MILESTONE_KIND_BUDDY_MATCHED)
    return events.new_event(payload, source="teei/test", tenant="acme", subject=person)


def _record(engine: sa.Engine, envelopes: list[envelope_pb2.Envelope]) -> None:
    with db.UnitOfWork(engine).begin() as session:
        events.record_many(session, envelopes)


def _pending(engine: sa.Engine) -> list[str]:
    with db.UnitOfWork(engine).read() as session:
        return [e.id for e in events.pending(session, limit=10_000)]


async def _claimed(engine: sa.Engine, count: int) -> list[str]:
    """The inbox's event ids once it holds `count` (a handler runs before its batch commits), or after 20 s."""

    def read() -> list[str]:
        with db.UnitOfWork(engine).read() as session:
            return list(session.execute(sa.select(events.inbox.c.event_id)).scalars())

    for _ in range(400):
        claimed = await asyncio.to_thread(read)
        if len(claimed) >= count:
            break
        await asyncio.sleep(0.05)  # polling a database the bus writes from its own threads
    return claimed


async def _stream_ids(js: nats.js.JetStreamContext) -> list[str]:
    """The event ids the events stream holds, in stream order."""
    count = (await js.stream_info(STREAM)).state.messages
    ids = []
    for seq in range(1, count + 1):
        stored = await js.get_msg(STREAM, seq)
        ids.append(envelope_pb2.Envelope.FromString(stored.data or b"").id)
    return ids


async def test_the_relay_publishes_a_batch_of_several_windows_once_in_order_and_marks_it(
    nats_url: str, engine: sa.Engine, js: nats.js.JetStreamContext
) -> None:
    recorded = [_milestone(f"p-{i % 9}") for i in range(2 * eventbus.RELAY_WINDOW + 37)]
    _record(engine, recorded)
    bus = EventBus(url=nats_url, service="test", engine=engine, poll_seconds=0.2)
    await bus.start()
    await bus.stop()  # stop publishes what is pending
    assert _pending(engine) == []
    assert await _stream_ids(js) == [e.id for e in recorded]
    # A crash between publishing and marking: the rows are published again, and JetStream keeps one copy.
    with db.UnitOfWork(engine).begin() as session:
        session.execute(events.outbox.update().values(published_at=None))
    bus = EventBus(url=nats_url, service="test", engine=engine, poll_seconds=0.2)
    await bus.start()
    await bus.stop()
    assert _pending(engine) == []
    assert await _stream_ids(js) == [e.id for e in recorded]


async def test_a_batch_holding_two_copies_of_an_event_applies_it_once(
    nats_url: str, engine: sa.Engine, js: nats.js.JetStreamContext
) -> None:
    await eventbus.ensure_stream(js)
    twice, others = _milestone("p-twice"), [_milestone(f"p-{i}") for i in range(10)]
    subject = events.nats_subject(MILESTONE)
    # Everything is in the stream before the consumer starts, so its first pull fetches both copies together
    # (two message ids, past JetStream's de-duplication: the inbox is what stops the second).
    for msg_id, envelope in [("first", twice), *((e.id, e) for e in others), ("second", twice)]:
        await js.publish(subject, envelope.SerializeToString(), headers={"Nats-Msg-Id": msg_id})
    handler = Applied()
    subscription = events.Subscription("dup-batch", (MILESTONE,), handler)
    bus = EventBus(url=nats_url, service="test", engine=engine, subscriptions=[subscription], poll_seconds=0.2)
    await bus.start()
    try:
        marker = _milestone("p-marker")
        await js.publish(subject, marker.SerializeToString(), headers={"Nats-Msg-Id": marker.id})
        applied = await handler.wait_for(12)  # in stream order: once the marker is applied, all before it were
    finally:
        await bus.stop()
    assert [event_id for _, event_id in applied] == [twice.id, *(e.id for e in others), marker.id]
    assert sorted(await _claimed(engine, 12)) == sorted([twice.id, *(e.id for e in others), marker.id])


async def test_a_poison_event_in_a_batch_is_dead_lettered_and_the_rest_apply_once(
    nats_url: str, engine: sa.Engine, js: nats.js.JetStreamContext
) -> None:
    recorded = [_milestone(f"p-{i}") for i in range(30)]
    poison = recorded[11]
    poison.subject = "p-poison"
    _record(engine, recorded)
    handler = Applied(poison="p-poison")
    subscription = events.Subscription("poison-batch", (MILESTONE,), handler)
    retry = RetryPolicy(max_deliver=2, base_seconds=0.05, max_seconds=0.1)
    bus = EventBus(url=nats_url, service="test", engine=engine, subscriptions=[subscription], retry=retry)
    await bus.start()
    try:
        applied = await handler.wait_for(len(recorded) - 1)

        async def dead_letters() -> int:
            for _ in range(200):
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    state = (await js.stream_info(DLQ_STREAM, subjects_filter=DLQ_PREFIX + "poison-batch")).state
                    if state.messages:
                        return state.messages
                await asyncio.sleep(0.05)  # polling the dead-letter stream the bus writes to
            return 0

        assert await dead_letters() == 1
    finally:
        await bus.stop()
    assert sorted(event_id for _, event_id in applied) == sorted(e.id for e in recorded if e is not poison)
    dead = await js.get_last_msg(DLQ_STREAM, DLQ_PREFIX + "poison-batch")
    assert envelope_pb2.Envelope.FromString(dead.data or b"").id == poison.id
    assert sorted(await _claimed(engine, len(recorded) - 1)) == sorted(e.id for e in recorded if e is not poison)


async def test_each_persons_events_apply_in_the_order_they_were_recorded(
    nats_url: str, engine: sa.Engine, js: nats.js.JetStreamContext
) -> None:
    people = [f"p-{i}" for i in range(5)]
    recorded = [_milestone(people[i % len(people)]) for i in range(150)]
    # Recorded in several transactions and while the bus runs, so both the relay and the consumer see
    # more than one batch.
    _record(engine, recorded[:60])
    handler = Applied()
    subscription = events.Subscription("ordered-batch", (MILESTONE,), handler)
    bus = EventBus(url=nats_url, service="test", engine=engine, subscriptions=[subscription], poll_seconds=0.2)
    await bus.start()
    try:
        for start in range(60, len(recorded), 30):
            await asyncio.to_thread(_record, engine, recorded[start : start + 30])
        applied = await handler.wait_for(len(recorded))
    finally:
        await bus.stop()
    for person in people:
        assert [i for s, i in applied if s == person] == [e.id for e in recorded if e.subject == person]
    assert len(applied) == len({i for _, i in applied}) == len(recorded)
