"""Upskilling persistence: the repository Protocol handlers depend on, its company-scoped SQLAlchemy
adapter (every query filters on company_id) and the unit of work that hands it out.

Learners' columns are written sealed and read opened (services/upskilling/sealing.py); a look-up by
e-mail or provider id compares the profile id or the blind index, or the plain value of a row not
sealed yet (a sealed value never equals it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from services.kit.audit.trail import AuditTrail
from services.kit.connectors.imports import ImportBatches, SqlConnectorRepository
from services.kit.connectors.listings import Position, newest_first
from services.kit.connectors.sealing import SealedTable
from services.kit.connectors.storage import profile_id_of
from services.kit.messaging import events as outbox
from services.kit.persistence.db import SqlTenantUnitOfWork, TenantUnitOfWork, UnitOfWork
from services.kit.security import pii
from services.upskilling import events, rows, sealing
from services.upskilling.domain.events import DomainEvent
from services.upskilling.domain.model import Course, Credential, Learner, Progress, Provider
from services.upskilling.tables import credentials, deliveries, progress


@dataclass(frozen=True)
class Filters:
    """Filters of a list query (empty values do not filter)."""

    profile_id: str = ""
    email: str = ""
    provider: str = ""
    status: str = ""
    credential_type: str = ""


class UpskillingRepository(Protocol):
    """Learning records, webhook deliveries, import batches and outgoing events of one company."""

    @property
    def audit(self) -> AuditTrail: ...

    @property
    def company_id(self) -> str: ...

    @property
    def imports(self) -> ImportBatches: ...

    def claim_delivery(
        self, provider: Provider, delivery_id: str, *, event_type: str, digest: str, at: datetime
    ) -> bool: ...

    def settle_delivery(self, provider: Provider, delivery_id: str, *, outcome: str, reason: str) -> None: ...

    def get_progress(self, progress_id: str) -> Progress | None: ...

    def find_progress(self, course: Course, learner: Learner) -> Progress | None: ...

    def save_progress(self, record: Progress, *, new: bool) -> None: ...

    def list_progress(self, filters: Filters, *, after: Position | None, size: int) -> list[Progress]: ...

    def get_credential(self, credential_id: str) -> Credential | None: ...

    def find_credential(self, course: Course, key: str) -> Credential | None: ...

    def save_credential(self, record: Credential, *, new: bool) -> None: ...

    def list_credentials(self, filters: Filters, *, after: Position | None, size: int) -> list[Credential]: ...

    def emit(self, event: DomainEvent) -> None: ...


UpskillingUnitOfWork = TenantUnitOfWork[UpskillingRepository]


class SqlUpskillingRepository(SqlConnectorRepository):
    """The upskilling repository over SQLAlchemy Core, scoped to one company."""

    # Webhook deliveries

    def claim_delivery(
        self, provider: Provider, delivery_id: str, *, event_type: str, digest: str, at: datetime
    ) -> bool:
        """Records a delivery (by its webhook-id) as seen; False when this company already had it (a replay)."""
        row = {"company_id": self.company_id, "provider": provider.value, "event_id": delivery_id}
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
        return None if row is None else rows.to_progress(self._opened(sealing.PROGRESS, row))

    def find_progress(self, course: Course, learner: Learner) -> Progress | None:
        """The record of this learner in this course, matched by e-mail or provider user id."""
        same = self._learner_is(progress, learner.email, learner.external_id)
        row = self._first(progress, *_course_is(progress, course), sa.or_(*same), order=progress.c.created_at)
        return None if row is None else rows.to_progress(self._opened(sealing.PROGRESS, row))

    def save_progress(self, record: Progress, *, new: bool) -> None:
        """Inserts a new record or overwrites the stored one, sealed with the learner's key."""
        values = self._sealed(sealing.PROGRESS, rows.progress_row(record))
        if new:
            self._session.execute(progress.insert().values(**values))
        else:
            self._session.execute(
                progress.update()
                .where(self._mine(progress), progress.c.progress_id == record.progress_id)
                .values(**values)
            )

    def list_progress(self, filters: Filters, *, after: Position | None, size: int) -> list[Progress]:
        """Up to `size` + 1 records, most recently updated first, after the position `after`."""
        conditions = self._filters(progress, filters)
        conditions += [progress.c.status == filters.status] if filters.status else []
        conditions += [progress.c.provider == filters.provider] if filters.provider else []
        query = sa.select(progress).where(self._mine(progress), *conditions)
        query = newest_first(query, time=progress.c.updated_at, ident=progress.c.progress_id, start=after, size=size)
        found = self._session.execute(query).mappings()
        return [rows.to_progress(self._opened(sealing.PROGRESS, row)) for row in found]

    # Credentials

    def get_credential(self, credential_id: str) -> Credential | None:
        """One credential of this company."""
        row = self._first(credentials, credentials.c.credential_id == credential_id)
        return None if row is None else rows.to_credential(self._opened(sealing.CREDENTIALS, row))

    def find_credential(self, course: Course, key: str) -> Credential | None:
        """The credential with this provider identity (its key in stored form, or plain in a row not
        sealed yet)."""
        stored = sealing.credential_key(pii.attached(self._session), self.company_id, key, course.course_id)
        row = self._first(
            credentials,
            credentials.c.provider == course.provider.value,
            credentials.c.provider_name == course.provider_name,
            credentials.c.credential_key.in_({key, stored}),
        )
        return None if row is None else rows.to_credential(self._opened(sealing.CREDENTIALS, row))

    def save_credential(self, record: Credential, *, new: bool) -> None:
        """Inserts a new credential or overwrites the stored one, sealed with the learner's key."""
        values = self._sealed(sealing.CREDENTIALS, rows.credential_row(record))
        if new:
            self._session.execute(credentials.insert().values(**values))
        else:
            key = credentials.c.credential_id == record.credential_id
            self._session.execute(credentials.update().where(self._mine(credentials), key).values(**values))

    def list_credentials(self, filters: Filters, *, after: Position | None, size: int) -> list[Credential]:
        """Up to `size` + 1 credentials, newest issue first, after the position `after`."""
        conditions = self._filters(credentials, filters)
        conditions += [credentials.c.credential_type == filters.credential_type] if filters.credential_type else []
        query = sa.select(credentials).where(self._mine(credentials), *conditions)
        time, ident = credentials.c.issued_at, credentials.c.credential_id
        query = newest_first(query, time=time, ident=ident, start=after, size=size)
        found = self._session.execute(query).mappings()
        return [rows.to_credential(self._opened(sealing.CREDENTIALS, row)) for row in found]

    # Events

    def emit(self, event: DomainEvent) -> None:
        """Writes the event to the outbox in this transaction."""
        outbox.record(self._session, events.envelope(event, company_id=self.company_id))

    # Sealing

    def _sealed(self, table: SealedTable, row: dict[str, Any]) -> dict[str, Any]:
        cipher = pii.attached(self._session)
        return table.seal(self._session, cipher, sealing.stored(cipher, table.table, row))

    def _opened(self, table: SealedTable, row: sa.RowMapping) -> dict[str, Any]:
        return table.open(pii.attached(self._session), row)

    def _learner_is(self, table: sa.Table, email: str, external_id: str) -> list[sa.ColumnElement[bool]]:
        """Conditions matching a learner by e-mail or provider id: the profile id or blind index of sealed
        rows, the plain value of rows not sealed yet."""
        same = []
        if email:
            same += [table.c.profile_id == profile_id_of(self.company_id, email), table.c.email == email]
        if external_id:
            index = sealing.external_index(pii.attached(self._session), self.company_id, external_id)
            same += [table.c.external_index == index, table.c.external_id == external_id]
        return same

    # Query helpers

    def _mine(self, table: sa.Table) -> sa.ColumnElement[bool]:
        return table.c.company_id == self.company_id

    def _first(self, table: sa.Table, *conditions: Any, order: Any = None) -> sa.RowMapping | None:
        query = sa.select(table).where(self._mine(table), *conditions)
        if order is not None:
            query = query.order_by(order)
        return self._session.execute(query.limit(1)).mappings().first()

    def _filters(self, table: sa.Table, filters: Filters) -> list[sa.ColumnElement[bool]]:
        conditions = [sa.or_(*self._learner_is(table, filters.email, ""))] if filters.email else []
        return conditions + ([table.c.profile_id == filters.profile_id] if filters.profile_id else [])


def _course_is(table: sa.Table, course: Course) -> list[sa.ColumnElement[bool]]:
    return [
        table.c.provider == course.provider.value,
        table.c.provider_name == course.provider_name,
        table.c.course_id == course.course_id,
    ]


class SqlUpskillingUnitOfWork(SqlTenantUnitOfWork[SqlUpskillingRepository]):
    """Hands out a company-scoped repository inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow, SqlUpskillingRepository)
