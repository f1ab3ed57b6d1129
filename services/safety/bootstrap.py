"""Builds the safety service from config with production defaults; tests pass their own parts."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kit.audit import checkpoints
from services.kit.config import ServiceConfig
from services.kit.grpc.server import Registration, Service
from services.kit.grpc.subjects import SubjectData
from services.kit.persistence import db
from services.safety import privacy
from services.safety.consumers import SUBSCRIPTIONS
from services.safety.grpc_api import SafetyServicer
from services.safety.repository import SqlSafetyUnitOfWork
from teei.safety.v1 import safety_pb2, safety_pb2_grpc

NAME = "safety"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def build(config: ServiceConfig, *, engine: sa.Engine | None = None) -> Service:
    """The safety service: migrations applied, servicer wired to the database, source-text events consumed."""
    engine = db.migrated_engine(config, name=NAME, migrations=MIGRATIONS, engine=engine)
    checkpoints.attach_service_key(engine, config.var_dir)
    sessions = db.UnitOfWork(engine)
    servicer = SafetyServicer(uow=SqlSafetyUnitOfWork(sessions), subjects=SubjectData(sessions, privacy.MAP))
    registration = Registration.of(safety_pb2, safety_pb2_grpc, "SafetyService", servicer)
    return Service(
        name=NAME,
        config=config,
        registrations=[registration],
        on_stop=[engine.dispose],
        engine=engine,
        subscriptions=SUBSCRIPTIONS,
    )
