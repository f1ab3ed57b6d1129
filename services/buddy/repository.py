"""Buddy persistence: a company-scoped repository over the SQL tables, the outbox and import batches."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from services.buddy.domain.commands import RecordFilter
from services.buddy.domain.model import BuddyEvent, Record
from services.buddy.domain.paging import Page
from services.buddy.rows import KIND_OF, STORES, Store, attendee_rows, utc
from services.buddy.tables import deliveries, event_attendees
from services.kit.connectors import imports
from services.kit.connectors.csvimport import Parsed, RowError
from services.kit.messaging import events
from services.kit.persistence.db import UnitOfWork
from teei.events.v1 import envelope_pb2


class BuddyUnitOfWork(Protocol):
    """Opens one transaction scoped to one company."""

    def begin(self, *, company_id: str) -> Any: ...


class SqlBuddyRepository:
    """Buddy records, webhook deliveries, import batches and outgoing events of one company."""

    def __init__(self, session: orm.Session, *, company_id: str) -> None:
        self._session = session
        self.company_id = company_id

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
        self._session.execute(store.table.insert().values(**store.to_row(record)))
        self._write_attendees(record)

    def replace(self, record: Record) -> None:
        """Overwrites a stored record of this company."""
        store = STORES[KIND_OF[type(record)]]
        table = store.table
        condition = sa.and_(table.c.company_id == self.company_id, table.c.record_id == record.record_id)
        self._session.execute(table.update().where(condition).values(**store.to_row(record)))
        self._write_attendees(record)

    def _write_attendees(self, record: Record) -> None:
        if not isinstance(record, BuddyEvent):
            return
        stored = event_attendees.c.event_id == record.record_id
        self._session.execute(event_attendees.delete().where(stored, event_attendees.c.company_id == self.company_id))
        rows = attendee_rows(record)
        if rows:
            self._session.execute(event_attendees.insert(), rows)

    def find(self, kind: str, where: RecordFilter, page: Page) -> list[Record]:
        """Up to `page.size` + 1 records, newest first (the extra one says whether more follow)."""
        store = STORES[kind]
        table, time = store.table, store.table.c[store.time]
        conditions = _conditions(store, where, company_id=self.company_id)
        query = sa.select(table).where(table.c.company_id == self.company_id, *conditions)
        if page.after is not None:
            at, item_id = page.after.at, page.after.item_id
            query = query.where(sa.or_(time < at, sa.and_(time == at, table.c.record_id < item_id)))
        query = query.order_by(time.desc(), table.c.record_id.desc()).limit(page.size + 1)
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

    def emit(self, envelope: envelope_pb2.Envelope) -> None:
        """Queues an event in the outbox, committed with the state change."""
        events.record(self._session, envelope)

    def record_batch(self, *, kind: str, parsed: Parsed, data: bytes, stored: int) -> imports.Batch:
        """Stores an import batch and its quarantined rows."""
        return imports.record_batch(
            self._session, company_id=self.company_id, kind=kind, parsed=parsed, data=data, stored=stored
        )

    def get_batch(self, batch_id: str) -> imports.Batch | None:
        """An import batch of this company, if any."""
        return imports.get_batch(self._session, company_id=self.company_id, batch_id=batch_id)

    def row_errors(self, batch_id: str) -> list[RowError]:
        """The errors of a batch (call only for a batch of this company)."""
        return imports.row_errors(self._session, batch_id=batch_id)

    def list_batches(self, page: Page) -> list[imports.Batch]:
        """Up to `page.size` + 1 batches of this company, newest first."""
        table = imports.batches
        query = sa.select(table.c.batch_id).where(table.c.company_id == self.company_id)
        if page.after is not None:
            at, item_id = page.after.at, page.after.item_id
            created = table.c.created_at
            query = query.where(sa.or_(created < at, sa.and_(created == at, table.c.batch_id < item_id)))
        query = query.order_by(table.c.created_at.desc(), table.c.batch_id.desc()).limit(page.size + 1)
        ids = list(self._session.execute(query).scalars())
        return [batch for batch_id in ids if (batch := self.get_batch(batch_id)) is not None]


def _conditions(store: Store, where: RecordFilter, *, company_id: str) -> Iterator[sa.ColumnElement[bool]]:
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


class SqlBuddyUnitOfWork:
    """Hands out a company-scoped repository inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @contextmanager
    def begin(self, *, company_id: str) -> Iterator[SqlBuddyRepository]:
        """One transaction; commits when the block succeeds."""
        with self._uow.begin() as session:
            yield SqlBuddyRepository(session, company_id=company_id)


__all__ = ["BuddyUnitOfWork", "SqlBuddyRepository", "SqlBuddyUnitOfWork", "utc"]
