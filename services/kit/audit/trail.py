"""The write side of the audit log: append a record in the caller's transaction. There is no update or delete.

Appends are serialised per database (SQLite's writers hold its one write lock from BEGIN IMMEDIATE;
PostgreSQL takes a transaction-scoped advisory lock), so two transactions never chain onto the same
head; the lock ends with the transaction that holds the audited change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.audit import actors, checkpoints
from services.kit.audit.records import GENESIS, AuditEntry, AuditRecord, diff
from services.kit.audit.tables import records
from services.kit.clock import Clock, utc_now
from services.kit.persistence import db

# Any fixed 64-bit number: the key of the PostgreSQL advisory lock serialising appends to the chain.
_CHAIN_LOCK = 0x7465656961756469  # "teeiaudi"
# Built once: the statements' compiled forms are cached, and an append binds only parameters.
_HEAD = sa.select(records.c.sequence, records.c.hash).order_by(records.c.sequence.desc()).limit(1)
_INSERT = records.insert()
AfterAppend = Callable[[orm.Session, AuditRecord], None]


class AuditTrail(Protocol):
    """The audit log as handlers see it: append only."""

    def append(self, entry: AuditEntry) -> AuditRecord: ...


class SqlAuditTrail:
    """Appends records to `audit_records` in the session's transaction; `after_append` (the checkpointer)
    sees each appended record."""

    def __init__(
        self, session: orm.Session, *, clock: Clock = utc_now, after_append: AfterAppend | None = None
    ) -> None:
        self._session = session
        self._clock = clock
        self._after_append = after_append

    def append(self, entry: AuditEntry) -> AuditRecord:
        """Chains the entry onto the head: actor, request and trace ids from the call in progress."""
        self._lock()
        head = self._session.execute(_HEAD).first()
        actor = entry.actor or actors.current()
        record = AuditRecord(
            sequence=1 if head is None else head.sequence + 1,
            recorded_at=self._clock(),
            actor=actor.id[:255],
            actor_kind=actor.kind.value,
            tenant=entry.tenant,
            action=entry.action,
            resource=entry.resource[:255],
            outcome=entry.outcome.value,
            request_id=actors.request_id(),
            trace_id=actors.trace_id(),
            diff=diff(entry.before, entry.after),
            prev_hash=GENESIS if head is None else head.hash,
        )
        record = replace(record, hash=record.computed_hash())
        self._session.execute(_INSERT, vars(record))
        after_append = self._after_append or _attached(self._session)
        if after_append is not None:
            after_append(self._session, record)
        return record

    def _lock(self) -> None:
        if self._session.get_bind().dialect.name == "postgresql":
            self._session.execute(sa.select(sa.func.pg_advisory_xact_lock(_CHAIN_LOCK)))


class AuditLog:
    """Appends for actions that have no transaction of their own (a token issue, a dead-letter replay):
    one append, one transaction."""

    def __init__(self, uow: db.UnitOfWork, *, after_append: AfterAppend | None = None, clock: Clock = utc_now) -> None:
        self._uow = uow
        self._after_append = after_append
        self._clock = clock

    def trail(self, session: orm.Session) -> SqlAuditTrail:
        """The trail in the caller's transaction (an action that has one)."""
        return SqlAuditTrail(session, clock=self._clock, after_append=self._after_append)

    def record(self, entry: AuditEntry) -> AuditRecord:
        """Appends `entry` in a transaction of its own."""
        with self._uow.begin() as session:
            return self.trail(session).append(entry)


def _attached(session: orm.Session) -> AfterAppend | None:
    bind = session.get_bind()
    checkpointer = checkpoints.attached(bind if isinstance(bind, sa.Engine) else bind.engine)
    return None if checkpointer is None else checkpointer.after_append
