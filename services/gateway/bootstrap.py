"""Builds the gateway service from config with production defaults; tests pass their own parts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import sqlalchemy as sa

from services.gateway import handlers, sealing
from services.gateway.domain import keys as ring
from services.gateway.domain.commands import MintToken, RotateKeys
from services.gateway.domain.keys import KeyPolicy
from services.gateway.domain.tokens import TokenSettings
from services.gateway.dsr.services import STUBS, MeshSubjectService, SubjectService
from services.gateway.dsr.streams import JetStreamEraser, StreamEraser
from services.gateway.dsr.worker import PrivacyWorker, WorkerSettings
from services.gateway.grpc_api import GatewayServicer
from services.gateway.keys.ring import KeyRing
from services.gateway.keys.sealing import KeySealer, load_kek
from services.gateway.operations.grpc_api import OperationsServicer
from services.gateway.operations.link import NatsLink
from services.gateway.repository import GatewayUnitOfWork, SqlGatewayUnitOfWork
from services.gateway.settings import GatewayConfig
from services.gateway.sso import config as sso_config
from services.gateway.sso.flow import SsoParts
from services.gateway.sso.oidc import OidcClient
from services.gateway.tables import privacy_sections
from services.kit import config as config_module
from services.kit.audit import actors, checkpoints
from services.kit.audit.queries import AuditLogReader
from services.kit.audit.records import Actor, ActorKind
from services.kit.audit.settings import AuditConfig
from services.kit.audit.trail import AuditLog
from services.kit.clock import Clock, utc_now
from services.kit.config import ServiceConfig
from services.kit.grpc.resilience import CallPolicy
from services.kit.grpc.server import Registration, Service
from services.kit.logs import get_logger
from services.kit.persistence import db, retention_policy
from services.kit.security import pii
from services.kit.security.pii.maintenance import PiiMaintenance
from teei.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from teei.operations.v1 import operations_pb2, operations_pb2_grpc

log = get_logger(__name__)
NAME = "gateway"
# The subject of the short-lived tokens the privacy worker calls the services with when there is no mTLS.
PRIVACY_WORKER = "gateway-privacy-worker"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class Gateway:
    """The gateway's parts, shared by the service and the `teei keys` / `teei token` commands."""

    engine: sa.Engine
    uow: SqlGatewayUnitOfWork
    sealer: KeySealer
    keys: KeyRing
    settings: TokenSettings
    policy: KeyPolicy
    algorithm: str
    # The cipher of the personal fields (data-subject requests, export bundles); None for the commands that
    # only sign or rotate (`teei keys`, `teei token`), which never read or write them.
    cipher: pii.PiiCipher | None = None


def open_gateway(
    url: str,
    var_dir: Path,
    *,
    environ: Mapping[str, str] | None = None,
    engine: sa.Engine | None = None,
    clock: Clock = utc_now,
    policy: KeyPolicy | None = None,
    cipher: pii.PiiCipher | None = None,
) -> Gateway:
    """Migrates the database, loads the key-encryption key and makes sure a signing key exists; with
    `cipher`, the personal fields are sealed with it (services/gateway/sealing.py)."""
    settings = config_module.load(GatewayConfig, os.environ if environ is None else environ)
    # The worker processes of one gateway start together: one migrates and makes the first signing key.
    with db.migration_lock(var_dir, NAME):
        if engine is None:
            db.upgrade(url, MIGRATIONS, extra_versions=db.extra_versions(settings.extra_migrations, NAME))
            engine = db.create_engine(url)
        if cipher is not None:
            pii.attach(engine, cipher)
        policy = policy or KeyPolicy()
        uow = SqlGatewayUnitOfWork(db.UnitOfWork(engine))
        sealer = KeySealer(load_kek(settings.key_encryption_key, var_dir))
        with actors.acting_as(Actor(ActorKind.SYSTEM, "gateway:start-up")):
            ensure_keys(uow=uow, sealer=sealer, policy=policy, clock=clock, algorithm=settings.signing_algorithm)
    keys = KeyRing(uow, sealer, clock=clock, policy=policy)
    # Audit checkpoints are signed with the token-signing key ring (docs/privacy/Audit_Log_Specification.md).
    every = config_module.load(AuditConfig, os.environ if environ is None else environ).checkpoint_every
    checkpoints.attach(
        engine, checkpoints.Checkpointer(checkpoints.JwsSigner(keys.sign_document), every=every, clock=clock)
    )
    return Gateway(engine, uow, sealer, keys, settings.token_settings(), policy, settings.signing_algorithm, cipher)


def ensure_keys(
    *, uow: GatewayUnitOfWork, sealer: KeySealer, policy: KeyPolicy, clock: Clock, algorithm: str = "RS256"
) -> None:
    """A fresh ring gets an active key and a next key (two forced rotations); an initialised ring is left alone."""
    for _ in range(2):
        if _ring_ready(uow):
            return
        command = RotateKeys(algorithm=algorithm, force=True)
        handlers.rotate_keys(command, uow=uow, sealer=sealer, policy=policy, clock=clock)


def _ring_ready(uow: GatewayUnitOfWork) -> bool:
    with uow.begin() as repo:
        keys = repo.keys.all()
    return ring.active_key(keys) is not None and ring.next_key(keys) is not None


