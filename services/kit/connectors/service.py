"""What every connector's bootstrap shares: its database (migrated at start unless an engine is given),
its webhook verifier (secrets from TEEI_WEBHOOK_SECRETS_FILE unless a store is given), the cipher of
its personal fields where it seals them (with the online migration and key re-wrap in the background),
the export and erasure of the people it keeps, and the Service that serves one registration over them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from services.kit.audit import checkpoints
from services.kit.config import ServiceConfig
from services.kit.grpc.server import Registration, Service
from services.kit.grpc.subjects import SubjectData
from services.kit.messaging import erasures, events
from services.kit.persistence import db, sealed, subjects
from services.kit.security import pii, webhooks
from services.kit.security.pii.maintenance import PiiMaintenance

# One batch of a service's online migration in the caller's transaction: rows sealed (kit/connectors/sealing).
SealBatch = sealed.SealStep


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
    if seal_batch is None:
        engine = db.migrated_engine(config, name=name, migrations=migrations, engine=engine)
        checkpoints.attach_service_key(engine, config.var_dir)
        return ConnectorParts(name, config, engine, db.UnitOfWork(engine), _verifier(config, webhook_secrets))
    database = sealed.open_sealed(
        config, name=name, migrations=migrations, seal_step=seal_batch, engine=engine, cipher=cipher
    )
    verifier = _verifier(config, webhook_secrets)
    return ConnectorParts(
        name, config, database.engine, database.sessions, verifier, database.cipher, database.maintenance
    )


def _verifier(config: ServiceConfig, secrets: webhooks.SecretStore | None) -> webhooks.WebhookVerifier:
    """The webhook verifier on `secrets`, else on the secrets file (TEEI_WEBHOOK_SECRETS_FILE)."""
    return webhooks.WebhookVerifier(secrets or webhooks.configured_store(config.var_dir))


@dataclass(frozen=True)
class Connector:
    """A connector that seals personal fields and keeps people: its name, its migrations, the batch step
    sealing its older rows, and its subject map (where it keeps people)."""

    name: str
    migrations: Path
    seal_batch: SealBatch
    mapping: subjects.SubjectMap

    def parts(
        self,
        config: ServiceConfig,
        *,
        engine: sa.Engine | None = None,
        webhook_secrets: webhooks.SecretStore | None = None,
        cipher: pii.PiiCipher | None = None,
    ) -> ConnectorParts:
        """Its parts with production defaults (`parts`), personal fields sealed."""
        return parts(
            config,
            name=self.name,
            migrations=self.migrations,
            engine=engine,
            webhook_secrets=webhook_secrets,
            seal_batch=self.seal_batch,
            cipher=cipher,
        )

    def subjects(self, built: ConnectorParts) -> SubjectData:
        """The export and erasure of its people, over the database of `built`."""
        return SubjectData(built.uow, self.mapping)

    def service(self, built: ConnectorParts, registration: Registration, *, max_message_bytes: int) -> Service:
        """`built` serving `registration`; whatever an import re-created about a person the platform erased
        goes again (the `privacy.subject.erased` sweep by its subject map)."""
        erased = erasures.subscription(self.mapping)
        return built.service(registration, max_message_bytes=max_message_bytes, subscriptions=[erased])
