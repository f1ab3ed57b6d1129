"""Upskilling persistence: a company-scoped SQLAlchemy repository (every query filters on company_id)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.connectors import imports
from services.kit.connectors.csvimport import Parsed, RowError
from services.kit.messaging import events
from services.kit.persistence.db import UnitOfWork
from services.upskilling import outbox, rows
from services.upskilling.domain.events import DomainEvent
from services.upskilling.domain.model import (
    Course,
    Credential,
    Learner,
    Progress,
    Provider,
)
from services.upskilling.domain.paging import Page
from services.upskilling.tables import credentials, deliveries, progress


@dataclass(frozen=True)
class Filters:
    """Filters of a list query (empty values do not filter)."""

    profile_id: str = ""
    email: str = ""
    provider: str = ""
    status: str = ""
    credential_type: str = ""


class UpskillingUnitOfWork(Protocol):
    """Opens one transaction scoped to one company."""

    def begin(self, *, company_id: str) -> Any: ...


class SqlUpskillingRepository:
    """Learning records, webhook deliveries, import batches and outgoing events of one company."""

    def __init__(self, session: orm.Session, *, company_id: str) -> None:
        self._session = session
        self._company_id = company_id

    @property
    def company_id(self) -> str:
        """The company this repository is scoped to."""
        return self._company_id

    # Webhook deliveries

    def claim_delivery(
        self, provider: Provider, delivery_id: str, *, event_type: str, digest: str, at: datetime
    ) -> bool:
        """Records a delivery (by its webhook-id) as seen; False when this company already had it (a replay)."""
        row = {"company_id": self._company_id, "provider": provider.value, "event_id": delivery_id}
        try:
            with self._session.begin_nested():
                values = {**row, "event_type": event_type, "body_sha256": digest, "received_at": at}
                self._session.execute(deliveries.insert().values(**values, outcome="received", reason=""))
        except sa.exc.IntegrityError:
            return False
        return True

    def settle_delivery(self, provider: Provider, delivery_id: str, *, outcome: str, reason: str) -> None:
        """Keeps what a delivery did (applied, unchanged or ignored, with the reason)."""
        self._session.execute(
            deliveries.update()
            .where(
                self._mine(deliveries), deliveries.c.provider == provider.value, deliveries.c.event_id == delivery_id
            )
            .values(outcome=outcome, reason=reason[:1000])
        )

    def delivery_outcome(self, provider: Provider, delivery_id: str) -> tuple[str, str] | None:
        """(outcome, reason) of a delivery, if it was received."""
        query = sa.select(deliveries.c.outcome, deliveries.c.reason).where(
            self._mine(deliveries), deliveries.c.provider == provider.value, deliveries.c.event_id == delivery_id
        )
        row = self._session.execute(query).first()
        return None if row is None else (row.outcome, row.reason)

    # Progress

    def get_progress(self, progress_id: str) -> Progress | None:
        """One progress record of this company."""
        row = self._first(progress, progress.c.progress_id == progress_id)
        return None if row is None else rows.to_progress(row)

    def find_progress(self, course: Course, learner: Learner) -> Progress | None:
        """The record of this learner in this course, matched by e-mail or provider user id."""
        same = [progress.c.email == learner.email] if learner.email else []
        same += [progress.c.external_id == learner.external_id] if learner.external_id else []
        row = self._first(progress, *_course_is(progress, course), sa.or_(*same), order=progress.c.created_at)
        return None if row is None else rows.to_progress(row)

    def save_progress(self, record: Progress, *, new: bool) -> None:
        """Inserts a new record or overwrites the stored one."""
        values = rows.progress_row(record)
        if new:
            self._session.execute(progress.insert().values(**values))
        else:
            self._session.execute(
                progress.update()
                .where(self._mine(progress), progress.c.progress_id == record.progress_id)
                .values(**values)
            )

    def list_progress(self, filters: Filters, page: Page) -> list[Progress]:
        """A page of records, most recently updated first."""
        conditions = self._filters(progress, filters)
        conditions += [progress.c.status == filters.status] if filters.status else []
        conditions += [progress.c.provider == filters.provider] if filters.provider else []
        found = self._page(progress, progress.c.updated_at, progress.c.progress_id, conditions, page)
        return [rows.to_progress(row) for row in found]

    # Credentials

    def get_credential(self, credential_id: str) -> Credential | None:
        """One credential of this company."""
        row = self._first(credentials, credentials.c.credential_id == credential_id)
        return None if row is None else rows.to_credential(row)

    def find_credential(self, course: Course, key: str) -> Credential | None:
        """The credential with this provider identity."""
        row = self._first(
            credentials,
            credentials.c.provider == course.provider.value,
            credentials.c.provider_name == course.provider_name,
            credentials.c.credential_key == key,
        )
        return None if row is None else rows.to_credential(row)

    def save_credential(self, record: Credential, *, new: bool) -> None:
        """Inserts a new credential or overwrites the stored one."""
        values = rows.credential_row(record)
        if new:
            self._session.execute(credentials.insert().values(**values))
        else:
            key = credentials.c.credential_id == record.credential_id
            self._session.execute(credentials.update().where(self._mine(credentials), key).values(**values))

    def list_credentials(self, filters: Filters, page: Page) -> list[Credential]:
        """A page of credentials, newest first."""
        conditions = self._filters(credentials, filters)
        conditions += [credentials.c.credential_type == filters.credential_type] if filters.credential_type else []
        found = self._page(credentials, credentials.c.issued_at, credentials.c.credential_id, conditions, page)
        return [rows.to_credential(row) for row in found]

    # Import batches

    def record_batch(self, *, kind: str, parsed: Parsed, data: bytes, stored: int) -> imports.Batch:
        """The batch record and its quarantined rows."""
        return imports.record_batch(
            self._session, company_id=self._company_id, kind=kind, parsed=parsed, data=data, stored=stored
        )

    def get_batch(self, batch_id: str) -> imports.Batch | None:
        """One batch of this company."""
        return imports.get_batch(self._session, company_id=self._company_id, batch_id=batch_id)

    def row_errors(self, batch_id: str) -> list[RowError]:
        """The errors of a batch's quarantined rows (call after get_batch has confirmed the owner)."""
        return imports.row_errors(self._session, batch_id=batch_id)

    def list_batches(self, page: Page) -> list[imports.Batch]:
        """A page of batches, newest first."""
        table = imports.batches
        found = self._page(table, table.c.created_at, table.c.batch_id, [], page)
        names = imports.Batch.__dataclass_fields__
        return [imports.Batch(**{n: rows.utc(row[n]) if n == "created_at" else row[n] for n in names}) for row in found]

    # Events

    def emit(self, event: DomainEvent) -> None:
        """Writes the event to the outbox in this transaction."""
        events.record(self._session, outbox.envelope(event, company_id=self._company_id))

    # Query helpers

    def _mine(self, table: sa.Table) -> sa.ColumnElement[bool]:
        return table.c.company_id == self._company_id

    def _first(self, table: sa.Table, *conditions: Any, order: Any = None) -> sa.RowMapping | None:
        query = sa.select(table).where(self._mine(table), *conditions)
        if order is not None:
            query = query.order_by(order)
        return self._session.execute(query.limit(1)).mappings().first()

    def _filters(self, table: sa.Table, filters: Filters) -> list[sa.ColumnElement[bool]]:
        conditions = [table.c.email == filters.email] if filters.email else []
        return conditions + ([table.c.profile_id == filters.profile_id] if filters.profile_id else [])

    def _page(
        self, table: sa.Table, when: Any, ident: Any, conditions: list[Any], page: Page
    ) -> Sequence[sa.RowMapping]:
        query = sa.select(table).where(self._mine(table), *conditions)
        if page.after_id:
            after = datetime.fromisoformat(page.after_time)
            query = query.where(sa.or_(when < after, sa.and_(when == after, ident < page.after_id)))
        query = query.order_by(when.desc(), ident.desc()).limit(page.size + 1)
        return self._session.execute(query).mappings().all()


def _course_is(table: sa.Table, course: Course) -> list[sa.ColumnElement[bool]]:
    return [
        table.c.provider == course.provider.value,
        table.c.provider_name == course.provider_name,
        table.c.course_id == course.course_id,
    ]


class SqlUpskillingUnitOfWork:
    """Hands out a company-scoped repository inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @contextmanager
    def begin(self, *, company_id: str) -> Iterator[SqlUpskillingRepository]:
        """One transaction; commits when the block succeeds."""
        with self._uow.begin() as session:
            yield SqlUpskillingRepository(session, company_id=company_id)
