"""Builds the profile service from config with production defaults; tests pass their own parts."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kit.audit import checkpoints
from services.kit.config import ServiceConfig
from services.kit.grpc.server import Registration, Service
from services.kit.grpc.subjects import SubjectData
from services.kit.persistence import db
from services.profile import privacy
from services.profile.consumers import SUBSCRIPTIONS
from services.profile.grpc_api import ProfileServicer
from services.profile.repository import SqlProfileUnitOfWork
from teei.profile.v1 import profile_pb2, profile_pb2_grpc

NAME = "profile"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def build(config: ServiceConfig, *, engine: sa.Engine | None = None) -> Service:
    """The profile service: migrations applied, servicer wired to the database, source events consumed."""
    engine = db.migrated_engine(config, name=NAME, migrations=MIGRATIONS, engine=engine)
    checkpoints.attach_service_key(engine, config.var_dir)
    sessions = db.UnitOfWork(engine)
    servicer = ProfileServicer(uow=SqlProfileUnitOfWork(sessions), subjects=SubjectData(sessions, privacy.MAP))
    registration = Registration.of(profile_pb2, profile_pb2_grpc, "ProfileService", servicer)
    return Service(
        name=NAME,
        config=config,
        registrations=[registration],
        on_stop=[engine.dispose],
        engine=engine,
        subscriptions=SUBSCRIPTIONS,
    )
