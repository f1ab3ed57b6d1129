"""The outbox relay and durable consumers against a real NATS JetStream server."""

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
from services.kit.messaging.eventbus import STREAM, EventBus, RetryPolicy
from services.kit.persistence import db
from teei.events.v1 import envelope_pb2
from teei.profile.v1 import events_pb2, profile_pb2


class Applied:
    """A consumer handler that records what it applied, and lets the test await a count."""

    def __init__(self) -> None:
        self.event_ids: list[str] = []
        self._changed = threading.Condition()

    def __call__(self, envelope: envelope_pb2.Envelope, session: sa.orm.Session) -> None:
        payload = events.payload_of(envelope)
        assert isinstance(payload, events_pb2.MilestoneReached)
        with self._changed:
            self.event_ids.append(envelope.id)
            self._changed.notify_all()

    async def wait_for(self, count: int) -> list[str]:
        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: len(self.event_ids) >= count, 15.0)

        assert await asyncio.to_thread(wait), f"only {len(self.event_ids)} of {count} events applied"
        return self.event_ids


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = db.create_engine(db.sqlite_url(tmp_path / "bus.db"))
    events.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _milestone(profile_id: str) -> envelope_pb2.Envelope:
    payload = events_pb2.MilestoneReached(profile_id=profile_id, kind=profile_pb2.MILESTONE_KIND_BUDDY_MATCHED)
    return events.new_event(payload, source="teei/test", tenant="acme", subject=profile_id)


def _record(engine: sa.Engine, envelope: envelope_pb2.Envelope) -> None:
    with db.UnitOfWork(engine).begin() as session:
        events.record(session, envelope)


@pytest.fixture
async def purge(nats_url: str) -> AsyncIterator[None]:
    nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=2)
    js = nc.jetstream()
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await js.delete_stream(STREAM)
    yield
    await nc.close()


def test_envelope_carries_cloudevents_attributes_and_typed_payload() -> None:
    cause = _milestone("p-0")
    effect = events.new_event(
        events_pb2.MilestoneReached(profile_id="p-1"), source="teei/test", tenant="acme", subject="p-1", causation=cause
    )
    assert effect.type == "journey.milestone.reached"
    assert effect.specversion == "1.0"
    assert (effect.correlation_id, effect.causation_id) == (cause.id, cause.id)
    assert events.payload_of(effect).profile_id == "p-1"
    with pytest.raises(ValueError, match="not an event payload"):
        events.new_event(profile_pb2.Profile(), source="s", tenant="t", subject="x")


@pytest.mark.usefixtures("purge")
async def test_events_recorded_while_the_bus_was_down_are_delivered_once(nats_url: str, engine: sa.Engine) -> None:
    early = _milestone("p-early")
    _record(engine, early)  # committed before any relay runs: a crash between commit and publish
    applied = Applied()
    subscription = events.Subscription("test-consumer", ("journey.milestone.reached",), applied)
    bus = EventBus(url=nats_url, service="test", engine=engine, subscriptions=[subscription], poll_seconds=0.2)
    await bus.start()
    try:
        late = _milestone("p-late")
        _record(engine, late)
        assert sorted(await applied.wait_for(2)) == sorted([early.id, late.id])
    finally:
        await bus.stop()
    with db.UnitOfWork(engine).begin() as session:
        assert events.pending(session) == []


@pytest.mark.usefixtures("purge")
async def test_a_redelivered_event_is_applied_once_per_consumer(nats_url: str, engine: sa.Engine) -> None:
    applied = Applied()
    subscription = events.Subscription("dedupe-consumer", ("journey.milestone.reached",), applied)
    bus = EventBus(url=nats_url, service="test", engine=engine, subscriptions=[subscription], poll_seconds=0.2)
    await bus.start()
    envelope, marker = _milestone("p-dup"), _milestone("p-marker")
    nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=2)
    try:
        js = nc.jetstream()
        subject = events.nats_subject(envelope.type)
        # The same event published under different message ids (past JetStream's duplicate window).
        for msg_id in ("a", "b", "c"):
            await js.publish(subject, envelope.SerializeToString(), headers={"Nats-Msg-Id": msg_id})
        await js.publish(subject, b"\x00not-an-envelope", headers={"Nats-Msg-Id": "poison"})
        await js.publish(subject, marker.SerializeToString(), headers={"Nats-Msg-Id": marker.id})
        # One consumer applies in stream order: once the marker is applied, every copy before it was seen.
        assert await applied.wait_for(2) == [envelope.id, marker.id]
    finally:
        await nc.close()
        await bus.stop()


