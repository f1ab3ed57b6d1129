"""A migrated audit log on a real database, entries to append, and raw-SQL tampering around the triggers."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.kit.audit import checkpoints
from services.kit.audit.records import AuditEntry, AuditRecord
from services.kit.audit.tables import records
from services.kit.audit.trail import AuditLog
from services.kit.audit.verify import Problem, Report, verify
from services.kit.persistence import db
from services.upskilling import bootstrap as upskilling

KEY = checkpoints.HmacKey(b"k" * 32)
TRIGGERS = {
    "sqlite": ("DROP TRIGGER audit_records_no_update", "DROP TRIGGER audit_records_no_delete"),
    "postgresql": ("DROP TRIGGER audit_records_append_only ON audit_records",),
}


def migrated(url: str) -> sa.Engine:
    """An engine on a database at head of a service that keeps an audit log (upskilling: the smallest)."""
    db.upgrade(url, upskilling.MIGRATIONS)
    return db.create_engine(url)


def ticking(start: datetime = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)) -> Iterator[datetime]:
    """A clock advancing one second and one microsecond per reading: every time is distinct."""
    return (start + timedelta(seconds=n, microseconds=n) for n in itertools.count())


def fill(engine: sa.Engine, count: int, *, every: int = 1000) -> list[AuditRecord]:
    """Appends `count` entries, one transaction each, with a checkpoint every `every` records."""
    clock = ticking()
    checkpointer = checkpoints.Checkpointer(KEY, every=every, clock=lambda: next(clock))
    log = AuditLog(db.UnitOfWork(engine), after_append=checkpointer.after_append, clock=lambda: next(clock))
    return [log.record(entry(n)) for n in range(1, count + 1)]


def entry(n: int) -> AuditEntry:
    """The n-th entry: a change of a record with a person's e-mail in it."""
    return AuditEntry(
        action="thing.changed",
        resource=f"thing:{n}",
        tenant="acme" if n % 2 else "globex",
        before={"count": n - 1, "email": f"person{n}@example.org"},
        after={"count": n, "note": f"written to person{n}@example.org"},
    )


def tamper(engine: sa.Engine, *statements: str) -> None:
    """Runs raw SQL against the log, its append-only triggers dropped first (as an intruder with DDL rights)."""
    with engine.begin() as connection:
        for drop in TRIGGERS[engine.dialect.name]:
            connection.exec_driver_sql(drop)
        for statement in statements:
            connection.exec_driver_sql(statement)


def verified(engine: sa.Engine) -> Report:
    """The verification report of the log."""
    with engine.connect() as connection:
        return verify(connection, KEY)


def first_problem(engine: sa.Engine) -> Problem:
    """The problem verification finds (it must find one)."""
    problem = verified(engine).problem
    assert problem is not None, "the log verified"
    return problem


def stored(url: str) -> list[AuditRecord]:
    """Every record of the log in the database at `url`, in chain order."""
    engine = db.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(records).order_by(records.c.sequence)).mappings()
            return [AuditRecord(**row) for row in rows]
    finally:
        engine.dispose()
