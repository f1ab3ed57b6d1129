"""Retention: a periodic task that deletes expired rows in bounded batches: the kit's de-duplication records
(idempotency keys, inbox, published outbox, webhook deliveries; docs/idempotency.md) and each service's data
classes of the retention policy (retention_policy.py, docs/privacy/retention.md)."""

from __future__ import annotations

import asyncio
import fnmatch
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from services.kit.clock import Clock, utc_now
from services.kit.config import ServiceConfig
from services.kit.logs import get_logger
from services.kit.persistence.leases import LeaseKeeper

log = get_logger(__name__)

# Every connector keeps its webhook de-dup records in `<source>_webhook_deliveries`, stamped `received_at`.
WEBHOOK_DEDUP_TABLES = "*_webhook_deliveries"
WEBHOOK_DEDUP_COLUMN = "received_at"


@dataclass(frozen=True)
class Hop:
    """A join from the rows so far to `table`, on the columns `on` both tables name alike."""

    table: str
    on: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    """Rows of the tables matching `tables` (a glob) whose `column` is set and older than `max_age` go.

    A NULL `column` never expires a row: an unpublished outbox row (published_at NULL) is always kept.
    With `through`, `column` is a column of the last hop's table: a row without its own timestamp (a
    quarantined CSV row) ages with the row it belongs to (its import batch), and a row whose parent is
    gone never expires.
    """

    tables: str
    column: str
    max_age: timedelta
    through: tuple[Hop, ...] = ()


def default_rules(config: ServiceConfig) -> tuple[Rule, ...]:
    """The kit's rules: idempotency keys past their expiry, inbox and published outbox rows, webhook de-dup."""
    return (
        Rule("idempotency_keys", "expires_at", timedelta(0)),
        Rule("inbox", "processed_at", timedelta(days=config.inbox_retention_days)),
        Rule("outbox", "published_at", timedelta(days=config.outbox_retention_days)),
        Rule(WEBHOOK_DEDUP_TABLES, WEBHOOK_DEDUP_COLUMN, timedelta(days=config.webhook_dedup_retention_days)),
    )


class Retention:
    """Sweeps one database by its rules every `interval` seconds until stopped."""

    def __init__(
        self,
        engine: sa.Engine,
        rules: Sequence[Rule],
        *,
        interval: float,
        clock: Clock = utc_now,
        batch_size: int = 500,
        lease: LeaseKeeper | None = None,
    ) -> None:
        self.engine = engine
        # Of a service's worker processes, only the lease's holder sweeps (None: this process always does).
        self.lease = lease
        self.rules = tuple(rules)
        self.interval = interval
        self.clock = clock
        self.batch_size = batch_size
        self._halt = threading.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def sweep(self) -> dict[str, int]:
        """Deletes every expired row now; returns the count deleted per table."""
        now = self.clock()
        names = sa.inspect(self.engine).get_table_names()
        counts: dict[str, int] = {}
        for rule in self.rules:
            for name in fnmatch.filter(names, rule.tables):
                expired = self._expired(name, rule, names)
                if expired is None:
                    log.warning("retention.skipped", table=name, column=rule.column)
                    continue
                table, rows, column = expired
                counts[name] = counts.get(name, 0) + self._purge(table, rows, column, now - rule.max_age)
        return counts

    def _expired(
        self, name: str, rule: Rule, names: Sequence[str]
    ) -> tuple[sa.Table, sa.Select[tuple[object, ...]], sa.ColumnElement[datetime]] | None:
        """The table, the select of its keys joined through the rule's hops, and the dating column."""
        if any(hop.table not in names for hop in rule.through):
            return None
        metadata = sa.MetaData()
        table = sa.Table(name, metadata, autoload_with=self.engine)
        if not table.primary_key.columns:
            return None
        rows = sa.select(*table.primary_key.columns).select_from(table)
        dated = table
        for hop in rule.through:
            parent = sa.Table(hop.table, metadata, autoload_with=self.engine)
            if any(c not in dated.c or c not in parent.c for c in hop.on):
                return None
            rows = rows.join(parent, sa.and_(*(dated.c[c] == parent.c[c] for c in hop.on)))
            dated = parent
        if rule.column not in dated.c:
            return None
        return table, rows, dated.c[rule.column]

    def _purge(
        self,
        table: sa.Table,
        rows: sa.Select[tuple[object, ...]],
        column: sa.ColumnElement[datetime],
        cutoff: datetime,
    ) -> int:
        keys = list(table.primary_key.columns)
        expired = rows.where(column.is_not(None), column < cutoff).limit(self.batch_size)
        target = keys[0].in_(expired) if len(keys) == 1 else sa.tuple_(*keys).in_(expired)
        total = 0
        while not self._halt.is_set() and self._holds():
            with self.engine.begin() as connection:
                deleted = connection.execute(table.delete().where(target)).rowcount
            total += deleted
            if deleted < self.batch_size:
                break
        return total

    def start(self) -> None:
        """Starts sweeping now and then every interval."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="retention")

    async def stop(self) -> None:
        """Stops after the batch in progress (if any); returns once the task has ended."""
        self._halt.set()
        self._stopping.set()
        if self._task is not None:
            await self._task

    def _holds(self) -> bool:
        return self.lease is None or self.lease.held

    async def _run(self) -> None:
        while not self._stopping.is_set():
            if not self._holds():
                await self._wait(self.interval)  # woken as soon as the lease is taken
                continue
            await self._sweep_logged()
            await self._wait(self.interval)

    async def _wait(self, seconds: float) -> None:
        """Waits up to `seconds`, ending early when stopping or when the lease is taken or lost."""
        waits: list[asyncio.Future[object]] = [asyncio.ensure_future(self._stopping.wait())]
        if self.lease is not None:
            waits.append(asyncio.ensure_future(self.lease.wait_changed(seconds)))
        _, pending = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiting in pending:
            waiting.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _sweep_logged(self) -> None:
        try:
            counts = await asyncio.to_thread(self.sweep)
        except sa.exc.SQLAlchemyError:
            # A busy or briefly unreachable database is tried again next interval.
            log.exception("retention.failed")
            return
        log.info("retention.swept", deleted=counts, total=sum(counts.values()))
