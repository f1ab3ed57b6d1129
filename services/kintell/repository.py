"""Kintell persistence: a company-scoped repository over SQLAlchemy Core (every query filtered by the
caller's company) and the unit of work that hands it out inside one transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql, sqlite

from services.kintell import rows
from services.kintell.domain.model import (
    Rating,
    Session,
    SessionStatus,
    SessionType,
)
from services.kintell.tables import deliveries, ratings, sessions
from services.kit.connectors import imports
from services.kit.connectors.csvimport import Parsed, RowError
from services.kit.messaging import events
from services.kit.persistence.db import UnitOfWork

# Bound parameters per statement stay well under SQLite's limit of 32766.
_CHUNK = 500


@dataclass(frozen=True)
class SessionFilter:
    """ListSessions filters, already validated."""

    session_type: SessionType | None = None
    status: SessionStatus | None = None
    participant_email: str = ""
    volunteer_email: str = ""
    profile_id: str = ""
    start_at: datetime | None = None
    end_at: datetime | None = None


class KintellRepository:
    """Sessions, ratings, deliveries, batches and outbox events of one company."""

    def __init__(self, session: orm.Session, *, company_id: str) -> None:
        self._db = session
        self.company_id = company_id

    # Sessions

    def sessions_by_external_id(self, external_ids: Sequence[str]) -> dict[str, Session]:
        """Stored sessions with these Kintell ids, keyed by Kintell id."""
        found: dict[str, Session] = {}
        for start in range(0, len(external_ids), _CHUNK):
            chunk = external_ids[start : start + _CHUNK]
            rows = self._select_sessions(sessions.c.external_session_id.in_(chunk))
            found.update((s.facts.external_session_id, s) for s in rows)
        return found

    def get_session(self, session_id: str) -> Session | None:
        """The session with this platform id, if any."""
        rows = self._select_sessions(sessions.c.session_id == session_id)
        return rows[0] if rows else None

    def add_sessions(self, new: Sequence[Session]) -> None:
        """Inserts new sessions (one statement per chunk)."""
        for start in range(0, len(new), _CHUNK):
            self._db.execute(sessions.insert(), [rows.session_row(s) for s in new[start : start + _CHUNK]])

    def update_sessions(self, changed: Sequence[Session]) -> None:
        """Writes changed sessions back."""
        if not changed:
            return
        # The SET clause comes from the parameter keys (executemany); the key is bound as key_id.
        statement = sessions.update().where(
            sessions.c.session_id == sa.bindparam("key_id"), sessions.c.company_id == self.company_id
        )
        params = []
        for s in changed:
            row = rows.session_row(s)
            row["key_id"] = row.pop("session_id")
            for fixed in ("company_id", "created_at"):
                del row[fixed]
            params.append(row)
        self._db.execute(statement, params)

    def list_sessions(self, where: SessionFilter, *, after: tuple[datetime, str] | None, limit: int) -> list[Session]:
        """A page of sessions, newest schedule first, after the keyset position `after`."""
        conditions = _filter_conditions(where)
        if after is not None:
            at, session_id = after
            conditions.append(
                sa.or_(
                    sessions.c.scheduled_at < at,
                    sa.and_(sessions.c.scheduled_at == at, sessions.c.session_id < session_id),
                )
            )
        order = (sessions.c.scheduled_at.desc(), sessions.c.session_id.desc())
        return self._select_sessions(*conditions, order_by=order, limit=limit)

    def _select_sessions(
        self, *conditions: sa.ColumnElement[bool], order_by: Sequence[Any] = (), limit: int | None = None
    ) -> list[Session]:
        query = sa.select(sessions).where(sessions.c.company_id == self.company_id, *conditions).order_by(*order_by)
        if limit is not None:
            query = query.limit(limit)
        return [rows.to_session(row) for row in self._db.execute(query).mappings()]

    # Ratings

    def ratings_of(self, session_ids: Sequence[str]) -> dict[str, list[Rating]]:
        """Ratings of these sessions, oldest first, keyed by session id."""
        found: dict[str, list[Rating]] = {s: [] for s in session_ids}
        if not session_ids:
            return found
        query = (
            sa.select(ratings)
            .where(ratings.c.company_id == self.company_id, ratings.c.session_id.in_(session_ids))
            .order_by(ratings.c.given_at, ratings.c.rating_id)
        )
        for row in self._db.execute(query).mappings():
            found[row["session_id"]].append(rows.to_rating(row))
        return found

    def rating_by_external_id(self, external_rating_id: str) -> Rating | None:
        """The rating Kintell calls `external_rating_id`, if stored."""
        query = sa.select(ratings).where(
            ratings.c.company_id == self.company_id, ratings.c.external_rating_id == external_rating_id
        )
        row = self._db.execute(query).mappings().first()
        return None if row is None else rows.to_rating(row)

    def add_rating(self, rating: Rating) -> None:
        """Stores a new rating."""
        self._db.execute(
            ratings.insert().values(
                rating_id=rating.rating_id,
                company_id=rating.company_id,
                session_id=rating.session_id,
                external_rating_id=rating.external_rating_id or None,
                rater_role=rating.rater_role.value,
                rating=rating.rating,
                feedback_text=rating.feedback_text,
                given_at=rating.given_at,
                delivery_id=rating.provenance.delivery_id,
                received_at=rating.provenance.received_at,
            )
        )

    # Webhook deliveries

    def claim_delivery(self, *, delivery_id: str, kind: str, body_sha256: str, at: datetime) -> str | None:
        """Records a delivery; returns None when it is new, else the body digest it was first seen with."""
        query = sa.select(deliveries.c.body_sha256).where(
            deliveries.c.company_id == self.company_id, deliveries.c.delivery_id == delivery_id
        )
        seen: str | None = self._db.execute(query).scalar()
        if seen is not None:
            return seen
        # ON CONFLICT DO NOTHING instead of a savepoint: pysqlite turns a savepoint outside an open
        # transaction into its own transaction, which would commit the claim of a refused delivery.
        row: dict[str, Any] = {"company_id": self.company_id, "delivery_id": delivery_id, "kind": kind}
        row |= {"body_sha256": body_sha256, "received_at": at}
        insert = _dialect_insert(self._db)(deliveries).values(**row).on_conflict_do_nothing()
        inserted: sa.CursorResult[Any] = self._db.execute(insert)  # type: ignore[assignment]
        if inserted.rowcount == 0:
            # A concurrent delivery of the same id won the race; it is the original.
            return str(self._db.execute(query).scalar_one())
        return None

    # Events

    def record_events(self, envelopes: Sequence[events.Envelope]) -> None:
        """Writes the events to the outbox in this transaction.

        The same rows as `events.record`, written with one executemany per chunk so that a
        50,000-row import does not pay one statement per event."""
        events.record_many(self._db, envelopes, chunk=_CHUNK)

    # Import batches

    def record_batch(self, *, parsed: Parsed, data: bytes, stored: int) -> imports.Batch:
        """Stores the batch record and its quarantined rows."""
        return imports.record_batch(
            self._db, company_id=self.company_id, kind="kintell_sessions", parsed=parsed, data=data, stored=stored
        )

    def get_batch(self, batch_id: str) -> imports.Batch | None:
        """A batch of this company, if any."""
        return imports.get_batch(self._db, company_id=self.company_id, batch_id=batch_id)

    def batch_errors(self, batch_id: str) -> list[RowError]:
        """The row errors of a batch of this company (callers check the batch belongs to it first)."""
        return imports.row_errors(self._db, batch_id=batch_id)

    def list_batches(self, *, after: tuple[datetime, str] | None, limit: int) -> list[imports.Batch]:
        """A page of this company's batches, newest first."""
        table = imports.batches
        query = sa.select(*[table.c[name] for name in imports.Batch.__dataclass_fields__]).where(
            table.c.company_id == self.company_id
        )
        if after is not None:
            at, batch_id = after
            query = query.where(
                sa.or_(table.c.created_at < at, sa.and_(table.c.created_at == at, table.c.batch_id < batch_id))
            )
        query = query.order_by(table.c.created_at.desc(), table.c.batch_id.desc()).limit(limit)
        return [
            imports.Batch(**{**row, "created_at": rows.utc(row["created_at"])})
            for row in self._db.execute(query).mappings()
        ]


