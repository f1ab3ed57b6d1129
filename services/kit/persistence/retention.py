"""Retention of de-duplication records: a periodic task that deletes expired idempotency keys, old inbox
rows, published outbox rows and webhook delivery records, in bounded batches (docs/idempotency.md)."""

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

log = get_logger(__name__)

# Every connector keeps its webhook de-dup records in `<source>_webhook_deliveries`, stamped `received_at`.
WEBHOOK_DEDUP_TABLES = "*_webhook_deliveries"
WEBHOOK_DEDUP_COLUMN = "received_at"


@dataclass(frozen=True)
class Rule:
    """Rows of the tables matching `tables` (a glob) whose `column` is set and older than `max_age` go.

    A NULL `column` never expires a row: an unpublished outbox row (published_at NULL) is always kept.
    """

    tables: str
    column: str
    max_age: timedelta


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
    ) -> None:
        self.engine = engine
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
                table = sa.Table(name, sa.MetaData(), autoload_with=self.engine)
                if rule.column not in table.c or not table.primary_key.columns:
                    log.warning("retention.skipped", table=name, column=rule.column)
                    continue
                counts[name] = counts.get(name, 0) + self._purge(table, table.c[rule.column], now - rule.max_age)
        return counts

    def _purge(self, table: sa.Table, column: sa.ColumnElement[datetime], cutoff: datetime) -> int:
        keys = list(table.primary_key.columns)
        expired = sa.select(*keys).where(column.is_not(None), column < cutoff).limit(self.batch_size)
        target = keys[0].in_(expired) if len(keys) == 1 else sa.tuple_(*keys).in_(expired)
        total = 0
        while not self._halt.is_set():
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

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self._sweep_logged()
            try:
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            except TimeoutError:
                continue

    async def _sweep_logged(self) -> None:
        try:
            counts = await asyncio.to_thread(self.sweep)
        except sa.exc.SQLAlchemyError:
            # A busy or briefly unreachable database is tried again next interval.
            log.exception("retention.failed")
            return
        log.info("retention.swept", deleted=counts, total=sum(counts.values()))
