"""Events: CloudEvents-named envelopes with typed payloads, a transactional outbox, and the
subscription records consumers are declared with. The NATS side lives in eventbus.py."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from google.protobuf import descriptor_pool, message, message_factory
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql, sqlite

from services.kit.messaging import sealed_events
from services.kit.telemetry import propagation
from teei.common.v1 import access_pb2
from teei.events.v1 import envelope_pb2

SPEC_VERSION = "1.0"
SUBJECT_PREFIX = "teei.events."
OUTBOX_FLAG = "teei_outbox_recorded"

Envelope = envelope_pb2.Envelope
Handler = Callable[[envelope_pb2.Envelope, orm.Session], None]
BatchHook = Callable[[Sequence[envelope_pb2.Envelope]], None]

metadata = sa.MetaData()
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("event_type", sa.String(120), nullable=False),
    sa.Column("envelope", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    # One index for every read of the outbox: `pending` (published_at IS NULL, in created_at, event_id
    # order) is a search with no sort, the backlog gauge reads it alone, and retention's range on
    # published_at uses its first column. A partial index (WHERE published_at IS NULL) would be smaller,
    # but SQLite walks it as a SCAN and retention would still need an index of its own on published_at.
    sa.Index("ix_outbox_pending", "published_at", "created_at", "event_id"),
)
inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("consumer", sa.String(120), primary_key=True),
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Subscription:
    """A durable consumer: its name, the event types it takes, and the handler run per event.

    `prepare`, when set, sees each fetched batch before its events are handled one by one, e.g. to classify
    their texts together. It writes nothing (the handlers do, each event in its own savepoint), and when it
    fails the handlers still run.
    """

    consumer: str
    event_types: tuple[str, ...]
    handler: Handler
    prepare: BatchHook | None = None


def event_type_of(payload: message.Message) -> str:
    """The `<domain>.<entity>.<action>` type declared on the payload message."""
    options = payload.DESCRIPTOR.GetOptions()
    event_type: str = options.Extensions[access_pb2.event_type]
    if not event_type:
        raise ValueError(f"{payload.DESCRIPTOR.full_name} is not an event payload (no event_type option)")
    return event_type


def nats_subject(event_type: str) -> str:
    """The JetStream subject an event type is published on."""
    return SUBJECT_PREFIX + event_type


def new_event(
    payload: message.Message,
    *,
    source: str,
    tenant: str,
    subject: str,
    correlation_id: str | None = None,
    causation: envelope_pb2.Envelope | None = None,
    event_id: str = "",
) -> envelope_pb2.Envelope:
    """A new envelope around `payload` (a new id unless given); an event caused by another inherits its
    correlation id."""
    event_id = event_id or str(uuid.uuid4())
    envelope = envelope_pb2.Envelope(
        id=event_id,
        source=source,
        type=event_type_of(payload),
        specversion=SPEC_VERSION,
        subject=subject,
        tenant=tenant,
        correlation_id=(causation.correlation_id if causation else correlation_id) or event_id,
        causation_id=causation.id if causation else "",
        data_schema_version="v1",
    )
    envelope.time.FromDatetime(datetime.now(UTC))
    envelope.data.Pack(payload)
    propagation.stamp(envelope)
    return envelope


def payload_of(envelope: envelope_pb2.Envelope) -> Any:
    """The typed payload message of an envelope, its sealed personal fields opened; refused unless its
    message declares the envelope's type (a payload of another event dressed as this one must never be
    applied)."""
    payload = payload_of_unopened(envelope)
    # Personal fields sealed with their people's keys are opened here, for every consumer; SubjectErased
    # when a person was erased (the bus skips the event), refused when this process has no events cipher.
    sealed_events.open_payload(payload, record=envelope.id)
    return payload


def payload_of_unopened(envelope: envelope_pb2.Envelope) -> Any:
    """The typed payload message of an envelope as stored (sealed fields left sealed), type checked as in
    payload_of."""
    name = envelope.data.TypeName()
    descriptor = descriptor_pool.Default().FindMessageTypeByName(name)
    payload = message_factory.GetMessageClass(descriptor)()
    if not envelope.data.Unpack(payload):
        raise ValueError(f"cannot unpack payload {name}")
    declared = payload.DESCRIPTOR.GetOptions().Extensions[access_pb2.event_type]
    if declared != envelope.type:
        raise ValueError(f"payload {name} is a {declared or 'non-event'} payload, not {envelope.type}")
    return payload


def new_events(drafts: Sequence[tuple[message.Message, str, str]], *, source: str) -> list[envelope_pb2.Envelope]:
    """New envelopes around payloads given as (payload, tenant, subject), for `record_sealed`: with an events
    cipher installed, the payloads' personal fields are sealed in place for their event ids (as record_many
    seals them) before each is packed, so none is packed, unpacked and packed again."""
    ids = [str(uuid.uuid4()) for _ in drafts]
    if sealed_events.installed() is not None and drafts:
        sealed_events.seal_payloads([(p, tenant, i) for (p, tenant, _), i in zip(drafts, ids, strict=True)])
    return [
        new_event(p, source=source, tenant=tenant, subject=subject, event_id=i)
        for (p, tenant, subject), i in zip(drafts, ids, strict=True)
    ]


def record_sealed(session: orm.Session, envelopes: Sequence[envelope_pb2.Envelope], *, chunk: int = 500) -> None:
    """Writes envelopes made by `new_events` (sealed already) to the outbox as they are, in order, as
    record_many writes its rows."""
    _insert(session, envelopes, [e.SerializeToString() for e in envelopes], chunk)


def record(session: orm.Session, envelope: envelope_pb2.Envelope) -> None:
    """Writes the event to the outbox in the caller's transaction (committed with the state change)."""
    record_many(session, [envelope])


