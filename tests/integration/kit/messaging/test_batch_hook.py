"""A subscription's `prepare` hook sees each fetched batch before its events are handled one by one; a failing
hook changes nothing of what the handlers apply."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import nats
import pytest
import sqlalchemy as sa

from services.kit.messaging import events
from services.kit.messaging.eventbus import STREAM, EventBus
from services.kit.persistence import db
from teei.events.v1 import envelope_pb2
from tests.integration.kit.messaging.test_eventbus import Applied, _milestone


class Prepared:
    """A batch hook recording what it saw, optionally failing every time."""

    def __init__(self, *, fails: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fails = fails
        self._lock = threading.Lock()

    def __call__(self, envelopes: Sequence[envelope_pb2.Envelope]) -> None:
        with self._lock:
            self.batches.append([envelope.id for envelope in envelopes])
        if self.fails:
            raise RuntimeError("the hook failed")


class HandledAfterPrepare(Applied):
    """Records, per handled event, whether the hook had seen it first."""

    def __init__(self, prepared: Prepared) -> None:
        super().__init__()
        self.prepared = prepared
        self.seen_first: list[bool] = []

    def __call__(self, envelope: envelope_pb2.Envelope, session: sa.orm.Session) -> None:
        self.seen_first.append(any(envelope.id in batch for batch in self.prepared.batches))
        super().__call__(envelope, session)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = db.create_engine(db.sqlite_url(tmp_path / "bus.db"))
    events.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
async def purge(nats_url: str) -> AsyncIterator[None]:
    nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=2)
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await nc.jetstream().delete_stream(STREAM)
    yield
    await nc.close()


async def _apply_all(nats_url: str, engine: sa.Engine, handler: Applied, prepared: Prepared) -> list[str]:
    recorded = [_milestone(f"p-hook-{i}") for i in range(40)]
    with db.UnitOfWork(engine).begin() as session:
        events.record_many(session, recorded)
    subscription = events.Subscription("hook-consumer", ("journey.milestone.reached",), handler, prepare=prepared)
    bus = EventBus(url=nats_url, service="test", engine=engine, subscriptions=[subscription])
    await bus.start()
    try:
        applied = await handler.wait_for(len(recorded))
    finally:
        await bus.stop()
    assert sorted(applied) == sorted(e.id for e in recorded)
    return applied


@pytest.mark.usefixtures("purge")
async def test_the_hook_sees_every_fetched_batch_before_its_events_are_handled(
    nats_url: str, engine: sa.Engine
) -> None:
    prepared = Prepared()
    handler = HandledAfterPrepare(prepared)
    await _apply_all(nats_url, engine, handler, prepared)
    assert all(handler.seen_first)
    assert sum(len(batch) for batch in prepared.batches) >= 40


@pytest.mark.usefixtures("purge")
async def test_a_failing_hook_leaves_every_event_applied_once(nats_url: str, engine: sa.Engine) -> None:
    prepared = Prepared(fails=True)
    applied = await _apply_all(nats_url, engine, Applied(), prepared)
    assert len(applied) == len(set(applied)) == 40
    assert prepared.batches