def _dialect_insert(session: orm.Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _filter_conditions(where: SessionFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if where.session_type is not None:
        conditions.append(sessions.c.session_type == where.session_type.value)
    if where.status is SessionStatus.COMPLETED:
        conditions.append(sessions.c.completed_at.is_not(None))
    elif where.status is SessionStatus.SCHEDULED:
        conditions.append(sessions.c.completed_at.is_(None))
    if where.participant_email:
        conditions.append(sessions.c.participant_email == where.participant_email)
    if where.volunteer_email:
        conditions.append(sessions.c.volunteer_email == where.volunteer_email)
    if where.profile_id:
        people = (sessions.c.participant_profile_id, sessions.c.volunteer_profile_id)
        conditions.append(sa.or_(*(column == where.profile_id for column in people)))
    if where.start_at is not None:
        conditions.append(sessions.c.scheduled_at >= where.start_at)
    if where.end_at is not None:
        conditions.append(sessions.c.scheduled_at < where.end_at)
    return conditions


class KintellUnitOfWork:
    """Hands out a company-scoped repository inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @contextmanager
    def begin(self, *, company_id: str) -> Iterator[KintellRepository]:
        """One transaction; commits when the block succeeds, rolls back otherwise."""
        with self._uow.begin() as session:
            yield KintellRepository(session, company_id=company_id)
