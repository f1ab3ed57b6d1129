"""The read side of the audit log: newest-first pages of one tenant's records (or all, for super admins)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from services.kit.audit.records import AuditRecord
from services.kit.audit.tables import records
from services.kit.persistence import db


@dataclass(frozen=True)
class AuditFilter:
    """Which records a listing shows; `tenant` None means every tenant's and the platform's."""

    tenant: str | None
    action: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditLogReader:
    """Reads one database's audit log in read-only transactions (no write lock taken)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = db.read_only(engine)

    def newest(self, where: AuditFilter, *, before: int | None, size: int) -> list[AuditRecord]:
        """Up to `size` + 1 records matching `where`, newest first, older than sequence `before`."""
        query = sa.select(records).where(*_conditions(where))
        if before is not None:
            query = query.where(records.c.sequence < before)
        query = query.order_by(records.c.sequence.desc()).limit(size + 1)
        with self._engine.connect() as connection:
            return [AuditRecord(**row) for row in connection.execute(query).mappings()]


def _conditions(where: AuditFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if where.tenant is not None:
        conditions.append(records.c.tenant == where.tenant)
    if where.action:
        conditions.append(records.c.action == where.action)
    if where.actor:
        conditions.append(records.c.actor == where.actor)
    if where.since is not None:
        conditions.append(records.c.recorded_at >= where.since)
    if where.until is not None:
        conditions.append(records.c.recorded_at < where.until)
    return conditions
