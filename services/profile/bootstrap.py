"""Builds the profile service from config with production defaults; tests pass their own parts."""

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
from services.profile import privacy, sealing
from services.profile.consumers import SUBSCRIPTIONS
from services.profile.grpc_api import ProfileServicer
from services.profile.repository import SqlProfileUnitOfWork
from teei.profile.v1 import profile_pb2, profile_pb2_grpc

NAME = "profile"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def build(config: ServiceConfig, *, engine: sa.Engine | None = None, cipher: pii.PiiCipher | None = None) -> Service:
    """The profile service: migrations applied, personal fields sealed, servicer wired to the database,
    source events consumed, rows from before sealing sealed in the background."""
    engine = db.migrated_engine(config, name=NAME, migrations=MIGRATIONS, engine=engine)
    checkpoints.attach_service_key(engine, config.var_dir)
    cipher = cipher or pii.cipher_for(config, NAME)
    pii.attach(engine, cipher)
    sessions = db.UnitOfWork(engine)
    servicer = ProfileServicer(uow=SqlProfileUnitOfWork(sessions), subjects=SubjectData(sessions, privacy.MAP))
    registration = Registration.of(profile_pb2, profile_pb2_grpc, "ProfileService", servicer)
    maintenance = PiiMaintenance(
        cipher, partial(seal_batch, sessions, cipher), interval=config.pii_rewrap_interval_seconds
    )
    return Service(
        name=NAME,
        config=config,
        registrations=[registration],
        on_start=[maintenance.start],
        on_stop=[maintenance.stop, engine.dispose, cipher.close],
        engine=engine,
        subscriptions=SUBSCRIPTIONS,
    )


def seal_batch(sessions: db.UnitOfWork, cipher: pii.PiiCipher) -> int:
    """One batch of the online migration, in its own transaction."""
    with sessions.begin() as session:
        return sealing.seal_batch(session, cipher)
