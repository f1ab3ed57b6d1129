"""Builds the profile service from config with production defaults; tests pass their own parts."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kit.config import ServiceConfig
from services.kit.grpc.server import Registration, Service
from services.kit.grpc.subjects import SubjectData
from services.kit.persistence import sealed
from services.kit.security import pii
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
    database = sealed.open_sealed(
        config, name=NAME, migrations=MIGRATIONS, seal_step=sealing.seal_batch, engine=engine, cipher=cipher
    )
    servicer = ProfileServicer(
        uow=SqlProfileUnitOfWork(database.sessions), subjects=SubjectData(database.sessions, privacy.MAP)
    )
    registration = Registration.of(profile_pb2, profile_pb2_grpc, "ProfileService", servicer)
    return database.service([registration], subscriptions=SUBSCRIPTIONS)
