"""Buddy persistence: the repository Protocol handlers depend on, its company-scoped SQLAlchemy adapter
(records, webhook deliveries, import batches, the outbox) and the unit of work that hands it out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from services.buddy import events, sealing
from services.buddy.domain.commands import RecordFilter
from services.buddy.domain.events import DomainEvent
from services.buddy.domain.model import BuddyEvent, Record
from services.buddy.rows import KIND_OF, STORES, Store, record_row
from services.buddy.tables import deliveries, event_attendees
from services.buddy.tables import events as events_table
from services.kit.audit.trail import AuditTrail
from services.kit.connectors.imports import ImportBatches, SqlConnectorRepository
from services.kit.connectors.listings import Position, newest_first
from services.kit.connectors.storage import profile_id_of
from services.kit.messaging import events as outbox
from services.kit.persistence.db import SqlTenantUnitOfWork, TenantUnitOfWork, UnitOfWork
from services.kit.security import pii


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
        found = self._opened(store, query)
        return found[0] if found else None

    def _opened(self, store: Store, query: sa.Select[Any]) -> list[Record]:
        """The records a query finds, their sealed fields opened (plain ones, from before sealing, as they are)."""
        cipher, found = pii.attached(self._session), self._session.execute(query).mappings().all()
        if store.table is events_table:
            return [store.from_row(row) for row in sealing.opened_events(self._session, cipher, found)]
        sealed = sealing.BY_KIND[_kind(store)]
        return [store.from_row(sealed.open(cipher, row)) for row in found]

    def add(self, record: Record) -> None:
        """Stores a new record, its personal fields sealed (services/buddy/sealing.py)."""
        self._write(record, insert=True)

    def replace(self, record: Record) -> None:
        """Overwrites a stored record of this company."""
        self._write(record, insert=False)

    def _write(self, record: Record, *, insert: bool) -> None:
        cipher, row = pii.attached(self._session), record_row(record)
        if isinstance(record, BuddyEvent):
            sealing.write_event(self._session, cipher, row, record.attendees, insert=insert)
            return
        kind = KIND_OF[type(record)]
        table, sealed = STORES[kind].table, sealing.BY_KIND[kind].seal(self._session, cipher, row)
        if insert:
            self._session.execute(table.insert().values(**sealed))
        else:
            condition = sa.and_(table.c.company_id == self.company_id, table.c.record_id == record.record_id)
            self._session.execute(table.update().where(condition).values(**sealed))

    def find(self, kind: str, where: RecordFilter, *, after: Position | None, size: int) -> list[Record]:
        """Up to `size` + 1 records, newest first, after the keyset position `after`."""
        store = STORES[kind]
        table = store.table
        query = sa.select(table).where(
            table.c.company_id == self.company_id, *_conditions(store, where, self.company_id)
        )
        query = newest_first(query, time=table.c[store.time], ident=table.c.record_id, start=after, size=size)
        return self._opened(store, query)

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
    if where.email:
        yield _has_email(store, where.email, company_id)
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


def _has_email(store: Store, email: str, company_id: str) -> sa.ColumnElement[bool]:
    """Records naming this e-mail (the filtered person, else any of their people): by profile id (sealed
    rows), or by the plain e-mail of rows not sealed yet (a sealed value never equals it)."""
    people = (store.person,) if store.person else store.people
    if not people:
        return _of_profile(store, profile_id_of(company_id, email), company_id)
    c = store.table.c
    return sa.or_(
        *(c[f"{p}_profile_id"] == profile_id_of(company_id, email) for p in people),
        *(c[f"{p}_email"] == email for p in people),
    )


def _kind(store: Store) -> str:
    return next(kind for kind, known in STORES.items() if known is store)


class SqlBuddyUnitOfWork(SqlTenantUnitOfWork[SqlBuddyRepository]):
    """Hands out a company-scoped repository inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow, SqlBuddyRepository)
