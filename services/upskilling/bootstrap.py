"""Builds the upskilling connector from config with production defaults; tests pass their own parts."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kit.config import ServiceConfig
from services.kit.connectors import csvimport
from services.kit.connectors.service import Connector
from services.kit.grpc.server import Registration, Service
from services.kit.security import pii, webhooks
from services.upskilling import privacy, sealing
from services.upskilling.grpc_api import UpskillingServicer
from services.upskilling.repository import SqlUpskillingUnitOfWork
from teei.upskilling.v1 import upskilling_pb2, upskilling_pb2_grpc

NAME = "upskilling"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CONNECTOR = Connector(NAME, MIGRATIONS, sealing.seal_batch, privacy.MAP)


def build(
    config: ServiceConfig,
    *,
    engine: sa.Engine | None = None,
    webhook_secrets: webhooks.SecretStore | None = None,
    cipher: pii.PiiCipher | None = None,
) -> Service:
    """The upskilling connector: migrations applied, learners' personal fields sealed (older rows in the
    background), servicer wired to the database and its outbox, webhooks verified per provider against the
    secrets file (TEEI_WEBHOOK_SECRETS_FILE) unless a store is given."""
    connector = CONNECTOR.parts(config, engine=engine, webhook_secrets=webhook_secrets, cipher=cipher)
    servicer = UpskillingServicer(
        uow=SqlUpskillingUnitOfWork(connector.uow),
        verifier=connector.verifier,
        subjects=CONNECTOR.subjects(connector),
    )
    registration = Registration.of(upskilling_pb2, upskilling_pb2_grpc, "UpskillingService", servicer)
    return CONNECTOR.service(connector, registration, max_message_bytes=csvimport.MESSAGE_BYTES)
