"""Builds the safety service from config with production defaults; tests pass their own parts."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import sqlalchemy as sa

from services.kit.audit import checkpoints
from services.kit.config import ServiceConfig
from services.kit.grpc.server import Registration, Service
from services.kit.grpc.subjects import SubjectData
from services.kit.persistence import db
from services.kit.security import pii
from services.kit.security.pii.maintenance import PiiMaintenance
from services.safety import privacy, sealing
from services.safety.consumers import SUBSCRIPTIONS
from services.safety.grpc_api import SafetyServicer
from services.safety.repository import SqlSafetyUnitOfWork
from teei.safety.v1 import safety_pb2, safety_pb2_grpc

NAME = "safety"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def build(config: ServiceConfig, *, engine: sa.Engine | None = None, cipher: pii.PiiCipher | None = None) -> Service:
    """The safety service: migrations applied, flagged texts and review notes sealed (older rows in the
    background), servicer wired to the database, source-text events consumed."""
    engine = db.migrated_engine(config, name=NAME, migrations=MIGRATIONS, engine=engine)
    checkpoints.attach_service_key(engine, config.var_dir)
    cipher = cipher or pii.cipher_for(config, NAME)
    pii.attach(engine, cipher)
    sessions = db.UnitOfWork(engine)
    servicer = SafetyServicer(uow=SqlSafetyUnitOfWork(sessions), subjects=SubjectData(sessions, privacy.MAP))
    registration = Registration.of(safety_pb2, safety_pb2_grpc, "SafetyService", servicer)
    maintenance = PiiMaintenance(
        cipher, partial(seal_batch, sessions, cipher), interval=config.pii_rewrap_interval_seconds
    )
    return Service(
        name=NAME,
        config=config,
        registrations=[registration],
        on_start=[maintenance.start],
        # Run last first: the background sealing stops, then the engine, then the cipher.
        on_stop=[cipher.close, engine.dispose, maintenance.stop],
        engine=engine,
        subscriptions=SUBSCRIPTIONS,
    )


def seal_batch(sessions: db.UnitOfWork, cipher: pii.PiiCipher) -> int:
    """One batch of the online migration, in its own transaction."""
    with sessions.begin() as session:
        return sealing.seal_batch(session, cipher)
