"""Builds the q2q service from config with production defaults; tests pass their own parts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
from pathlib import Path

import sqlalchemy as sa

from services.kit import config as config_module
from services.kit.audit.trail import AuditLog
from services.kit.config import ServiceConfig
from services.kit.grpc.server import Registration, Service
from services.kit.grpc.subjects import SubjectData
from services.kit.logs import get_logger
from services.kit.persistence import db, sealed
from services.kit.security import pii
from services.q2q import privacy, queries, sealing
from services.q2q.consumers import subscriptions
from services.q2q.domain.classifier import Classifier
from services.q2q.domain.trained_classifier import TrainedClassifier
from services.q2q.grpc_api import Q2qServicer
from services.q2q.handlers import ScreeningParts
from services.q2q.providers.openai_compatible import OpenAICompatibleClassifier, ProviderSettings
from services.q2q.repository import SqlQ2qUnitOfWork
from services.q2q.screening.credentials import SubmitterTokens
from services.q2q.screening.retrier import ScreeningRetrier, lease_keeper
from services.q2q.screening.safety import SafetyScreener
from services.q2q.settings import Q2qSettings
from teei.q2q.v1 import q2q_pb2, q2q_pb2_grpc

NAME = "q2q"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = get_logger(__name__)


def load_settings(environ: Mapping[str, str] | None = None) -> Q2qSettings:
    """Q2Q's own settings from the environment (TEEI_SAFETY_ADDRESS and the screening retries)."""
    return config_module.load(Q2qSettings, os.environ if environ is None else environ)


def configured_classifier(environ: Mapping[str, str] | None = None) -> Classifier:
    """The local trained classifier, or, when TEEI_Q2Q_PROVIDER_URL names one, the model-backed provider with
    the local classifier as its fallback (services/q2q/providers/openai_compatible.py)."""
    local = TrainedClassifier.load()
    provider = config_module.load(ProviderSettings, os.environ if environ is None else environ)
    if provider.url is None:
        return local
    log.info("q2q.provider_configured", model=provider.model, fallback=local.model_version)
    return OpenAICompatibleClassifier(provider, fallback=local)


def build(
    config: ServiceConfig,
    *,
    engine: sa.Engine | None = None,
    classifier: Classifier | None = None,
    settings: Q2qSettings | None = None,
    cipher: pii.PiiCipher | None = None,
) -> Service:
    """The q2q service: migrations applied, notes, held texts and evidence sealed (older rows in the
    background), servicer and consumers wired to the database, the classifier and Safety (screening
    before storing, and the retrier of texts awaiting screening)."""
    database = sealed.open_sealed(
        config, name=NAME, migrations=MIGRATIONS, seal_step=sealing.seal_batch, engine=engine, cipher=cipher
    )
    classifier = classifier or configured_classifier()
    settings = settings or load_settings()
    sessions = database.sessions
    uow = SqlQ2qUnitOfWork(sessions)
    screener = _screener(config, settings)
    screening = ScreeningParts(uow=uow, classifier=classifier, screener=screener, tokens=SubmitterTokens())
    retrier = None if screener is None else _retrier(settings, screening, screener, sessions, database.engine)
    servicer = Q2qServicer(
        uow=uow,
        screening=screening,
        retrier=retrier,
        subjects=SubjectData(sessions, privacy.MAP),
        audit=AuditLog(sessions),
    )
    registration = Registration.of(q2q_pb2, q2q_pb2_grpc, "Q2qService", servicer)
    if retrier is None or screener is None:
        return database.service([registration], subscriptions=subscriptions(classifier))
    # Stopped in reverse: the retrier, the channel to Safety, then the sealing, the engine, the cipher.
    return database.service(
        [registration],
        subscriptions=subscriptions(classifier),
        on_start=[retrier.ensure_started],
        on_stop=[screener.close, retrier.stop],
    )


def _screener(config: ServiceConfig, settings: Q2qSettings) -> SafetyScreener | None:
    if not settings.safety_address:
        log.warning("q2q.screening_unconfigured", reason="TEEI_SAFETY_ADDRESS not set; Classify cannot store")
        return None
    return SafetyScreener(settings.safety_address, settings.call_policy(), cert_dir=config.mtls_dir)


def _retrier(
    settings: Q2qSettings, parts: ScreeningParts, screener: SafetyScreener, sessions: db.UnitOfWork, engine: sa.Engine
) -> ScreeningRetrier:
    return ScreeningRetrier(
        parts, screener, partial(queries.awaiting_screening, sessions), interval=settings.retry_interval_seconds,
        max_interval=settings.retry_max_interval_seconds, batch=settings.retry_batch,
        lease=lease_keeper(engine),
    )  # fmt: skip
