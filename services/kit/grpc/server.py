"""gRPC server bootstrap: health, reflection, interceptor chain and graceful shutdown on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import sqlalchemy as sa
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.kit import config as config_module
from services.kit import logs
from services.kit.audit import tables as audit_tables
from services.kit.audit.denials import DenialLog
from services.kit.audit.settings import AuditConfig
from services.kit.audit.trail import AuditLog
from services.kit.config import ServiceConfig
from services.kit.grpc import chain
from services.kit.grpc.interceptors import InFlightTracker
from services.kit.messaging import events, sealed_events
from services.kit.messaging.eventbus import EventBus
from services.kit.persistence import db, idempotency, leases, retention, retention_policy
from services.kit.security import auth, mtls, trust_policy
from services.kit.security.pii import PiiCipher
from services.kit.security.pii.maintenance import PiiMaintenance
from services.kit.telemetry import errors_report, metrics, sources, tracing

log = logs.get_logger(__name__)

# The largest request metadata (headers) a service accepts, as one explicit limit: gRPC's defaults
# are a soft limit of 8 KiB, above which requests are refused at random, and a hard one of 16 KiB.
# The edge refuses oversize requests itself (431/414) well below this, including what it adds on
# the way (services/cli/edge_settings.py checks the sum), so a client never meets this limit.
MAX_METADATA_BYTES = 64 * 1024
# The leases of the work that runs once per service (services/kit/persistence/leases.py).
# Consumers apply one durable's events in stream order, so one worker process applies them at a time.
RELAY_LEASE, RETENTION_LEASE, CONSUMER_LEASE = "outbox-relay", "retention", "consumers"
LEASES = (RELAY_LEASE, RETENTION_LEASE, CONSUMER_LEASE)


def server_options(max_message_bytes: int) -> list[tuple[str, int]]:
    """Channel arguments of every service's server: message and metadata limits."""
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_metadata_size", MAX_METADATA_BYTES),
        ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
    ]


@dataclass(frozen=True)
class Registration:
    """One servicer to serve: its full service name, the generated add-function and the instance."""

    service_name: str
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    servicer: object

    @classmethod
    def of(cls, pb2: ModuleType, pb2_grpc: ModuleType, service: str, servicer: object) -> Registration:
        """The registration of `servicer` as `service` from a generated module pair."""
        return cls(
            service_name=pb2.DESCRIPTOR.services_by_name[service].full_name,
            add_to_server=getattr(pb2_grpc, f"add_{service}Servicer_to_server"),
            servicer=servicer,
        )


@dataclass
class Service:
    """A built service: what it serves and what to close when it stops."""

    name: str
    config: ServiceConfig
    registrations: Sequence[Registration]
    on_stop: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)
    # Background work to start once the server serves (e.g. a retrier); stopped by on_stop hooks.
    on_start: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)
    engine: sa.Engine | None = None
    subscriptions: Sequence[events.Subscription] = ()
    max_message_bytes: int = 4 * 1024 * 1024
    # Where the issuer's public keys come from; None → TEEI_JWKS_URL (the gateway passes its own ring).
    jwks: auth.JwksFetch | None = None
    # Rows the retention task deletes besides the kit's own (idempotency keys, inbox, outbox, webhook de-dup)
    # and the retention policy's data classes of this service.
    retention_rules: Sequence[retention.Rule] = ()
    # Gauges of the service's own read when its metrics are scraped (e.g. the gateway's signing-key age).
    gauges: Sequence[metrics.GaugeSource] = ()


def contract_only(name: str, config: ServiceConfig, pb2: ModuleType, pb2_grpc: ModuleType, service: str) -> Service:
    """A service whose contract is served but whose behaviour is not built yet: every RPC answers
    UNIMPLEMENTED (the generated base servicer), never invented data."""
    servicer = getattr(pb2_grpc, f"{service}Servicer")()
    return Service(name=name, config=config, registrations=[Registration.of(pb2, pb2_grpc, service, servicer)])


