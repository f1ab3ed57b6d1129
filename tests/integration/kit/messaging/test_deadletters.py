"""Dead letters against real NATS: a failing event is retried, then dead-lettered without blocking
the events behind it; after the fault is fixed, replay applies it exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
import sqlalchemy as sa

from services.cli.spec import REPO_ROOT
from services.gateway import bootstrap as gateway_bootstrap
from services.kit.messaging import deadletters, eventbus, events
from services.kit.messaging.eventbus import DLQ_STREAM, STREAM, EventBus, RetryPolicy
from services.kit.persistence import db
from teei.events.v1 import envelope_pb2
from teei.profile.v1 import events_pb2
from tests.unit.kit.audit.support import stored

FAST = RetryPolicy(max_deliver=3, base_seconds=0.05, max_seconds=0.2)


class FlakyHandler:
    """Fails every delivery of the 'poison' profile until fixed; records every applied event."""

    def __init__(self) -> None:
        self.fixed = False
        self.attempts = 0
        self.applied: list[str] = []
        self._changed = threading.Condition()

    def __call__(self, envelope: envelope_pb2.Envelope, session: sa.orm.Session) -> None:
        if events.payload_of(envelope).profile_id == "poison" and not self.fixed:
            self.attempts += 1
            raise RuntimeError("downstream fault")
        with self._changed:
            self.applied.append(events.payload_of(envelope).profile_id)
            self._changed.notify_all()

    async def wait_applied(self, count: int) -> list[str]:
        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: len(self.applied) >= count, 15.0)

        assert await asyncio.to_thread(wait), f"applied only {self.applied}"
        return self.applied


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = db.create_engine(db.sqlite_url(tmp_path / "dlq.db"))
    events.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[nats.js.JetStreamContext]:
    nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=2)
    context = nc.jetstream()
    for stream in (STREAM, DLQ_STREAM):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await context.delete_stream(stream)
    yield context
    await nc.close()


def _record(engine: sa.Engine, profile_id: str) -> envelope_pb2.Envelope:
    envelope = events.new_event(
        events_pb2.MilestoneReached(profile_id=profile_id), source="teei/test", tenant="acme", subject=profile_id
    )
    with db.UnitOfWork(engine).begin() as session:
        events.record(session, envelope)
    return envelope


async def _wait_letters(js: nats.js.JetStreamContext, count: int) -> list[deadletters.DeadLetter]:
    async with asyncio.timeout(15):
        while len(letters := await deadletters.list_letters(js)) < count:  # noqa: ASYNC110 - remote state
            await asyncio.sleep(0.05)  # polling interval of a bounded wait
    return letters


async def test_poison_event_is_dead_lettered_and_replayed_once(
    nats_url: str, engine: sa.Engine, js: nats.js.JetStreamContext
) -> None:
    handler = FlakyHandler()
    subscription = events.Subscription("flaky", ("journey.milestone.reached",), handler)
    bus = EventBus(url=nats_url, service="t", engine=engine, subscriptions=[subscription], poll_seconds=0.1, retry=FAST)
    await bus.start()
    try:
        poison = _record(engine, "poison")
        _record(engine, "behind")
        assert await handler.wait_applied(1) == ["behind"], "the poison event does not block the next one"
        (letter,) = await _wait_letters(js, 1)
        assert (letter.consumer, letter.event_id, letter.attempts) == ("flaky", poison.id, FAST.max_deliver)
        assert letter.original_subject == events.nats_subject("journey.milestone.reached")
        assert "downstream fault" in letter.last_error
        assert handler.attempts == FAST.max_deliver

        handler.fixed = True
        await deadletters.replay(js, letter.sequence)
        assert await handler.wait_applied(2) == ["behind", "poison"]
        assert await deadletters.list_letters(js) == []
        with pytest.raises(nats.js.errors.NotFoundError):
            await deadletters.replay(js, letter.sequence)
    finally:
        await bus.stop()


async def test_undecodable_messages_go_straight_to_the_dead_letter_stream(
    nats_url: str, engine: sa.Engine, js: nats.js.JetStreamContext
) -> None:
    handler = FlakyHandler()
    subscription = events.Subscription("strict", ("journey.milestone.reached",), handler)
    bus = EventBus(url=nats_url, service="t", engine=engine, subscriptions=[subscription], poll_seconds=0.1, retry=FAST)
    await bus.start()
    try:
        await js.publish(events.nats_subject("journey.milestone.reached"), b"\x08\xff garbage")
        (letter,) = await _wait_letters(js, 1)
        assert letter.attempts == 1
        assert "undecodable" in letter.last_error
        assert await deadletters.purge(js) == 1
        assert await deadletters.list_letters(js) == []
    finally:
        await bus.stop()


async def test_dlq_command_lists_and_purges(nats_url: str, js: nats.js.JetStreamContext, tmp_path: Path) -> None:
    """A purge straight on NATS is recorded in the gateway's audit log under the operator."""
    url = db.sqlite_url(tmp_path / "gateway.db")
    db.upgrade(url, gateway_bootstrap.MIGRATIONS)
    await eventbus.ensure_dlq_stream(js)
    await js.publish("teei.dlq.cli", b"x", headers={"Teei-Consumer": "cli", "Teei-Attempts": "4"})
    teei = ("dlq", "--nats-url", nats_url, "--var-dir", str(tmp_path))
    listed = await asyncio.to_thread(_teei, *teei, "list")
    assert '"attempts": 4' in listed
    assert '"consumer": "cli"' in listed
    purged = await asyncio.to_thread(_teei, *teei, "purge", "--yes")
    assert purged.strip() == '{"purged": 1}'
    (record,) = stored(url)
    assert (record.action, record.actor_kind, record.resource) == ("dead_letters.purged", "operator", "dead_letters:*")
    assert record.actor.startswith("cli:")


def _teei(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", *args], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    return result.stdout
