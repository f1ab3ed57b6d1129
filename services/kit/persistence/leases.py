"""Leases in the service's own database: of a service's N worker processes, only the holder of a named lease
runs the work that must run once (the outbox relay, the retention task). A row per name records its holder
and expiry; taking and renewing it is one conditional UPDATE (or the first INSERT), so two processes never
both succeed, on SQLite and PostgreSQL alike. A holder that dies is taken over once its lease expires.

Hand-written because the lease must live where the work's data lives (the outbox, the swept tables): a
JetStream KV lease would let a worker that lost the database keep the lease, and a service without NATS
(events kept in the outbox) still needs one retention task."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from datetime import timedelta

import sqlalchemy as sa

from services.kit.background import BackgroundTask
from services.kit.clock import Clock, utc_now
from services.kit.logs import get_logger

log = get_logger(__name__)

# How long a lease lasts without renewal: a dead holder's work is taken over after at most this.
TTL_SECONDS = 10.0
# Renewals (and a waiting process's attempts) per TTL: a holder survives two failed renewals in a row.
RENEWALS_PER_TTL = 3

metadata = sa.MetaData()
table = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(255), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)


def holder_id() -> str:
    """This process as a holder: host:pid:random (a restarted process with a reused pid is someone else)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def available(engine: sa.Engine) -> bool:
    """Whether the database has the leases table (every service's migrations create it; a database not
    migrated to head, or one built without it, may lack it)."""
    return sa.inspect(engine).has_table(table.name)


class Lease:
    """One named lease in one database, taken, renewed and released by one holder."""

    def __init__(
        self, engine: sa.Engine, name: str, *, holder: str, ttl_seconds: float = TTL_SECONDS, clock: Clock = utc_now
    ) -> None:
        self.engine, self.name, self.holder = engine, name, holder
        self.ttl = timedelta(seconds=ttl_seconds)
        self.clock = clock

    def acquire(self) -> bool:
        """Takes or renews the lease for a TTL from now; False while another holder's lease runs."""
        now = self.clock()
        mine_or_expired = sa.or_(table.c.holder == self.holder, table.c.expires_at < now)
        claim = (
            table.update()
            .where(table.c.name == self.name, mine_or_expired)
            .values(holder=self.holder, expires_at=now + self.ttl)
        )
        try:
            with self.engine.begin() as connection:
                if connection.execute(claim).rowcount == 1:
                    return True
                connection.execute(table.insert().values(name=self.name, holder=self.holder, expires_at=now + self.ttl))
        except sa.exc.IntegrityError:
            return False  # the row exists and is someone else's (or was inserted by them just now)
        return True

    def release(self) -> None:
        """Gives the lease up now (a successor need not wait for it to expire); a no-op when not held."""
        with self.engine.begin() as connection:
            connection.execute(table.delete().where(table.c.name == self.name, table.c.holder == self.holder))

    def holder_now(self) -> str | None:
        """The holder whose lease runs now, if any."""
        query = sa.select(table.c.holder).where(table.c.name == self.name, table.c.expires_at >= self.clock())
        with self.engine.connect() as connection:
            return connection.execute(query).scalar_one_or_none()


class LeaseKeeper(BackgroundTask):
    """Keeps trying to take a lease and renews it while held, every TTL / RENEWALS_PER_TTL; `held` is true
    only until the TTL of the last successful renewal runs out (measured from before it was asked), so a
    holder cut off from its database stops its work before anyone else may take it over. `stop` releases."""

    def __init__(self, lease: Lease) -> None:
        super().__init__(name=f"lease-{lease.name}", grace_seconds=lease.ttl.total_seconds())
        self.lease = lease
        self._valid_until = 0.0
        self._changed = asyncio.Event()

    @property
    def held(self) -> bool:
        """Whether this process holds the lease now."""
        return not self.stopping and time.monotonic() < self._valid_until

    async def wait_changed(self, seconds: float) -> None:
        """Waits up to `seconds` for the lease to be taken or lost (or the keeper to stop)."""
        try:
            await asyncio.wait_for(self._changed.wait(), seconds)
        except TimeoutError:
            return
        finally:
            self._changed.clear()

    async def stop(self) -> None:
        """Stops renewing, then releases the lease if held."""
        was_held = self.held
        await super().stop()
        self._set(0.0, was_held)
        if was_held:
            try:
                await asyncio.to_thread(self.lease.release)
            except sa.exc.SQLAlchemyError:
                log.warning("lease.release_failed", lease=self.lease.name, exc_info=True)

    async def _loop(self) -> None:
        period = self.lease.ttl.total_seconds() / RENEWALS_PER_TTL
        while not self.stopping:
            await self._attempt()
            if await self.pause(period):
                return

    async def _attempt(self) -> None:
        asked = time.monotonic()
        was_held = self.held
        try:
            taken = await asyncio.to_thread(self.lease.acquire)
        except sa.exc.SQLAlchemyError:
            # The database is away: the lease still runs until its TTL, then `held` turns false on its own.
            log.warning("lease.renew_failed", lease=self.lease.name, exc_info=True)
            return
        self._set(asked + self.lease.ttl.total_seconds() if taken else 0.0, was_held)

    def _set(self, valid_until: float, was_held: bool) -> None:
        self._valid_until = valid_until
        if self.held != was_held:
            log.info("lease.taken" if self.held else "lease.lost", lease=self.lease.name, holder=self.lease.holder)
            self._changed.set()
