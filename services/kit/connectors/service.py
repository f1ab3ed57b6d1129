"""What every connector's bootstrap shares: its database (migrated at start unless an engine is given),
its webhook verifier (secrets from TEEI_WEBHOOK_SECRETS_FILE unless a store is given), the cipher of
its personal fields where it seals them (with the online migration and key re-wrap in the background)
and the Service that serves one registration over them."""

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
from services.kit.security import pii, webhooks
from services.kit.security.pii.maintenance import PiiMaintenance

# One batch of a service's online migration in the caller's transaction: rows sealed (kit/connectors/sealing).
SealBatch = Callable[[orm.Session, pii.PiiCipher], int]


@dataclass(frozen=True)
class ConnectorParts:
    """The parts a connector's servicer is built on."""

    name: str
    config: ServiceConfig
    engine: sa.Engine
    uow: db.UnitOfWork
    verifier: webhooks.WebhookVerifier
    cipher: pii.PiiCipher | None = None
    maintenance: PiiMaintenance | None = None

    def service(
        self,
        registration: Registration,
        *,
        max_message_bytes: int,
        subscriptions: Sequence[events.Subscription] = (),
    ) -> Service:
        """The connector serving `registration` and consuming `subscriptions`; the engine is disposed on stop
        (stop hooks run last first: the background sealing stops before the cipher closes)."""
        on_start: list[Callable[[], Awaitable[None] | None]] = []
        on_stop: list[Callable[[], Awaitable[None] | None]] = [self.engine.dispose]
        if self.cipher is not None and self.maintenance is not None:
            on_start = [self.maintenance.start]
            on_stop = [self.cipher.close, *on_stop, self.maintenance.stop]
        return Service(
            name=self.name,
            config=self.config,
            registrations=[registration],
            on_start=on_start,
            on_stop=on_stop,
            engine=self.engine,
            max_message_bytes=max_message_bytes,
            subscriptions=subscriptions,
        )


def parts(
    config: ServiceConfig,
    *,
    name: str,
    migrations: Path,
    engine: sa.Engine | None = None,
    webhook_secrets: webhooks.SecretStore | None = None,
    seal_batch: SealBatch | None = None,
    cipher: pii.PiiCipher | None = None,
) -> ConnectorParts:
    """The connector's parts with production defaults; with `seal_batch`, its personal fields are sealed
    by `cipher` (default: the service's own, pii.cipher_for) and older rows sealed in the background."""
    engine = db.migrated_engine(config, name=name, migrations=migrations, engine=engine)
    checkpoints.attach_service_key(engine, config.var_dir)
    verifier = webhooks.WebhookVerifier(webhook_secrets or webhooks.configured_store(config.var_dir))
    uow = db.UnitOfWork(engine)
    if seal_batch is None:
        return ConnectorParts(name, config, engine, uow, verifier)
    cipher = cipher or pii.cipher_for(config, name)
    pii.attach(engine, cipher)
    maintenance = PiiMaintenance(
        cipher, partial(_seal_batch, uow, cipher, seal_batch), interval=config.pii_rewrap_interval_seconds
    )
    return ConnectorParts(name, config, engine, uow, verifier, cipher, maintenance)


def _seal_batch(uow: db.UnitOfWork, cipher: pii.PiiCipher, step: SealBatch) -> int:
    """One batch of the online migration, in its own transaction."""
    with uow.begin() as session:
        return step(session, cipher)
