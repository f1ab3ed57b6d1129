"""Builds the upskilling connector from config with production defaults; tests pass their own parts."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kit.config import ServiceConfig
from services.kit.connectors import csvimport
from services.kit.grpc.server import Registration, Service
from services.kit.persistence import db
from services.kit.security import webhooks
from services.upskilling.grpc_api import UpskillingServicer
from services.upskilling.repository import SqlUpskillingUnitOfWork
from teei.upskilling.v1 import upskilling_pb2, upskilling_pb2_grpc

NAME = "upskilling"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# A whole CSV export arrives in one message: the CSV kit's file limit plus room for the envelope.
MAX_MESSAGE_BYTES = csvimport.MAX_BYTES + 1024 * 1024


def database_url(config: ServiceConfig) -> str:
    """DATABASE_URL when given, else a SQLite file under the var folder."""
    return config.database_url or db.sqlite_url(config.var_dir / f"{NAME}.db")


def build(
    config: ServiceConfig, *, engine: sa.Engine | None = None, webhook_secrets: webhooks.SecretStore | None = None
) -> Service:
    """The upskilling connector: migrations applied, servicer wired to the database and its outbox,
    webhooks verified per provider against the secrets file (TEEI_WEBHOOK_SECRETS_FILE) unless a store is given."""
    url = database_url(config)
    if engine is None:
        db.upgrade(url, MIGRATIONS)
        engine = db.create_engine(url)
    verifier = webhooks.WebhookVerifier(webhook_secrets or webhooks.configured_store(config.var_dir))
    uow = SqlUpskillingUnitOfWork(db.UnitOfWork(engine))
    servicer = UpskillingServicer(uow=uow, verifier=verifier)
    registration = Registration.of(upskilling_pb2, upskilling_pb2_grpc, "UpskillingService", servicer)
    return Service(name=NAME, config=config, registrations=[registration], on_stop=[engine.dispose], engine=engine)
