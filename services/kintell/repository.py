"""Kintell persistence: the repository Protocol handlers depend on, its company-scoped SQLAlchemy
adapter (every query filtered by the caller's company), the unit of work that hands it out, and the group
commit that writes concurrent webhook receipts in one transaction."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql, sqlite

from services.kintell import events, rows, sealing
from services.kintell.domain.commands import SessionFilter
from services.kintell.domain.events import DomainEvent
from services.kintell.domain.model import Rating, Session, SessionStatus
from services.kintell.tables import deliveries, ratings, sessions
from services.kit.audit.trail import AuditTrail
from services.kit.connectors import bulk
from services.kit.connectors.imports import ImportBatches, SqlConnectorRepository
from services.kit.connectors.listings import Position, newest_first
from services.kit.connectors.storage import profile_id_of
from services.kit.logs import get_logger
from services.kit.messaging import events as outbox
from services.kit.persistence.db import SqlTenantUnitOfWork, TenantUnitOfWork, UnitOfWork
from services.kit.security import pii
from services.kit.security.pii.cipher import PREFIX

log = get_logger(__name__)

# Bound parameters per statement stay well under SQLite's limit of 32766.
_CHUNK = 500


class KintellRepository(Protocol):
    """Sessions, ratings, webhook deliveries, import batches and outgoing events of one company."""

    @property
    def audit(self) -> AuditTrail: ...

    @property
    def imports(self) -> ImportBatches: ...

    def sessions_by_external_id(self, external_ids: Sequence[str]) -> dict[str, Session]: ...

    def get_session(self, session_id: str) -> Session | None: ...

    def add_sessions(self, new: Sequence[Session]) -> None: ...

    def update_sessions(self, changed: Sequence[Session]) -> None: ...

    def list_sessions(self, where: SessionFilter, *, after: Position | None, size: int) -> list[Session]: ...

    def ratings_of(self, session_ids: Sequence[str]) -> dict[str, list[Rating]]: ...

    def rating_by_external_id(self, external_rating_id: str) -> Rating | None: ...

    def add_rating(self, rating: Rating) -> None: ...

    def claim_delivery(self, *, delivery_id: str, kind: str, body_sha256: str, at: datetime) -> str | None: ...

    def emit(self, news: Sequence[DomainEvent]) -> None: ...


KintellUnitOfWork = TenantUnitOfWork[KintellRepository]


class SqlKintellRepository(SqlConnectorRepository):
    """The Kintell repository over SQLAlchemy Core, scoped to one company."""

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
        """Inserts new sessions (one statement per chunk), sealed all at once: each person's data key is
        fetched once per import, however many chunks name them (the key store's cache is smaller than a
        large import's people)."""
        bulk.insert_rows(self._session, sessions, self._sealed(new), chunk=_CHUNK)

    def update_sessions(self, changed: Sequence[Session]) -> None:
        """Writes changed sessions back."""
        if not changed:
            return
        # The SET clause comes from the parameter keys (executemany); the key is bound as key_id.
        statement = sessions.update().where(
            sessions.c.session_id == sa.bindparam("key_id"), sessions.c.company_id == self.company_id
        )
        params = []
        for row in self._sealed(changed):
            row["key_id"] = row.pop("session_id")
            for fixed in ("company_id", "created_at"):
                del row[fixed]
            params.append(row)
        self._session.execute(statement, params)

    def list_sessions(self, where: SessionFilter, *, after: Position | None, size: int) -> list[Session]:
        """Up to `size` + 1 sessions, newest schedule first, after the keyset position `after`."""
        conditions = _filter_conditions(where, self.company_id)
        query = sa.select(sessions).where(sessions.c.company_id == self.company_id, *conditions)
        query = newest_first(query, time=sessions.c.scheduled_at, ident=sessions.c.session_id, start=after, size=size)
        return self._opened_sessions(query)

    def _select_sessions(self, *conditions: sa.ColumnElement[bool]) -> list[Session]:
        return self._opened_sessions(sa.select(sessions).where(sessions.c.company_id == self.company_id, *conditions))

    def _opened_sessions(self, query: sa.Select[Any]) -> list[Session]:
        cipher = pii.attached(self._session)
        found = self._session.execute(query).mappings().all()
        # The people of a chunk of stored sessions: their keys read at once, not one query per person.
        cipher.keys.preload(_key_ids(found, sealing.SESSIONS.columns))
        return [rows.to_session(sealing.SESSIONS.open(cipher, row)) for row in found]

    def _sealed(self, chunk: Sequence[Session]) -> list[dict[str, Any]]:
        plain = [rows.session_row(s) for s in chunk]
        return sealing.SESSIONS.seal_rows(self._session, pii.attached(self._session), plain)

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
        cipher = pii.attached(self._session)
        for row in self._session.execute(query).mappings():
            found[row["session_id"]].append(rows.to_rating(sealing.RATINGS.open(cipher, row)))
        return found

    def rating_by_external_id(self, external_rating_id: str) -> Rating | None:
        """The rating Kintell calls `external_rating_id`, if stored."""
        query = sa.select(ratings).where(
            ratings.c.company_id == self.company_id, ratings.c.external_rating_id == external_rating_id
        )
        row = self._session.execute(query).mappings().first()
        return None if row is None else rows.to_rating(sealing.RATINGS.open(pii.attached(self._session), row))

    def add_rating(self, rating: Rating) -> None:
        """Stores a new rating, its feedback sealed with the rater's key."""
        row = sealing.RATINGS.seal(self._session, pii.attached(self._session), rows.rating_row(rating))
        self._session.execute(ratings.insert().values(**row))

    # Webhook deliveries

    def claim_delivery(self, *, delivery_id: str, kind: str, body_sha256: str, at: datetime) -> str | None:
        """Records a delivery; returns None when it is new, else the body digest it was first seen with."""
        query = sa.select(deliveries.c.body_sha256).where(
            deliveries.c.company_id == self.company_id, deliveries.c.delivery_id == delivery_id
        )
        seen: str | None = self._session.execute(query).scalar()
        if seen is not None:
            return seen
        # ON CONFLICT DO NOTHING instead of a savepoint: pysqlite turns a savepoint outside an open
        # transaction into its own transaction, which would commit the claim of a refused delivery.
        row: dict[str, object] = {"company_id": self.company_id, "delivery_id": delivery_id, "kind": kind}
        row |= {"body_sha256": body_sha256, "received_at": at}
        insert = _dialect_insert(self._session)(deliveries).values(**row).on_conflict_do_nothing()
        # Executing an INSERT yields a cursor result; Session.execute is typed for the general case.
        inserted = cast("sa.CursorResult[Any]", self._session.execute(insert))
        if inserted.rowcount == 0:
            # A concurrent delivery of the same id won the race; it is the original.
            return str(self._session.execute(query).scalar_one())
        return None

    # Events

    def emit(self, news: Sequence[DomainEvent]) -> None:
        """Writes the events to the outbox in this transaction.

        The same rows as `outbox.record`, written with one executemany per chunk so that a
        50,000-row import does not pay one statement per event; each envelope sealed and packed once."""
        outbox.record_sealed(self._session, events.envelopes(news), chunk=_CHUNK)


def _key_ids(found: Sequence[sa.RowMapping], columns: Sequence[str]) -> set[str]:
    """The ids of the data keys that sealed these rows' values (`pii1.<key id>.<sealed>`)."""
    values = (row[c] for row in found for c in columns)
    return {v[len(PREFIX) :].partition(".")[0] for v in values if v and v.startswith(PREFIX)}


def _dialect_insert(session: orm.Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _filter_conditions(where: SessionFilter, company_id: str) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if where.session_type is not None:
        conditions.append(sessions.c.session_type == where.session_type.value)
    if where.status is SessionStatus.COMPLETED:
        conditions.append(sessions.c.completed_at.is_not(None))
    elif where.status is SessionStatus.SCHEDULED:
        conditions.append(sessions.c.completed_at.is_(None))
    for role, email in (("participant", where.participant_email), ("volunteer", where.volunteer_email)):
        if email:
            conditions.append(_person_is(role, email, company_id))
    if where.profile_id:
        people = (sessions.c.participant_profile_id, sessions.c.volunteer_profile_id)
        conditions.append(sa.or_(*(column == where.profile_id for column in people)))
    if where.start_at is not None:
        conditions.append(sessions.c.scheduled_at >= where.start_at)
    if where.end_at is not None:
        conditions.append(sessions.c.scheduled_at < where.end_at)
    return conditions


def _person_is(role: str, email: str, company_id: str) -> sa.ColumnElement[bool]:
    """The person in `role` has this e-mail: by profile id (sealed rows), or by the plain e-mail of rows
    not sealed yet (a sealed value never equals it)."""
    by_profile = sessions.c[f"{role}_profile_id"] == profile_id_of(company_id, email)
    return sa.or_(by_profile, sessions.c[f"{role}_email"] == email)


class SqlKintellUnitOfWork(SqlTenantUnitOfWork[SqlKintellRepository]):
    """Hands out a company-scoped repository inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow, SqlKintellRepository)


# Group commit of webhook receipts: receipts that arrive while a commit is under way are written together in
# the next transaction, each in a savepoint of its own, and every sender is answered only after that commit.
# SQLite has one writer and syncs its log on every commit; one commit for many receipts is what lets
# concurrent senders through (each receipt its own transaction queued them on the write lock).

T = TypeVar("T")
# Webhook receipts per group commit: enough to absorb a burst of concurrent senders, small enough that a sender
# at the back of a batch does not wait on hundreds of others.
GROUP_LIMIT = 64

Work = Callable[[KintellUnitOfWork], T]


@dataclass
class _Receipt(Generic[T]):
    work: Work[T]
    context: contextvars.Context
    answer: asyncio.Future[T] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class _Savepoint:
    """The unit of work one receipt sees inside a group: its block is a savepoint of the shared transaction,
    rolled back alone when the handler fails, and written only when the whole group commits."""

    def __init__(self, session: orm.Session) -> None:
        self._session = session

    @contextmanager
    def begin(self, *, company_id: str) -> Iterator[SqlKintellRepository]:
        with self._session.begin_nested():
            yield SqlKintellRepository(self._session, company_id=company_id)

    @contextmanager
    def read(self, *, company_id: str) -> Iterator[SqlKintellRepository]:
        with self._session.begin_nested():
            yield SqlKintellRepository(self._session, company_id=company_id)


class GroupCommit:
    """Runs handlers that write one receipt each, many to a transaction; `run` answers after the commit.

    A handler that raises is rolled back to its savepoint and its sender gets the error; the others commit.
    When the group's commit itself fails, nothing of it was written and each receipt is run again alone in
    a transaction of its own, so one bad receipt costs no other sender its answer."""

    def __init__(self, uow: UnitOfWork, *, limit: int = GROUP_LIMIT) -> None:
        self._uow = uow
        self._alone = SqlKintellUnitOfWork(uow)
        self._limit = limit
        self._queue: list[_Receipt[object]] = []
        self._writer: asyncio.Task[None] | None = None

    async def run(self, work: Work[T]) -> T:
        """Runs `work` in the next group (in the caller's context: tenant, trace) and returns its result
        once the group has committed; raises what `work` raised."""
        receipt: _Receipt[T] = _Receipt(work, contextvars.copy_context())
        self._queue.append(receipt)  # type: ignore[arg-type]  # answered with what its own work returns
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued(), name="kintell-group-commit")
            self._writer.add_done_callback(_report_if_failed)
        # A sender that goes away does not take its receipt out of the group (as with a thread before).
        return await receipt.answer

    async def _write_queued(self) -> None:
        while self._queue:
            group, self._queue = self._queue[: self._limit], self._queue[self._limit :]
            try:
                outcomes = await asyncio.to_thread(self._write, group)
            except BaseException as exc:  # the thread itself failed: no sender may wait forever
                outcomes = [exc] * len(group)
                if not isinstance(exc, Exception):
                    _answer(group, outcomes)
                    raise
            _answer(group, outcomes)

    def _write(self, group: list[_Receipt[object]]) -> list[object]:
        try:
            with self._uow.begin() as session:
                batch = _Savepoint(session)
                outcomes = [_attempt(receipt, batch) for receipt in group]
        except Exception:
            log.warning("kintell.group_commit_failed", receipts=len(group), exc_info=True)
            return [_attempt(receipt, self._alone) for receipt in group]
        return outcomes


def _attempt(receipt: _Receipt[object], uow: KintellUnitOfWork) -> object:
    try:
        return receipt.context.copy().run(receipt.work, uow)
    except Exception as exc:
        return exc


def _answer(group: list[_Receipt[object]], outcomes: list[object]) -> None:
    for receipt, outcome in zip(group, outcomes, strict=True):
        if receipt.answer.done():
            continue
        if isinstance(outcome, BaseException):
            receipt.answer.set_exception(outcome)
        else:
            receipt.answer.set_result(outcome)


def _report_if_failed(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("kintell.group_commit_stopped", exc_info=task.exception())
