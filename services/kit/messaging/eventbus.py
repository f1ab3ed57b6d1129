"""The NATS JetStream side of events: the outbox relay (event id = message id, so JetStream
de-duplicates) and durable pull consumers that apply each event once per consumer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import nats
import sqlalchemy as sa
from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js import api as js_api
from sqlalchemy import orm

from services.kit import backoff
from services.kit.logs import get_logger
from services.kit.messaging import events
from services.kit.persistence.db import UnitOfWork
from services.kit.telemetry import event_spans

log = get_logger(__name__)
STREAM = "TEEI_EVENTS"
DLQ_STREAM = "TEEI_DLQ"
DLQ_PREFIX = "teei.dlq."
DUPLICATE_WINDOW_SECONDS = 600.0
CONNECT_SECONDS = 20.0


@dataclass(frozen=True)
class RetryPolicy:
    """Redelivery with exponential back-off and equal jitter (never sooner than half the ceiling);
    after `max_deliver` attempts the message goes to the dead-letter stream."""

    max_deliver: int = 5
    base_seconds: float = 1.0
    max_seconds: float = 60.0

    def delay(self, attempt: int) -> float:
        """Seconds before redelivering after failed attempt number `attempt` (1-based)."""
        return backoff.delay(attempt, base=self.base_seconds, cap=self.max_seconds, floor=0.5)


class EventBus:
    """Runs the relay and the service's consumers against one NATS server."""

    def __init__(
        self,
        *,
        url: str,
        service: str,
        engine: sa.Engine,
        subscriptions: Sequence[events.Subscription] = (),
        poll_seconds: float = 1.0,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self._retry = retry
        self._url, self._service, self._uow = url, service, UnitOfWork(engine)
        self._subscriptions = tuple(subscriptions)
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._nc: Any = None
        self._js: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Connects, ensures the stream, and starts the relay and every consumer."""
        self._loop = asyncio.get_running_loop()
        self._nc = await asyncio.wait_for(self._connect(), CONNECT_SECONDS)
        js = self._nc.jetstream()
        await ensure_stream(js)
        await ensure_dlq_stream(js)
        self._js = js
        sa.event.listen(orm.Session, "after_commit", self._after_commit)
        self._spawn(self._relay(js), "outbox-relay")
        for subscription in self._subscriptions:
            psub = await _bind(js, subscription, self._retry)
            self._spawn(self._consume(psub, subscription), subscription.consumer)
        log.info("eventbus.started", consumers=[s.consumer for s in self._subscriptions])

    async def stop(self) -> None:
        """Stops consuming, publishes what the outbox still holds, and closes the connection."""
        sa.event.remove(orm.Session, "after_commit", self._after_commit)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._publish_pending(self._nc.jetstream())
            await self._nc.close()
        log.info("eventbus.stopped")

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(_report_if_failed)
        self._tasks.append(task)

    async def _connect(self) -> Any:
        # Reconnect forever once connected (the outbox holds events meanwhile), but a first
        # connection that cannot be made fails the start instead of hanging it.
        return await nats.connect(
            self._url, name=self._service, connect_timeout=2, max_reconnect_attempts=-1, reconnect_time_wait=0.5
        )

    def notify(self) -> None:
        """Wakes the relay (thread-safe): an outbox row was committed."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _after_commit(self, session: orm.Session) -> None:
        if session.info.pop(events.OUTBOX_FLAG, False):
            self.notify()

    async def _relay(self, js: JetStreamContext) -> None:
        while True:
            try:
                if await self._publish_pending(js):
                    continue
            except Exception:
                log.warning("outbox.publish_failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            self._wake.clear()

    async def _publish_pending(self, js: JetStreamContext) -> int:
        batch = await asyncio.to_thread(self._pending)
        for envelope in batch:
            subject = events.nats_subject(envelope.type)
            with event_spans.sending(envelope, subject) as trace_headers:
                headers = {**trace_headers, "Nats-Msg-Id": envelope.id}
                ack = await js.publish(subject, envelope.SerializeToString(), headers=headers)
                await asyncio.to_thread(self._mark, envelope.id)
            log.info("outbox.published", event_id=envelope.id, event_type=envelope.type, duplicate=ack.duplicate)
        return len(batch)

    def _pending(self) -> list[events.Envelope]:
        with self._uow.begin() as session:
            return events.pending(session)

    def _mark(self, event_id: str) -> None:
        with self._uow.begin() as session:
            events.mark_published(session, [event_id])

    async def _consume(self, psub: JetStreamContext.PullSubscription, subscription: events.Subscription) -> None:
        while True:
            try:
                messages = await psub.fetch(batch=32, timeout=1.0)
            except (nats.errors.TimeoutError, TimeoutError):
                continue  # an empty long poll
            except Exception:  # the loop must outlive any fault: a dead consumer would lose nothing but stall
                log.warning("consumer.fetch_failed", consumer=subscription.consumer, exc_info=True)
                await asyncio.sleep(self._poll_seconds)  # back-off while NATS reconnects
                continue
            for msg in messages:
                try:
                    await self._deliver(msg, subscription)
                except Exception:  # unacknowledged: JetStream redelivers it after ack_wait
                    log.warning("consumer.delivery_failed", consumer=subscription.consumer, exc_info=True)

    async def _deliver(self, msg: Msg, subscription: events.Subscription) -> None:
        try:
            envelope = events.Envelope.FromString(msg.data)
            if not envelope.id or not envelope.type:
                raise DecodeError("envelope without id or type")
        except DecodeError as exc:
            await self._dead_letter(msg, subscription, attempts=1, error=f"undecodable envelope: {exc}")
            return
        try:
            with event_spans.processing(envelope, msg.subject, consumer=subscription.consumer, headers=msg.headers):
                applied = await asyncio.to_thread(self._apply, subscription, envelope)
        except Exception as exc:  # any handler failure is retried, then dead-lettered
            attempt = msg.metadata.num_delivered if msg.metadata else 1
            log.warning(
                "consumer.handler_failed",
                consumer=subscription.consumer,
                event_id=envelope.id,
                attempt=attempt,
                exc_info=True,
            )
            if attempt >= self._retry.max_deliver:
                await self._dead_letter(msg, subscription, attempts=attempt, error=f"{type(exc).__name__}: {exc}")
            else:
                await msg.nak(delay=self._retry.delay(attempt))
            return
        await msg.ack()
        log.info(
            "consumer.applied" if applied else "consumer.duplicate",
            consumer=subscription.consumer,
            event_id=envelope.id,
            event_type=envelope.type,
        )

    async def _dead_letter(self, msg: Msg, subscription: events.Subscription, *, attempts: int, error: str) -> None:
        headers = {
            **(msg.headers or {}),
            "Teei-Original-Subject": msg.subject,
            "Teei-Consumer": subscription.consumer,
            "Teei-Attempts": str(attempts),
            "Teei-Last-Error": error[:1000],
        }
        await self._js.publish(DLQ_PREFIX + subscription.consumer, msg.data, headers=headers)
        await msg.term()
        log.error(
            "consumer.dead_lettered",
            consumer=subscription.consumer,
            subject=msg.subject,
            attempts=attempts,
            error=error[:200],
        )

    def _apply(self, subscription: events.Subscription, envelope: events.Envelope) -> bool:
        with self._uow.begin() as session:
            if not events.claim_once(session, consumer=subscription.consumer, event_id=envelope.id):
                return False
            subscription.handler(envelope, session)
            return True


def _report_if_failed(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("eventbus.task_died", task=task.get_name(), exc_info=task.exception())


async def ensure_stream(js: JetStreamContext) -> None:
    """Creates (or keeps) the one events stream."""
    config = js_api.StreamConfig(
        name=STREAM,
        subjects=[events.SUBJECT_PREFIX + ">"],
        storage=js_api.StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )
    try:
        await js.add_stream(config)
    except nats.js.errors.BadRequestError:
        await js.update_stream(config)


async def ensure_dlq_stream(js: JetStreamContext) -> None:
    """Creates (or keeps) the dead-letter stream: messages that exhausted their attempts, kept for
    operators to inspect, replay or purge."""
    config = js_api.StreamConfig(name=DLQ_STREAM, subjects=[DLQ_PREFIX + ">"], storage=js_api.StorageType.FILE)
    try:
        await js.add_stream(config)
    except nats.js.errors.BadRequestError:
        await js.update_stream(config)


async def _bind(
    js: JetStreamContext, subscription: events.Subscription, retry: RetryPolicy
) -> JetStreamContext.PullSubscription:
    config = js_api.ConsumerConfig(
        durable_name=subscription.consumer,
        filter_subjects=[events.nats_subject(t) for t in subscription.event_types],
        ack_policy=js_api.AckPolicy.EXPLICIT,
        deliver_policy=js_api.DeliverPolicy.ALL,
        ack_wait=30.0,
        # One more than the policy: the last attempt must still be delivered to be dead-lettered.
        max_deliver=retry.max_deliver + 1,
    )
    try:
        await js.add_consumer(STREAM, config)
    except nats.js.errors.BadRequestError:
        log.warning("consumer.config_kept", consumer=subscription.consumer)
    return await js.pull_subscribe_bind(durable=subscription.consumer, stream=STREAM)