def record_many(session: orm.Session, envelopes: Sequence[envelope_pb2.Envelope], *, chunk: int = 500) -> None:
    """Writes events to the outbox in the caller's transaction, in order: the relay publishes them
    in exactly this order (a consumer sees a B1 session before the B2 one recorded after it)."""
    _insert(session, envelopes, _serialized(envelopes), chunk)


def _insert(session: orm.Session, envelopes: Sequence[envelope_pb2.Envelope], raws: list[bytes], chunk: int) -> None:
    stamps = _ordered_stamps(len(envelopes))
    rows = [
        {"event_id": e.id, "event_type": e.type, "envelope": raw, "created_at": stamp}
        for e, raw, stamp in zip(envelopes, raws, stamps, strict=True)
    ]
    for start in range(0, len(rows), chunk):
        session.execute(outbox.insert(), rows[start : start + chunk])
    if rows:
        session.info[OUTBOX_FLAG] = True


def _serialized(envelopes: Sequence[envelope_pb2.Envelope]) -> list[bytes]:
    """The envelopes as written to the outbox: with an events cipher installed, their payloads' personal
    fields sealed with their people's keys (sealed_events.py); the caller's envelopes are left as they are."""
    if sealed_events.installed() is None or not envelopes:
        return [e.SerializeToString() for e in envelopes]
    payloads = [payload_of_unopened(e) for e in envelopes]
    sealed_events.seal_payloads([(p, e.tenant, e.id) for p, e in zip(payloads, envelopes, strict=True)])
    out = []
    for envelope, payload in zip(envelopes, payloads, strict=True):
        copy = envelope_pb2.Envelope()
        copy.CopyFrom(envelope)
        copy.data.Pack(payload)
        out.append(copy.SerializeToString())
    return out


_stamp_lock = threading.Lock()
_last_stamp = datetime.min.replace(tzinfo=UTC)


def _ordered_stamps(count: int) -> list[datetime]:
    # Strictly increasing times (1 µs apart at least): the outbox is ordered by created_at.
    global _last_stamp  # noqa: PLW0603 - one process-wide ordering of outbox rows
    with _stamp_lock:
        start = max(datetime.now(UTC), _last_stamp + timedelta(microseconds=1))
        stamps = [start + timedelta(microseconds=i) for i in range(count)]
        if stamps:
            _last_stamp = stamps[-1]
    return stamps


def pending(session: orm.Session, *, limit: int = 100) -> list[envelope_pb2.Envelope]:
    """Outbox events not yet published, oldest first."""
    query = (
        sa.select(outbox.c.envelope)
        .where(outbox.c.published_at.is_(None))
        # published_at (NULL in every row selected) leads the order as it leads ix_outbox_pending:
        # PostgreSQL takes IS NULL for no equality when ordering, and would sort the backlog otherwise.
        .order_by(outbox.c.published_at, outbox.c.created_at, outbox.c.event_id)
        .limit(limit)
    )
    return [envelope_pb2.Envelope.FromString(raw) for raw in session.execute(query).scalars()]


def backlog(session: orm.Session) -> tuple[int, datetime | None]:
    """How many outbox events are not yet published, and when the oldest of them was recorded."""
    query = sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
    count, oldest = session.execute(query).one()
    return int(count), oldest


def mark_published(session: orm.Session, event_ids: list[str]) -> None:
    """Marks outbox rows as published."""
    session.execute(outbox.update().where(outbox.c.event_id.in_(event_ids)).values(published_at=datetime.now(UTC)))


# One statement per claim, built once: the inbox's key is (consumer, event_id), so a claim already
# recorded inserts nothing and returns no row (and a concurrent claim of the same event waits for the first to end).
_CLAIMS = {
    "postgresql": postgresql.insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id),
    "sqlite": sqlite.insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id),
}


def claim_once(session: orm.Session, *, consumer: str, event_id: str) -> bool:
    """Records that `consumer` processed `event_id`; False when it already had (a redelivery)."""
    claim = {"consumer": consumer, "event_id": event_id, "processed_at": datetime.now(UTC)}
    # The row the INSERT returns says it inserted (psycopg reports no row count for it).
    return session.execute(_CLAIMS[session.get_bind().dialect.name], claim).first() is not None
