"""Builds the q2q service from config with production defaults; tests pass their own parts."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kit import db
from services.kit.config import ServiceConfig
from services.kit.server import Registration, Service
from services.q2q.consumers import subscriptions
from services.q2q.domain.classifier import Classifier, RuleBasedClassifier
from services.q2q.grpc_api import Q2qServicer
from services.q2q.repository import SqlQ2qUnitOfWork
from teei.q2q.v1 import q2q_pb2, q2q_pb2_grpc

NAME = "q2q"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url(config: ServiceConfig) -> str:
    """DATABASE_URL when given, else a SQLite file under the var folder."""
    return config.database_url or db.sqlite_url(config.var_dir / f"{NAME}.db")


def build(config: ServiceConfig, *, engine: sa.Engine | None = None, classifier: Classifier | None = None) -> Service:
    """The q2q service: migrations applied, servicer and consumers wired to the database and classifier."""
    if engine is None:
        url = database_url(config)
        db.upgrade(url, MIGRATIONS)
        engine = db.create_engine(url)
    classifier = classifier or RuleBasedClassifier()
    uow = SqlQ2qUnitOfWork(db.UnitOfWork(engine))
    # Abstract for mypy only: Export/Erase are not built and inherit the generated UNIMPLEMENTED answer.
    servicer = Q2qServicer(uow=uow, classifier=classifier)  # type: ignore[abstract]
    registration = Registration.of(q2q_pb2, q2q_pb2_grpc, "Q2qService", servicer)
    return Service(
        name=NAME,
        config=config,
        registrations=[registration],
        on_stop=[engine.dispose],
        engine=engine,
        subscriptions=subscriptions(classifier),
    )