@pytest.mark.usefixtures("purge")
async def test_relay_publishes_with_event_id_as_message_id(nats_url: str, engine: sa.Engine) -> None:
    envelope = _milestone("p-id")
    _record(engine, envelope)
    bus = EventBus(url=nats_url, service="test", engine=engine, poll_seconds=0.2)
    await bus.start()
    await bus.stop()  # stop flushes the outbox
    nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=2)
    try:
        js = nc.jetstream()
        ack = await js.publish(events.nats_subject(envelope.type), b"again", headers={"Nats-Msg-Id": envelope.id})
        assert ack.duplicate
    finally:
        await nc.close()


def test_outbox_keeps_the_order_events_were_recorded_in(engine: sa.Engine) -> None:
    recorded = [_milestone(f"p-{i}") for i in range(50)]
    with db.UnitOfWork(engine).begin() as session:
        events.record_many(session, recorded[:25], chunk=7)
        for envelope in recorded[25:]:
            events.record(session, envelope)
    with db.UnitOfWork(engine).begin() as session:
        assert [e.id for e in events.pending(session)] == [e.id for e in recorded]


class FailsOnceFor:
    """Writes a caused event per delivery, then fails the first delivery of one profile's event."""

    def __init__(self, failing: str) -> None:
        self.failing, self.failed = failing, False

    def __call__(self, envelope: envelope_pb2.Envelope, session: sa.orm.Session) -> None:
        payload = events.payload_of(envelope)
        if payload.profile_id.startswith("caused-by-"):
            return  # the caused events travel the same stream: they cause nothing further
        events.record(session, _milestone(f"caused-by-{payload.profile_id}"))
        if payload.profile_id == self.failing and not self.failed:
            self.failed = True
            raise RuntimeError("a transient fault")


@pytest.mark.usefixtures("purge")
async def test_a_failing_event_in_a_batch_is_retried_alone_and_the_rest_apply_once(
    nats_url: str, engine: sa.Engine
) -> None:
    """Events fetched together apply in one transaction, each in its own savepoint: the failing one's writes
    are rolled back and it is retried alone; every event ends applied exactly once."""
    recorded = [_milestone(f"p-batch-{i}") for i in range(40)]
    with db.UnitOfWork(engine).begin() as session:
        events.record_many(session, recorded)
    handler = FailsOnceFor("p-batch-7")
    subscription = events.Subscription("batch-consumer", ("journey.milestone.reached",), handler)
    retry = RetryPolicy(max_deliver=3, base_seconds=0.05, max_seconds=0.1)
    bus = EventBus(url=nats_url, service="test", engine=engine, subscriptions=[subscription], retry=retry)
    await bus.start()
    try:

        def caused() -> list[str]:
            with db.UnitOfWork(engine).read() as session:
                rows = session.execute(sa.select(events.outbox.c.envelope)).scalars()
                envelopes = [envelope_pb2.Envelope.FromString(raw) for raw in rows]
                return [e.subject for e in envelopes if e.subject.startswith("caused-by-")]

        def settled() -> None:
            deadline = time.monotonic() + 20
            while len(caused()) < len(recorded) and time.monotonic() < deadline:
                time.sleep(0.05)  # polling a database the bus writes from its own threads

        await asyncio.to_thread(settled)
    finally:
        await bus.stop()
    assert handler.failed
    assert sorted(caused()) == sorted(f"caused-by-p-batch-{i}" for i in range(40))
    with db.UnitOfWork(engine).read() as session:
        claimed = session.execute(sa.select(events.inbox.c.event_id).where(events.inbox.c.consumer == "batch-consumer"))
        assert {e.id for e in recorded} <= set(claimed.scalars())
