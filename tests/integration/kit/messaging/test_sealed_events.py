"""Events sealed with per-person keys through the outbox and a real nats-server with a store of its own (no
store cipher, so its files can be read): a consumer gets the payload opened, the stream's stored bytes hold
no e-mail, name or free text, and once the person's events key is shredded their events are acknowledged
unapplied — never retried, never dead-lettered — while other people's events go on being applied."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
import sqlalchemy as sa
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo

from services.cli import probes, spec
from services.kit.identity import profile_id_for_email
from services.kit.messaging import events, sealed_events
from services.kit.messaging.eventbus import DLQ_STREAM, STREAM, EventBus, RetryPolicy
from services.kit.persistence import db
from services.kit.security import pii
from teei.common.v1 import types_pb2
from teei.events.v1 import envelope_pb2
from teei.kintell.v1 import events_pb2 as kintell_events

COMPANY = "acme"
ANA = types_pb2.PersonRef(email="ana@example.org", given_name="Ana", family_name="Lopes")
VIC = types_pb2.PersonRef(email="vic@example.org", given_name="Victor", family_name="Hale")
CONSUMER = "sealed-consumer"


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    store, port, monitor = tmp_path / "nats", spec.free_port(), spec.free_port()
    binary = Path(sys.executable).parent / "nats-server"
    command = [str(binary), "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor), "-js", "-sd", str(store)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not probes.http_ok(f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true"):
            assert process.poll() is None, "nats-server exited"
            assert time.monotonic() < deadline, "nats-server not healthy in time"
            time.sleep(0.05)  # polling interval of a bounded wait
        yield f"nats://127.0.0.1:{port}", store
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def cipher(tmp_path: Path) -> Iterator[pii.PiiCipher]:
    made = pii.local(tmp_path, sealed_events.KEYSTORE)
    sealed_events.install(made)
    yield made
    sealed_events.uninstall()
    made.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    made = db.create_engine(db.sqlite_url(tmp_path / "svc.db"))
    events.metadata.create_all(made)
    yield made
    made.dispose()


class Opened:
    """A handler keeping the opened payloads it applied; the test awaits a count."""

    def __init__(self) -> None:
        self.payloads: list[kintell_events.SessionCompleted] = []
        self._changed = threading.Condition()

    def __call__(self, envelope: envelope_pb2.Envelope, session: sa.orm.Session) -> None:
        payload = events.payload_of(envelope)
        assert isinstance(payload, kintell_events.SessionCompleted)
        with self._changed:
            self.payloads.append(payload)
            self._changed.notify_all()

    async def wait_for(self, count: int) -> list[kintell_events.SessionCompleted]:
        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: len(self.payloads) >= count, 15.0)

        assert await asyncio.to_thread(wait), f"only {len(self.payloads)} of {count} events applied"
        return self.payloads


def _session(session_id: str, participant: types_pb2.PersonRef, text: str) -> envelope_pb2.Envelope:
    payload = kintell_events.SessionCompleted(
        session_id=session_id, participant=participant, volunteer=VIC, feedback_text=text
    )
    return events.new_event(payload, source="teei/test", tenant=COMPANY, subject=session_id)


def _record(engine: sa.Engine, envelope: envelope_pb2.Envelope) -> None:
    with db.UnitOfWork(engine).begin() as session:
        events.record(session, envelope)


def _bus(url: str, engine: sa.Engine, handler: Opened) -> EventBus:
    subscription = events.Subscription(CONSUMER, ("kintell.session.completed",), handler)
    retry = RetryPolicy(max_deliver=2, base_seconds=0.1, max_seconds=0.2)
    return EventBus(url=url, service="test", engine=engine, subscriptions=[subscription], poll_seconds=0.2, retry=retry)


async def _settled(url: str) -> ConsumerInfo:
    """The consumer's state once every delivered event is acknowledged, and nothing dead-lettered."""
    nc = await nats.connect(url, connect_timeout=2)
    try:
        js: JetStreamContext = nc.jetstream()
        deadline = time.monotonic() + 15
        while True:
            info = await js.consumer_info(STREAM, CONSUMER)
            assert isinstance(info, ConsumerInfo)
            if not info.num_ack_pending and not info.num_pending:
                break
            assert time.monotonic() < deadline, f"the consumer did not acknowledge every event: {info}"
            await asyncio.sleep(0.05)  # polling interval of a bounded wait
        assert (await js.stream_info(DLQ_STREAM)).state.messages == 0
        return info
    finally:
        await nc.close()


def _store_bytes(store: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file())


@pytest.mark.usefixtures("cipher")
async def test_a_sealed_event_reaches_its_consumer_opened_and_is_skipped_once_its_person_is_erased(
    private_nats: tuple[str, Path], engine: sa.Engine
) -> None:
    url, store = private_nats
    handler = Opened()
    first = _session("s-1", ANA, "Ana fears eviction")
    _record(engine, first)
    bus = _bus(url, engine, handler)
    await bus.start()
    try:
        (opened,) = await handler.wait_for(1)
        await _settled(url)
    finally:
        await bus.stop()
    assert opened == events.payload_of(first)
    assert opened.participant.email == "ana@example.org"
    stored = _store_bytes(store)
    assert b"s-1" in stored  # the message is there, in the clear but for its people's data
    for plain in (b"ana@example.org", b"vic@example.org", b"Lopes", b"eviction"):
        assert plain not in stored, plain

    # Recorded before the erasure, delivered after it (a backlog, a replay): its person's key is gone.
    _record(engine, _session("s-2", ANA, "Ana moved out"))
    assert sealed_events.shred_subject(COMPANY, profile_id_for_email(COMPANY, ANA.email)) == 1
    _record(engine, _session("s-3", types_pb2.PersonRef(email="bo@example.org"), "Bo is fine"))
    bus = _bus(url, engine, handler)
    await bus.start()
    try:
        applied = await handler.wait_for(2)
        info = await _settled(url)
    finally:
        await bus.stop()
    assert info.num_redelivered == 0
    assert [p.session_id for p in applied] == ["s-1", "s-3"]
    assert bus.skipped_erased == 1
