"""What the `privacy.subject.erased` integration tests of each service share: a bus on the built service's own
database and subscriptions (fast retries, so a refused event reaches the dead letters quickly), the gateway's
event published on JetStream as its relay publishes it, and bounded waits on the service's database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import nats
import sqlalchemy as sa

from services.kit.grpc.server import Service
from services.kit.messaging import deadletters, erasures, events
from services.kit.messaging.eventbus import DLQ_STREAM, STREAM, EventBus, RetryPolicy
from services.kit.persistence import db
from teei.gateway.v1 import events_pb2 as gateway_events

FAST = RetryPolicy(max_deliver=3, base_seconds=0.05, max_seconds=0.2)
WAIT_SECONDS = 20.0
T = TypeVar("T")


@contextlib.asynccontextmanager
async def consuming(nats_url: str, service: Service) -> AsyncIterator[nats.js.JetStreamContext]:
    """The service's consumers running on fresh streams against the built service's database; yields a
    JetStream context to publish with."""
    assert service.engine is not None
    nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=2)
    js = nc.jetstream()
    for stream in (STREAM, DLQ_STREAM):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(stream)
    bus = EventBus(
        url=nats_url,
        service=service.name,
        engine=service.engine,
        subscriptions=service.subscriptions,
        retry=FAST,
        poll_seconds=0.1,
    )
    await bus.start()
    try:
        yield js
    finally:
        await bus.stop()
        await nc.close()


def erased(tenant: str, profile_id: str, request_id: str = "pr-1") -> events.Envelope:
    """The gateway's event: the person erased everywhere (tenant = company, subject = profile id)."""
    payload = gateway_events.SubjectErased(privacy_request_id=request_id, profile_id=profile_id, services=["gateway"])
    return events.new_event(payload, source="teei/gateway", tenant=tenant, subject=profile_id)


async def publish(js: nats.js.JetStreamContext, envelope: events.Envelope) -> None:
    """Published as the gateway's outbox relay publishes it (subject from the type, message id = event id)."""
    subject = events.nats_subject(envelope.type)
    await js.publish(subject, envelope.SerializeToString(), headers={"Nats-Msg-Id": envelope.id})


async def eventually(read: Callable[[], T], until: Callable[[T], bool]) -> T:
    """`read()` (a database read, off the loop) once `until` holds of it; fails after WAIT_SECONDS."""
    async with asyncio.timeout(WAIT_SECONDS):
        while not until(value := await asyncio.to_thread(read)):  # noqa: ASYNC110 - state of another thread
            await asyncio.sleep(0.05)  # polling interval of a bounded wait on state another thread writes
    return value


def applied(engine: sa.Engine, service: str, event_id: str) -> Callable[[], bool]:
    """Whether the service's erasure consumer has applied the event (its inbox claim is committed)."""

    def read() -> bool:
        consumer = erasures.consumer_name(service)
        query = sa.select(events.inbox.c.event_id).where(
            events.inbox.c.consumer == consumer, events.inbox.c.event_id == event_id
        )
        with db.UnitOfWork(engine).read() as session:
            return session.execute(query).first() is not None

    return read


async def dead_letters(js: nats.js.JetStreamContext, count: int) -> list[deadletters.DeadLetter]:
    """The dead letters, once there are `count` of them."""
    async with asyncio.timeout(WAIT_SECONDS):
        while len(letters := await deadletters.list_letters(js)) < count:  # noqa: ASYNC110 - remote state
            await asyncio.sleep(0.05)  # polling interval of a bounded wait
    return letters
