"""Builds the Kintell connector from config with production defaults; tests pass their own parts."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kintell import privacy, sealing
from services.kintell.grpc_api import KintellServicer
from services.kintell.repository import GroupCommit, SqlKintellUnitOfWork
from services.kit.config import ServiceConfig
from services.kit.connectors import csvimport
from services.kit.connectors.service import Connector
from services.kit.grpc.server import Registration, Service
from services.kit.security import pii, webhooks
from teei.kintell.v1 import kintell_pb2, kintell_pb2_grpc

NAME = "kintell"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CONNECTOR = Connector(NAME, MIGRATIONS, sealing.seal_batch, privacy.MAP)


def build(
    config: ServiceConfig,
    *,
    engine: sa.Engine | None = None,
    webhook_secrets: webhooks.SecretStore | None = None,
    cipher: pii.PiiCipher | None = None,
) -> Service:
    """The Kintell connector: migrations applied, personal fields sealed (older rows in the background),
    servicer wired to the database, outbox relayed, webhooks verified against the secrets file
    (TEEI_WEBHOOK_SECRETS_FILE) unless a store is given."""
    connector = CONNECTOR.parts(config, engine=engine, webhook_secrets=webhook_secrets, cipher=cipher)
    servicer = KintellServicer(
        uow=SqlKintellUnitOfWork(connector.uow),
        receipts=GroupCommit(connector.uow),
        verifier=connector.verifier,
        subjects=CONNECTOR.subjects(connector),
    )
    registration = Registration.of(kintell_pb2, kintell_pb2_grpc, "KintellService", servicer)
    return CONNECTOR.service(connector, registration, max_message_bytes=csvimport.MESSAGE_BYTES)
