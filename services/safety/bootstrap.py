"""Builds the safety service from config with production defaults; tests pass their own parts."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kit.config import ServiceConfig
from services.kit.grpc.server import Registration, Service
from services.kit.grpc.subjects import SubjectData
from services.kit.persistence import sealed
from services.kit.security import pii
from services.safety import privacy, sealing
from services.safety.consumers import SUBSCRIPTIONS
from services.safety.domain import classifier
from services.safety.grpc_api import SafetyServicer
from services.safety.repository import SqlSafetyUnitOfWork
from teei.safety.v1 import safety_pb2, safety_pb2_grpc

NAME = "safety"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def build(config: ServiceConfig, *, engine: sa.Engine | None = None, cipher: pii.PiiCipher | None = None) -> Service:
    """The safety service: the trained classifier read and checked (a damaged model stops the start, not each
    request), migrations applied, flagged texts and review notes sealed (older rows in the background),
    servicer wired to the database, source-text events consumed."""
    classifier.shipped()
    database = sealed.open_sealed(
        config, name=NAME, migrations=MIGRATIONS, seal_step=sealing.seal_batch, engine=engine, cipher=cipher
    )
    servicer = SafetyServicer(
        uow=SqlSafetyUnitOfWork(database.sessions), subjects=SubjectData(database.sessions, privacy.MAP)
    )
    registration = Registration.of(safety_pb2, safety_pb2_grpc, "SafetyService", servicer)
    return database.service([registration], subscriptions=SUBSCRIPTIONS)
