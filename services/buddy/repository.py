"""Buddy persistence: the repository Protocol handlers depend on, its company-scoped SQLAlchemy adapter
(records, webhook deliveries, import batches, the outbox) and the unit of work that hands it out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa

from services.buddy import events
from services.buddy.domain.commands import RecordFilter
from services.buddy.domain.events import DomainEvent
from services.buddy.domain.model import BuddyEvent, Record
from services.buddy.rows import KIND_OF, STORES, Store, attendee_rows, record_row
from services.buddy.tables import deliveries, event_attendees
from services.kit.audit.trail import AuditTrail
from services.kit.connectors.imports import ImportBatches, SqlConnectorRepository
from services.kit.connectors.listings import Position, newest_first
from services.kit.messaging import events as outbox
from services.kit.persistence.db import SqlTenantUnitOfWork, TenantUnitOfWork, UnitOfWork


class BuddyRepository(Protocol):
    """Buddy records, webhook deliveries, import batches and outgoing events of one company."""

    @property
    def audit(self) -> AuditTrail: ...

    @property
    def imports(self) -> ImportBatches: ...

    def get(self, kind: str, record_id: str) -> Record | None: ...

    def get_by_external_id(self, kind: str, external_id: str) -> Record | None: ...

    def add(self, record: Record) -> None: ...

    def replace(self, record: Record) -> None: ...

    def find(self, kind: str, where: RecordFilter, *, after: Position | None, size: int) -> list[Record]: ...

    def claim_delivery(self, *, kind: str, delivery_id: str, digest: str, record_id: str, at: datetime) -> bool: ...

    def delivery_digest(self, delivery_id: str) -> str | None: ...

    def emit(self, event: DomainEvent) -> None: ...


BuddyUnitOfWork = TenantUnitOfWork[BuddyRepository]


class SqlBuddyRepository(SqlConnectorRepository):
    """The buddy repository over the SQL tables, scoped to one company."""

    def get(self, kind: str, record_id: str) -> Record | None:
        """The record of this kind with this platform id, if any."""
        store = STORES[kind]
        return self._one(store, store.table.c.record_id == record_id)

    def get_by_external_id(self, kind: str, external_id: str) -> Record | None:
        """The record of this kind with this Buddy id, if any."""
        store = STORES[kind]
        return self._one(store, store.table.c.external_id == external_id)

    def _one(self, store: Store, condition: sa.ColumnElement[bool]) -> Record | None:
        query = sa.select(store.table).where(store.table.c.company_id == self.company_id, condition)
        row = self._session.execute(query).mappings().first()
        return None if row is None else store.from_row(row)

    def add(self, record: Record) -> None:
        """Stores a new record."""
        store = STORES[KIND_OF[type(record)]]
        self._session.execute(store.table.insert().values(**record_row(record)))
        self._write_attendees(record)

    def replace(self, record: Record) -> None:
        """Overwrites a stored record of this company."""
        table = STORES[KIND_OF[type(record)]].table
        condition = sa.and_(table.c.company_id == self.company_id, table.c.record_id == record.record_id)
        self._session.execute(table.update().where(condition).values(**record_row(record)))
        self._write_attendees(record)

    def _write_attendees(self, record: Record) -> None:
        if not isinstance(record, BuddyEvent):
            return
        stored = event_attendees.c.event_id == record.record_id
        self._session.execute(event_attendees.delete().where(stored, event_attendees.c.company_id == self.company_id))
        rows = attendee_rows(record)
        if rows:
            self._session.execute(event_attendees.insert(), rows)

    def find(self, kind: str, where: RecordFilter, *, after: Position | None, size: int) -> list[Record]:
        """Up to `size` + 1 records, newest first, after the keyset position `after`."""
        store = STORES[kind]
        table = store.table
        query = sa.select(table).where(
            table.c.company_id == self.company_id, *_conditions(store, where, self.company_id)
        )
        query = newest_first(query, time=table.c[store.time], ident=table.c.record_id, start=after, size=size)
        return [store.from_row(row) for row in self._session.execute(query).mappings()]

    def claim_delivery(self, *, kind: str, delivery_id: str, digest: str, record_id: str, at: datetime) -> bool:
        """Records a webhook delivery; False when this company already received that delivery id."""
        row = {"company_id": self.company_id, "delivery_id": delivery_id, "kind": kind}
        try:
            with self._session.begin_nested():
                insert = deliveries.insert().values(**row, content_sha256=digest, record_id=record_id, received_at=at)
                self._session.execute(insert)
        except sa.exc.IntegrityError:
            return False
        return True

    def delivery_digest(self, delivery_id: str) -> str | None:
        """The payload digest of a delivery this company received, if any."""
        query = sa.select(deliveries.c.content_sha256).where(
            deliveries.c.company_id == self.company_id, deliveries.c.delivery_id == delivery_id
        )
        digest: str | None = self._session.execute(query).scalar_one_or_none()
        return digest

    def emit(self, event: DomainEvent) -> None:
        """Queues an event in the outbox, committed with the state change."""
        outbox.record(self._session, events.envelope(event))


def _conditions(store: Store, where: RecordFilter, company_id: str) -> Iterator[sa.ColumnElement[bool]]:
    c, time = store.table.c, store.table.c[store.time]
    if where.match_id:
        yield c.match_id == where.match_id
    if where.profile_id:
        yield _of_profile(store, where.profile_id, company_id)
    if where.email and store.person:
        yield c[f"{store.person}_email"] == where.email
    elif where.email:
        yield sa.or_(c.participant_email == where.email, c.buddy_email == where.email)
    if where.status is not None:
        yield c.status == where.status.value
    if where.event_type is not None:
        yield c.event_type == where.event_type.value
    if where.side is not None:
        yield c.side == where.side.value
    if where.since is not None:
        yield time >= where.since
    if where.before is not None:
        yield time < where.before


def _of_profile(store: Store, profile_id: str, company_id: str) -> sa.ColumnElement[bool]:
    """Records where any of their people has this profile id (for events: any attendee)."""
    if store.people:
        return sa.or_(*(store.table.c[f"{prefix}_profile_id"] == profile_id for prefix in store.people))
    attended = sa.select(event_attendees.c.event_id).where(
        event_attendees.c.company_id == company_id, event_attendees.c.profile_id == profile_id
    )
    return store.table.c.record_id.in_(attended)


class SqlBuddyUnitOfWork(SqlTenantUnitOfWork[SqlBuddyRepository]):
    """Hands out a company-scoped repository inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow, SqlBuddyRepository)
