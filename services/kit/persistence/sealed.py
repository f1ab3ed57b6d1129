"""A service's own database with personal fields sealed at rest: migrated, its audit log signed with the
service's key, its cipher attached, and the background maintenance that seals rows written before sealing
(one batch a transaction) and re-wraps stale data keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.audit import checkpoints
from services.kit.config import ServiceConfig
from services.kit.grpc.server import Registration, Service
from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.security import pii
from services.kit.security.pii.maintenance import PiiMaintenance

# One batch of a service's online migration in the given session: rows sealed (0 when none is left).
SealStep = Callable[[orm.Session, pii.PiiCipher], int]
# A start or stop hook of a Service (kit.grpc.server).
Hook = Callable[[], Awaitable[None] | None]


@dataclass(frozen=True)
class SealedDatabase:
    name: str
    config: ServiceConfig
    engine: sa.Engine
    sessions: db.UnitOfWork
    cipher: pii.PiiCipher
    maintenance: PiiMaintenance

    @property
    def on_stop(self) -> list[Hook]:
        """Hooks for `Service.on_stop`, which runs them last first: the background sealing stops, then the
        engine, then the cipher (never closed while a batch still seals)."""
        return [self.cipher.close, self.engine.dispose, self.maintenance.stop]

    def service(
        self,
        registrations: Sequence[Registration],
        *,
        subscriptions: Sequence[events.Subscription] = (),
        on_start: Sequence[Hook] = (),
        on_stop: Sequence[Hook] = (),
    ) -> Service:
        """The service on this database: the background sealing starts first, then `on_start`; on stop,
        `on_stop` runs first (last first), then the sealing stops, the engine goes, the cipher closes."""
        return Service(
            name=self.name,
            config=self.config,
            registrations=registrations,
            on_start=[self.maintenance.start, *on_start],
            on_stop=[*self.on_stop, *on_stop],
            engine=self.engine,
            subscriptions=subscriptions,
        )


def open_sealed(
    config: ServiceConfig,
    *,
    name: str,
    migrations: Path,
    seal_step: SealStep,
    engine: sa.Engine | None = None,
    cipher: pii.PiiCipher | None = None,
) -> SealedDatabase:
    """Service `name`'s database (`engine`, else the configured one) migrated to head, sealed by `cipher`
    (default: the service's own, pii.cipher_for); the maintenance runs `seal_step` until nothing is left."""
    engine = db.migrated_engine(config, name=name, migrations=migrations, engine=engine)
    checkpoints.attach_service_key(engine, config.var_dir)
    cipher = cipher or pii.cipher_for(config, name)
    pii.attach(engine, cipher)
    sessions = db.UnitOfWork(engine)
    maintenance = PiiMaintenance(
        cipher, partial(seal_in_transaction, sessions, cipher, seal_step), interval=config.pii_rewrap_interval_seconds
    )
    return SealedDatabase(name, config, engine, sessions, cipher, maintenance)


def seal_in_transaction(sessions: db.UnitOfWork, cipher: pii.PiiCipher, step: SealStep) -> int:
    """One batch of the online migration, in its own transaction."""
    with sessions.begin() as session:
        return step(session, cipher)
