"""What every connector's bootstrap shares: its database (migrated at start unless an engine is given),
its webhook verifier (secrets from TEEI_WEBHOOK_SECRETS_FILE unless a store is given) and the Service
that serves one registration over them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from services.kit.audit import checkpoints
from services.kit.config import ServiceConfig
from services.kit.grpc.server import Registration, Service
from services.kit.persistence import db
from services.kit.security import webhooks


@dataclass(frozen=True)
class ConnectorParts:
    """The parts a connector's servicer is built on."""

    name: str
    config: ServiceConfig
    engine: sa.Engine
    uow: db.UnitOfWork
    verifier: webhooks.WebhookVerifier

    def service(self, registration: Registration, *, max_message_bytes: int) -> Service:
        """The connector serving `registration`; the engine is disposed on stop."""
        return Service(
            name=self.name,
            config=self.config,
            registrations=[registration],
            on_stop=[self.engine.dispose],
            engine=self.engine,
            max_message_bytes=max_message_bytes,
        )


def parts(
    config: ServiceConfig,
    *,
    name: str,
    migrations: Path,
    engine: sa.Engine | None = None,
    webhook_secrets: webhooks.SecretStore | None = None,
) -> ConnectorParts:
    """The connector's parts with production defaults."""
    engine = db.migrated_engine(config, name=name, migrations=migrations, engine=engine)
    checkpoints.attach_service_key(engine, config.var_dir)
    verifier = webhooks.WebhookVerifier(webhook_secrets or webhooks.configured_store(config.var_dir))
    return ConnectorParts(name, config, engine, db.UnitOfWork(engine), verifier)
