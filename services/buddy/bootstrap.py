"""Builds the buddy service from config with production defaults; tests pass their own parts."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.buddy import privacy, sealing
from services.buddy.grpc_api import BuddyServicer
from services.buddy.handlers import Limits
from services.buddy.repository import SqlBuddyUnitOfWork
from services.kit.config import ServiceConfig
from services.kit.connectors.service import Connector
from services.kit.grpc.server import Registration, Service
from services.kit.security import pii, webhooks
from teei.buddy.v1 import buddy_pb2, buddy_pb2_grpc

NAME = "buddy"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CONNECTOR = Connector(NAME, MIGRATIONS, sealing.seal_batch, privacy.MAP)
# gRPC must accept the largest CSV export plus the request envelope.
MESSAGE_HEADROOM = 64 * 1024


def build(
    config: ServiceConfig,
    *,
    engine: sa.Engine | None = None,
    limits: Limits | None = None,
    webhook_secrets: webhooks.SecretStore | None = None,
    cipher: pii.PiiCipher | None = None,
) -> Service:
    """The buddy service: migrations applied, personal fields sealed (older rows in the background),
    servicer wired to the database and the outbox, webhooks verified against the secrets file
    (TEEI_WEBHOOK_SECRETS_FILE) unless a store is given."""
    limits = limits or Limits()
    connector = CONNECTOR.parts(config, engine=engine, webhook_secrets=webhook_secrets, cipher=cipher)
    servicer = BuddyServicer(
        uow=SqlBuddyUnitOfWork(connector.uow),
        verifier=connector.verifier,
        limits=limits,
        subjects=CONNECTOR.subjects(connector),
    )
    registration = Registration.of(buddy_pb2, buddy_pb2_grpc, "BuddyService", servicer)
    max_message_bytes = max(limits.csv_bytes, limits.webhook_bytes) + MESSAGE_HEADROOM
    return CONNECTOR.service(connector, registration, max_message_bytes=max_message_bytes)
