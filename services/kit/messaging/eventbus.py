"""The NATS JetStream side of events: the outbox relay (event id = message id, so JetStream
de-duplicates) and durable pull consumers that apply each event once per consumer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Mapping, Sequence
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
from services.kit.messaging.pull import Puller
from services.kit.persistence.db import UnitOfWork
from services.kit.persistence.leases import LeaseKeeper
from services.kit.security.pii import SubjectErased
from services.kit.telemetry import errors_report, event_spans, metrics

log = get_logger(__name__)
STREAM = "TEEI_EVENTS"
DLQ_STREAM = "TEEI_DLQ"
DLQ_PREFIX = "teei.dlq."
DUPLICATE_WINDOW_SECONDS = 600.0
CONNECT_SECONDS = 20.0
# Outbox rows the relay publishes per round (marked published in one statement).
RELAY_BATCH = 500
# Messages the relay sends before awaiting their acknowledgements together, and how long it waits for them.
RELAY_WINDOW = 100
PUBLISH_ACK_SECONDS = 5.0
# How often each consumer's lag and dead letters are read from JetStream for the metrics.
CONSUMER_STATS_SECONDS = 5.0
# Messages one consumer takes per pull, and how long it waits for the first before looking again.
CONSUMER_BATCH = 32
CONSUMER_WAIT_SECONDS = 1.0
# How long `stop` waits for its tasks to end once cancelled, before it reports them and goes on.
STOP_SECONDS = 10.0


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
        stream_replicas: int = 1,
        stats_seconds: float = CONSUMER_STATS_SECONDS,
        relay_lease: LeaseKeeper | None = None,
        consumer_lease: LeaseKeeper | None = None,
    ) -> None:
        self._retry = retry
        # Of a service's worker processes, only the lease's holder relays (None: this process always does).
        self._relay_lease = relay_lease
        # ... and only this lease's holder consumes: the worker processes pull from the same durables, and
        # two of them applying batches side by side would apply one person's events out of order.
        self._consumer_lease = consumer_lease
        self._stream_replicas = stream_replicas
        self._url, self._service, self._uow = url, service, UnitOfWork(engine)
        self._subscriptions = tuple(subscriptions)
        self._poll_seconds = poll_seconds
        self._stats_seconds = stats_seconds
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._nc: Any = None
        self._js: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Events acknowledged unapplied because a person they name was erased (their key is gone).
        self.skipped_erased = 0

    async def start(self) -> None:
        """Connects, ensures the stream, and starts the relay and every consumer."""
        self._loop = asyncio.get_running_loop()
        self._nc = await asyncio.wait_for(self._connect(), CONNECT_SECONDS)
        js = self._nc.jetstream()
        await ensure_stream(js, replicas=self._stream_replicas)
        await ensure_dlq_stream(js, replicas=self._stream_replicas)
        self._js = js
        sa.event.listen(orm.Session, "after_commit", self._after_commit)
        self._spawn(self._relay(js), "outbox-relay")
        for subscription in self._subscriptions:
            await _bind(js, subscription, self._retry)
            puller = Puller(self._nc, stream=STREAM, consumer=subscription.consumer, batch=CONSUMER_BATCH)
            await puller.start()
            self._spawn(self._consume(puller, subscription), subscription.consumer)
        if self._subscriptions:
            self._spawn(self._watch_consumers(js), "consumer-stats")
        log.info("eventbus.started", consumers=[s.consumer for s in self._subscriptions])

    async def stop(self) -> None:
        """Stops consuming, publishes what the outbox still holds, and closes the connection."""
        sa.event.remove(orm.Session, "after_commit", self._after_commit)
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: a task that swallowed its cancellation (asyncio.wait_for on Python 3.11 can, when
            # the awaited result lands at the same moment) ends at its loop's next `_stopping` check.
            _, stuck = await asyncio.wait(self._tasks, timeout=STOP_SECONDS)
            for task in stuck:
                log.error("eventbus.task_did_not_stop", task=task.get_name())
        if self._nc is not None:
            if self._relays():
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

    def _relays(self) -> bool:
        return self._relay_lease is None or self._relay_lease.held

    def _consumes(self) -> bool:
        return self._consumer_lease is None or self._consumer_lease.held

    async def _relay(self, js: JetStreamContext) -> None:
        while not self._stopping:
            if not self._relays():
                assert self._relay_lease is not None
                await self._relay_lease.wait_changed(self._poll_seconds)
                continue
            try:
                if await self._publish_pending(js):
                    continue
            except Exception:
                log.warning("outbox.publish_failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            self._wake.clear()

    async def _publish_pending(self, js: JetStreamContext) -> int:
        # A batch is published in order, RELAY_WINDOW messages at a time whose acknowledgements are awaited
        # together, then marked in one statement; whatever JetStream acknowledged before a failure is still
        # marked. A crash before the mark republishes the batch, and JetStream drops the copies (message
        # id = event id, inside the duplicate window).
        batch = await asyncio.to_thread(self._pending)
        published: list[str] = []
        try:
            for start in range(0, len(batch), RELAY_WINDOW):
                await _publish_window(js, batch[start : start + RELAY_WINDOW], published)
        finally:
            if published:
                await asyncio.to_thread(self._mark, published)
        return len(batch)

    def _pending(self) -> list[events.Envelope]:
        with self._uow.read() as session:
            return events.pending(session, limit=RELAY_BATCH)

    def _mark(self, event_ids: list[str]) -> None:
        with self._uow.begin() as session:
            events.mark_published(session, event_ids)

    async def _consume(self, puller: Puller, subscription: events.Subscription) -> None:
        try:
            while not self._stopping:
                if not self._consumes():
                    assert self._consumer_lease is not None
                    await self._consumer_lease.wait_changed(self._poll_seconds)
                    continue
                await self._consume_once(puller, subscription)
        finally:
            with contextlib.suppress(Exception):
                await puller.close()

    async def _consume_once(self, puller: Puller, subscription: events.Subscription) -> None:
        try:
            messages = await puller.next_batch(wait_seconds=CONSUMER_WAIT_SECONDS)
        except Exception:  # the loop must outlive any fault: a dead consumer would lose nothing but stall
            log.warning("consumer.fetch_failed", consumer=subscription.consumer, exc_info=True)
            await asyncio.sleep(self._poll_seconds)  # back-off while NATS reconnects
            return
        if not messages:
            return  # an empty long poll
        try:
            await self._deliver_batch(messages, subscription)
        except Exception:  # unacknowledged: JetStream redelivers them after ack_wait
            log.warning("consumer.delivery_failed", consumer=subscription.consumer, exc_info=True)

    async def _watch_consumers(self, js: JetStreamContext) -> None:
        """Keeps each consumer's lag, unacknowledged and dead-lettered counts current for the metrics."""
        while not self._stopping:
            for subscription in self._subscriptions:
                try:
                    await record_consumer_stats(js, subscription.consumer)
                except Exception:  # NATS away for a moment: the gauges keep their last values
                    log.debug("consumer.stats_failed", consumer=subscription.consumer, exc_info=True)
            await asyncio.sleep(self._stats_seconds)  # the sampling period

    async def _deliver_batch(self, messages: Sequence[Msg], subscription: events.Subscription) -> None:
        """Applies a fetched batch in one transaction, in order, each event in a savepoint of its own: an
        event whose handler fails is rolled back alone and retried (or dead-lettered) as before, the rest
        commit together with their inbox records and are acknowledged only after that commit."""
        decoded: list[tuple[Msg, events.Envelope]] = []
        for msg in messages:
            if msg.metadata and msg.metadata.num_delivered and msg.metadata.num_delivered > 1:
                metrics.CONSUMER_REDELIVERIES.labels(subscription.consumer).inc()
            try:
                envelope = events.Envelope.FromString(msg.data)
                if not envelope.id or not envelope.type:
                    raise DecodeError("envelope without id or type")
            except DecodeError as exc:
                await self._dead_letter(msg, subscription, attempts=1, error=f"undecodable envelope: {exc}")
                continue
            decoded.append((msg, envelope))
        if not decoded:
            return
        outcomes = await asyncio.to_thread(
            self._apply_batch, subscription, [(e, m.subject, m.headers) for m, e in decoded]
        )
        for (msg, envelope), outcome in zip(decoded, outcomes, strict=True):
            if isinstance(outcome, SubjectErased):
                await self._skip_erased(msg, subscription, envelope)
                continue
            if isinstance(outcome, Exception):
                await self._handler_failed(msg, subscription, envelope, outcome)
                continue
            await msg.ack()
            log.info(
                "consumer.applied" if outcome else "consumer.duplicate",
                consumer=subscription.consumer,
                event_id=envelope.id,
                event_type=envelope.type,
            )

    async def _skip_erased(self, msg: Msg, subscription: events.Subscription, envelope: events.Envelope) -> None:
        """An event naming a person whose events key was shredded (erased) cannot be applied, now or ever: it
        is acknowledged without its handler's effects (rolled back with its savepoint), never retried or
        dead-lettered. Logged without personal data."""
        await msg.ack()
        self.skipped_erased += 1
        log.info(
            "consumer.skipped_erased",
            consumer=subscription.consumer,
            event_id=envelope.id,
            event_type=envelope.type,
            skipped=self.skipped_erased,
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
        metrics.DEAD_LETTERED.labels(subscription.consumer).inc()
        log.error(
            "consumer.dead_lettered",
            consumer=subscription.consumer,
            subject=msg.subject,
            attempts=attempts,
            error=error[:200],
        )

    async def _handler_failed(
        self, msg: Msg, subscription: events.Subscription, envelope: events.Envelope, exc: Exception
    ) -> None:
        attempt = msg.metadata.num_delivered if msg.metadata else 1
        log.warning(
            "consumer.handler_failed",
            consumer=subscription.consumer,
            event_id=envelope.id,
            attempt=attempt,
            exc_info=exc,
        )
        if attempt >= self._retry.max_deliver:
            await self._dead_letter(msg, subscription, attempts=attempt, error=f"{type(exc).__name__}: {exc}")
        else:
            await msg.nak(delay=self._retry.delay(attempt))

    def _apply_batch(
        self,
        subscription: events.Subscription,
        batch: Sequence[tuple[events.Envelope, str, Mapping[str, str] | None]],
    ) -> list[bool | Exception]:
        """Per event: True applied, False a redelivery already applied, or the handler's exception. Each
        event is handled inside its own processing span, continuing its producer's trace."""
        outcomes: list[bool | Exception] = []
        _prepare(subscription, [envelope for envelope, _, _ in batch])
        with self._uow.begin() as session:
            for envelope, subject, headers in batch:
                try:
                    with (
                        event_spans.processing(envelope, subject, consumer=subscription.consumer, headers=headers),
                        session.begin_nested(),
                    ):
                        outcomes.append(self._apply_in(session, subscription, envelope))
                except Exception as exc:
                    outcomes.append(exc)
        return outcomes

    @staticmethod
    def _apply_in(session: orm.Session, subscription: events.Subscription, envelope: events.Envelope) -> bool:
        if not events.claim_once(session, consumer=subscription.consumer, event_id=envelope.id):
            return False
        subscription.handler(envelope, session)
        return True

    def _apply(self, subscription: events.Subscription, envelope: events.Envelope) -> bool:
        with self._uow.begin() as session:
            if not events.claim_once(session, consumer=subscription.consumer, event_id=envelope.id):
                return False
            subscription.handler(envelope, session)
            return True


async def _publish_window(js: JetStreamContext, window: Sequence[events.Envelope], published: list[str]) -> None:
    """Sends every message of the window before awaiting any acknowledgement (one connection keeps their
    order into the stream), and appends to `published` the ids JetStream acknowledged; raises when any was
    refused or not acknowledged in time. After such a failure, a message of the window sent behind the
    failed one may be in the stream ahead of the failed one's later republication."""
    acks: list[asyncio.Future[js_api.PubAck]] = []
    try:
        for envelope in window:
            subject = events.nats_subject(envelope.type)
            with event_spans.sending(envelope, subject) as trace_headers:
                headers = {**trace_headers, "Nats-Msg-Id": envelope.id}
                acks.append(await js.publish_async(subject, envelope.SerializeToString(), headers=headers))
    finally:
        if acks:
            await asyncio.wait(acks, timeout=PUBLISH_ACK_SECONDS)
    failure: BaseException | None = None
    for envelope, ack in zip(window, acks, strict=False):
        if not ack.done():
            ack.cancel()
            failure = failure or TimeoutError(f"event {envelope.id} was not acknowledged in time")
        elif ack.cancelled():
            failure = failure or RuntimeError(f"the publication of event {envelope.id} was cancelled")
        elif ack.exception() is not None:
            failure = failure or ack.exception()
        else:
            published.append(envelope.id)
            log.info(
                "outbox.published", event_id=envelope.id, event_type=envelope.type, duplicate=ack.result().duplicate
            )
    if failure is not None:
        raise failure


def _prepare(subscription: events.Subscription, envelopes: list[events.Envelope]) -> None:
    """Hands a fetched batch to the subscription's hook; a failing hook is logged and the handlers run anyway
    (the hook only saves them work, e.g. classifying texts together)."""
    if subscription.prepare is None:
        return
    try:
        subscription.prepare(envelopes)
    except Exception:  # the handlers do their own work without it
        log.warning("consumer.prepare_failed", consumer=subscription.consumer, exc_info=True)


def _report_if_failed(task: asyncio.Task[None]) -> None:
    exc = None if task.cancelled() else task.exception()
    if exc is not None:
        log.error("eventbus.task_died", task=task.get_name(), exc_info=exc)
        errors_report.capture_exception(exc)


async def record_consumer_stats(js: JetStreamContext, consumer: str) -> None:
    """Reads one durable's lag and unacknowledged messages, and its dead letters, into the metrics."""
    info = await js.consumer_info(STREAM, consumer)
    metrics.CONSUMER_LAG.labels(consumer).set(info.num_pending or 0)
    metrics.CONSUMER_ACK_PENDING.labels(consumer).set(info.num_ack_pending or 0)
    subject = DLQ_PREFIX + consumer
    dlq = await js.stream_info(DLQ_STREAM, subjects_filter=subject)
    metrics.DEAD_LETTERS.labels(consumer).set((dlq.state.subjects or {}).get(subject, 0))


async def ensure_stream(js: JetStreamContext, *, replicas: int = 1) -> None:
    """Creates (or keeps) the one events stream, on `replicas` JetStream servers."""
    config = js_api.StreamConfig(
        name=STREAM,
        subjects=[events.SUBJECT_PREFIX + ">"],
        storage=js_api.StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
    )
    await _create_or_update(js, STREAM, config)


async def ensure_dlq_stream(js: JetStreamContext, *, replicas: int = 1) -> None:
    """Creates (or keeps) the dead-letter stream: messages that exhausted their attempts, kept for
    operators to inspect, replay or purge."""
    config = js_api.StreamConfig(
        name=DLQ_STREAM, subjects=[DLQ_PREFIX + ">"], storage=js_api.StorageType.FILE, num_replicas=replicas
    )
    await _create_or_update(js, DLQ_STREAM, config)


async def _create_or_update(js: JetStreamContext, name: str, config: js_api.StreamConfig) -> None:
    """Adds the stream, or updates an existing one without lowering its replica count: a caller that did not
    ask for replicas (an operator command) must not shrink a clustered stream to one copy."""
    try:
        await js.add_stream(config)
    except nats.js.errors.BadRequestError:
        current = (await js.stream_info(name)).config.num_replicas or 1
        config.num_replicas = max(config.num_replicas or 1, current)
        await js.update_stream(config)


async def _bind(js: JetStreamContext, subscription: events.Subscription, retry: RetryPolicy) -> None:
    """Creates the subscription's durable pull consumer, or keeps an existing one as it is."""
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