class HealthServicer:
    """grpc.health.v1.Health as grpc_health's, except that a Watch ends once it has told its caller
    NOT_SERVING in a graceful shutdown: a watch never ends on its own, and an open one would hold the
    server's shutdown for the whole grace period (grpc.aio waits for every call) or make it cut the calls
    still running."""

    def __init__(self) -> None:
        self._status: dict[str, health_pb2.HealthCheckResponse.ServingStatus.ValueType] = {
            "": health_pb2.HealthCheckResponse.SERVING
        }
        self._changed = asyncio.Condition()
        self._shutting_down = False

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> health_pb2.HealthCheckResponse:
        status = self._status.get(request.service)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return health_pb2.HealthCheckResponse(status=status)

    async def List(
        self, request: health_pb2.HealthListRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> health_pb2.HealthListResponse:
        statuses = {name: health_pb2.HealthCheckResponse(status=status) for name, status in self._status.items()}
        return health_pb2.HealthListResponse(statuses=statuses)

    async def Watch(self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        last = None
        async with self._changed:
            while True:
                status = self._status.get(request.service, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
                if status != last:
                    await context.write(health_pb2.HealthCheckResponse(status=status))
                    last = status
                if self._shutting_down:
                    return
                await self._changed.wait()

    async def set(self, service: str, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType) -> None:
        """Sets `service`'s status (ignored once the server is shutting down)."""
        async with self._changed:
            if not self._shutting_down:
                self._status[service] = status
                self._changed.notify_all()

    async def enter_graceful_shutdown(self) -> None:
        """Every service NOT_SERVING for good; open watches are told so, then end."""
        async with self._changed:
            self._shutting_down = True
            self._status = dict.fromkeys(self._status, health_pb2.HealthCheckResponse.NOT_SERVING)
            self._changed.notify_all()


class GrpcServer:
    """Runs one Service on grpc.aio until told to stop, then drains in-flight RPCs."""

    def __init__(self, service: Service, *, rpc_metrics: bool = True, environ: Mapping[str, str] | None = None) -> None:
        self.service = service
        self.health = HealthServicer()
        self.tracker = InFlightTracker()
        jwks = auth.CachedJwks(_jwks_source(service))
        validator = auth.TokenValidator(jwks, issuer=service.config.auth_issuer, audience=service.config.auth_audience)
        self.denials = _denials(service, os.environ if environ is None else environ)
        interceptors = chain.build(
            service=service.name,
            tracker=self.tracker,
            validator=validator,
            policy=None if service.config.mtls_dir is None else trust_policy.load_policy(),
            idempotency=_idempotency(service),
            rpc_metrics=rpc_metrics,
            denials=self.denials,
        )
        self._server = grpc.aio.server(interceptors=interceptors, options=server_options(service.max_message_bytes))
        self._stopped = asyncio.Event()
        self.port = 0
        self.bus: EventBus | None = None
        self._events_cipher: PiiCipher | None = None
        self._events_maintenance: PiiMaintenance | None = None
        # One relay and one retention task per service however many worker processes serve it.
        self.leases = _leases(service)
        self.retention = _retention(service, self.leases.get(RETENTION_LEASE))
        self._unregister_gauges = metrics.add_sources(self, _gauge_sources(service))

    async def start(self) -> int:
        """Binds, starts serving and marks every service SERVING; returns the bound port."""
        server, cfg = self._server, self.service.config
        self._install_events_cipher()
        for registration in self.service.registrations:
            registration.add_to_server(registration.servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        names = [r.service_name for r in self.service.registrations]
        reflection.enable_server_reflection((*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
        self.port = self._bind(cfg.grpc_port)
        if cfg.grpc_worker_port is not None:
            self._bind(cfg.grpc_worker_port)
        await server.start()
        for keeper in self.leases.values():
            keeper.start()
        await self._start_bus()
        for hook in self.service.on_start:
            outcome = hook()
            if outcome is not None:
                await outcome
        if self.retention is not None:
            self.retention.start()
        if self.denials is not None:
            self.denials.start()
        for name in ("", *names):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        if cfg.ready_file is not None:
            _write_ready_file(cfg.ready_file)
        log.info("server.started", port=self.port, services=names)
        return self.port

    def _bind(self, port: int) -> int:
        """Listens on `port` (with SO_REUSEPORT, grpc's default on Linux); the bound port. Each port gets
        credentials of its own: gRPC refuses a second port with the same reloading credentials."""
        cfg = self.service.config
        address = f"{cfg.grpc_host}:{port}"
        if cfg.mtls_dir is None:
            bound = self._server.add_insecure_port(address)
        else:
            credentials = mtls.reloading_server_credentials(cfg.mtls_dir, self.service.name)
            bound = self._server.add_secure_port(address, credentials)
        if bound == 0:
            raise RuntimeError(f"cannot bind {address}")
        return bound

    def _install_events_cipher(self) -> None:
        """Every service that records or consumes events seals and opens their payloads' personal fields with
        the one shared events key store (sealed_events.py): installed here, so no service's code changes."""
        if self.service.engine is None and not self.service.subscriptions:
            return
        if sealed_events.installed() is None:
            self._events_cipher = sealed_events.cipher_for(self.service.config)
            sealed_events.install(self._events_cipher)
            # The shared store's data keys are re-wrapped after a KEK rotation like each service's own
            # (every service may do it: a key moved by one is left by the others).
            interval = self.service.config.pii_rewrap_interval_seconds
            self._events_maintenance = PiiMaintenance(self._events_cipher, None, interval=interval)
            self._events_maintenance.start()

    async def _remove_events_cipher(self) -> None:
        if self._events_maintenance is not None:
            await self._events_maintenance.stop()
            self._events_maintenance = None
        if self._events_cipher is not None:
            if sealed_events.installed() is self._events_cipher:
                sealed_events.uninstall()
            self._events_cipher.close()
            self._events_cipher = None

    async def _start_bus(self) -> None:
        cfg, service = self.service.config, self.service
        if cfg.nats_url and service.engine is not None:
            self.bus = EventBus(
                url=cfg.nats_url,
                service=service.name,
                engine=service.engine,
                subscriptions=service.subscriptions,
                stream_replicas=cfg.nats_stream_replicas,
                relay_lease=self.leases.get(RELAY_LEASE),
                consumer_lease=self.leases.get(CONSUMER_LEASE) if service.subscriptions else None,
            )
            await self.bus.start()
        elif service.subscriptions or service.engine is not None:
            log.warning("eventbus.disabled", reason="NATS_URL not set; events stay in the outbox")

    async def stop(self) -> bool:
        """Health NOT_SERVING → stop listening and send GOAWAY, refusing the RPCs that still arrive → let
        every RPC the server took finish within the grace period → stop.

        grpc.aio's stop closes the listening socket first (the kernel then hands the port's new
        connections only to a successor bound with SO_REUSEPORT) and tells each connection to go away
        (HTTP/2 GOAWAY; a client opens its next connection to the successor). Every call the server had
        taken by then runs on: one that reaches the tracker now is refused with the retriable draining
        header, one already past it finishes. Only when the grace period ends are the calls still
        running cancelled; cancelling earlier (e.g. once the tracker is idle) cut the calls taken by the
        server but not yet counted, which a rolling restart saw as CANCELLED answers at the edge."""
        grace = self.service.config.shutdown_grace_seconds
        await self.health.enter_graceful_shutdown()
        self.tracker.start_draining()
        log.info("server.draining", in_flight=self.tracker.count, grace_seconds=grace)
        stopping = asyncio.ensure_future(self._server.stop(grace))
        drained = await self.tracker.wait_idle(grace)
        await stopping
        if self.bus is not None:
            await self.bus.stop()
        if self.retention is not None:
            await self.retention.stop()
        if self.denials is not None:
            await self.denials.stop()  # the counts still open are recorded before the database closes
        for keeper in self.leases.values():
            await keeper.stop()  # released once the relay and retention have stopped: a successor takes over now
        for hook in reversed(self.service.on_stop):
            outcome = hook()
            if outcome is not None:
                await outcome
        self._unregister_gauges()
        await self._remove_events_cipher()
        log.info("server.stopped", drained=drained)
        self._stopped.set()
        return drained

    async def wait_stopped(self) -> None:
        """Returns once stop() has finished."""
        await self._stopped.wait()


def _gauge_sources(service: Service) -> list[metrics.GaugeSource]:
    cfg = service.config
    found = [*service.gauges]
    if service.engine is not None:
        found += sources.database(service.name, service.engine)
    if cfg.mtls_dir is not None:
        found += sources.certificate(service.name, cfg.mtls_dir)
    return found


def _idempotency(service: Service) -> idempotency.IdempotencyStore | None:
    # Idempotency keys are stored in the service's own database; a service without one has none.
    if service.engine is None:
        return None
    cfg = service.config
    return idempotency.IdempotencyStore(
        service.engine,
        ttl=timedelta(hours=cfg.idempotency_ttl_hours),
        pending=timedelta(seconds=cfg.idempotency_pending_seconds),
    )


def _denials(service: Service, environ: Mapping[str, str]) -> DenialLog | None:
    """Refused calls recorded in the service's audit log, when its database has one."""
    if service.engine is None or not sa.inspect(service.engine).has_table(audit_tables.records.name):
        return None
    settings = config_module.load(AuditConfig, environ)
    audit = AuditLog(db.UnitOfWork(service.engine))
    return DenialLog(audit, window=settings.denial_window_seconds, max_kinds=settings.denial_max_kinds)


def _leases(service: Service) -> dict[str, leases.LeaseKeeper]:
    """The relay's, retention's and consumers' leases in the service's database (none without one)."""
    if service.engine is None:
        return {}
    if not leases.available(service.engine):
        log.warning("lease.unavailable", reason="no leases table; this process relays and sweeps unconditionally")
        return {}
    holder = leases.holder_id()
    return {name: leases.LeaseKeeper(leases.Lease(service.engine, name, holder=holder)) for name in LEASES}


def _retention(service: Service, lease: leases.LeaseKeeper | None) -> retention.Retention | None:
    if service.engine is None:
        return None
    # A policy naming a table or column the database lacks stops the start (RetentionPolicyError).
    policy = retention_policy.rules_for(service.name, service.engine, service.config.retention_policy)
    rules = (*policy, *retention.default_rules(service.config), *service.retention_rules)
    interval = service.config.retention_interval_seconds
    return retention.Retention(service.engine, rules, interval=interval, lease=lease)


def _jwks_source(service: Service) -> auth.JwksFetch:
    if service.jwks is not None:
        return service.jwks
    if service.config.jwks_url:
        return auth.http_jwks(service.config.jwks_url)

    def unconfigured() -> Mapping[str, Any]:
        raise RuntimeError("TEEI_JWKS_URL is not set: no access token can be validated")

    # Fail closed: every RPC that needs a token answers UNAVAILABLE until the keys can be fetched.
    log.warning("auth.unconfigured", reason="TEEI_JWKS_URL not set; only public RPCs can be served")
    return unconfigured


async def serve(service: Service, *, rpc_metrics: bool = True) -> int:
    """Serves until SIGTERM or SIGINT, then shuts down gracefully; returns the process exit code."""
    server = GrpcServer(service, rpc_metrics=rpc_metrics)
    await server.start()
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[bool]] = []

    def on_signal(signum: int) -> None:
        if not stopping:
            log.info("server.signal", signal=signal.Signals(signum).name)
            stopping.append(loop.create_task(server.stop()))

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    await server.wait_stopped()
    return 0 if stopping and stopping[0].result() else 1


def run(build: Callable[[ServiceConfig], Service], *, name: str, environ: Mapping[str, str] | None = None) -> None:
    """Process entry point of a service: config → logging → build → serve → exit code."""
    env = os.environ if environ is None else environ
    try:
        cfg = config_module.load(ServiceConfig, env)
        telemetry = config_module.load(metrics.MetricsSettings, env)
        reports = config_module.load(errors_report.ErrorReportSettings, env)
    except config_module.ConfigError as exc:
        print(f"{name}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    logs.configure(service=name, level=cfg.log_level)
    log.info("config.loaded", **config_module.describe(cfg))
    errors_report.configure(reports, service=name)
    try:
        traced = tracing.configure(name, env)
    except config_module.ConfigError as exc:
        print(f"{name}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    endpoint = None if telemetry.port is None else metrics.serve(telemetry.port, host=telemetry.host)
    try:
        code = asyncio.run(serve(build(cfg), rpc_metrics=endpoint is not None))
    finally:
        if endpoint is not None:
            endpoint.close()
        errors_report.close()
        if traced is not None:
            traced.shutdown()
    raise SystemExit(code)


def _write_ready_file(path: Path) -> None:
    """Writes the process id to `path` in one step (a reader never sees it half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(str(os.getpid()))
    partial.replace(path)