def build(
    config: ServiceConfig,
    *,
    environ: Mapping[str, str] | None = None,
    engine: sa.Engine | None = None,
    clock: Clock = utc_now,
    policy: KeyPolicy | None = None,
    oidc: OidcClient | None = None,
    privacy_services: Mapping[str, SubjectService] | None = None,
    cipher: pii.PiiCipher | None = None,
    streams: StreamEraser | None = None,
) -> Service:
    """The gateway service: migrations applied, key ring initialised, personal fields sealed (older rows in
    the background), servicer wired to the database and the SSO providers of TEEI_SSO_CONFIG (read first,
    so a broken providers file fails before anything else), and the worker of data-subject requests started
    with the server and stopped before the database; its erasures clear the event streams of NATS_URL (none
    without it: nothing was published)."""
    environ = os.environ if environ is None else environ
    own = config_module.load(GatewayConfig, environ)
    providers = sso_config.load(own.sso_config)
    cipher = cipher or pii.cipher_for(config, NAME)
    gateway = open_gateway(
        db.database_url(config, NAME),
        config.var_dir,
        environ=environ,
        engine=engine,
        clock=clock,
        policy=policy,
        cipher=cipher,
    )
    maintenance = PiiMaintenance(
        cipher, partial(seal_batch, db.UnitOfWork(gateway.engine), cipher), interval=config.pii_rewrap_interval_seconds
    )
    oidc = oidc or OidcClient()
    parts = SsoParts(
        settings=providers, oidc=oidc, uow=gateway.uow, keys=gateway.keys, tokens=gateway.settings, clock=clock
    )
    if privacy_services is None:
        privacy_services = subject_services(own, gateway, cert_dir=config.mtls_dir, clock=clock)
    worker = PrivacyWorker(
        uow=gateway.uow,
        services=privacy_services,
        settings=WorkerSettings(
            interval=own.privacy_poll_seconds,
            retry_base=own.privacy_retry_seconds,
            retry_max=own.privacy_retry_max_seconds,
            lease=max(300.0, 2 * own.privacy_call_timeout_seconds),
        ),
        clock=clock,
        streams=streams or (JetStreamEraser(config.nats_url) if config.nats_url else None),
    )
    servicer = GatewayServicer(
        uow=gateway.uow, keys=gateway.keys, settings=gateway.settings, clock=clock, sso_parts=parts, privacy=worker,
        bundles_kept_for=bundle_lifetime(config),
    )  # fmt: skip
    registrations = [
        Registration.of(gateway_pb2, gateway_pb2_grpc, "GatewayService", servicer),
        operations_registration(config, engine=gateway.engine),
    ]
    # The engine gives the gateway's mutating RPCs Idempotency-Key support and retention of its records.
    # Stop hooks run last first: the background sealing and the worker stop before the database and cipher.
    return Service(
        name=NAME,
        config=config,
        registrations=registrations,
        on_start=[worker.start, maintenance.start],
        on_stop=[cipher.close, gateway.engine.dispose, oidc.aclose, worker.stop, maintenance.stop],
        engine=gateway.engine,
        gauges=gateway.keys.gauges(),
    )


def seal_batch(sessions: db.UnitOfWork, cipher: pii.PiiCipher) -> int:
    """One batch of the online migration, in its own transaction."""
    with sessions.begin() as session:
        return sealing.seal_batch(session, cipher)


def bundle_lifetime(config: ServiceConfig) -> timedelta | None:
    """How long the retention policy keeps an export's bundle after completion (the class deleting
    `privacy_sections`); None when no class deletes them."""
    policy = retention_policy.load(config.retention_policy or retention_policy.DEFAULT_POLICY)
    for _, data_class, cover in policy.covers(NAME):
        if cover.table == privacy_sections.name and data_class.action == "delete":
            return timedelta(days=data_class.max_age_days)
    return None


def subject_services(
    own: GatewayConfig, gateway: Gateway, *, cert_dir: Path | None, clock: Clock = utc_now
) -> dict[str, SubjectService]:
    """The personal-data services of TEEI_PRIVACY_SERVICES: over mTLS when the mesh has it, else with
    short-lived tokens the gateway's own ring signs (role super_admin, scoped to the request's company)."""
    addresses = own.privacy_addresses()
    missing = sorted(set(STUBS) - set(addresses))
    if missing:
        log.warning("privacy.services_not_configured", missing=missing)
    policy = CallPolicy(timeout=own.privacy_call_timeout_seconds, max_attempts=1)

    def bearer(company_id: str) -> str:
        command = MintToken(
            role="super_admin", company_id=company_id, subject=PRIVACY_WORKER, lifetime=timedelta(minutes=2)
        )
        return handlers.mint_token(
            command, uow=gateway.uow, keys=gateway.keys, settings=gateway.settings, clock=clock
        ).access_token

    return {
        name: MeshSubjectService(name, address, policy=policy, cert_dir=cert_dir, bearer=bearer)
        for name, address in addresses.items()
    }


def operations_registration(config: ServiceConfig, *, engine: sa.Engine) -> Registration:
    """The platform operators' admin RPCs (dead letters, reaching NATS at NATS_URL) and the gateway's audit log."""
    audit, events = AuditLog(db.UnitOfWork(engine)), AuditLogReader(engine)
    servicer = OperationsServicer(link=NatsLink(config.nats_url), audit=audit, events=events)
    return Registration.of(operations_pb2, operations_pb2_grpc, "OperationsService", servicer)
