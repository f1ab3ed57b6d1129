"""Gauges read when scraped from what a service owns: its outbox backlog and connection pool, and the expiry
of its mTLS certificate."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from cryptography import x509

from services.kit.messaging import events
from services.kit.persistence.db import UnitOfWork
from services.kit.security import certificates
from services.kit.telemetry.metrics import GaugeSource

Samples = Iterable[tuple[Sequence[str], float]]


def database(service: str, engine: sa.Engine, *, clock: Callable[[], datetime] | None = None) -> list[GaugeSource]:
    """The outbox backlog, the age of its oldest unpublished event, and the connection pool's use."""
    uow = UnitOfWork(engine)
    now = clock or (lambda: datetime.now(UTC))

    def backlog() -> tuple[int, float]:
        with uow.read() as session:
            count, oldest = events.backlog(session)
        if oldest is None:
            return count, 0.0
        stamp = oldest if oldest.tzinfo is not None else oldest.replace(tzinfo=UTC)
        return count, max(0.0, (now() - stamp).total_seconds())

    def pending() -> Samples:
        return [((service,), float(backlog()[0]))]

    def age() -> Samples:
        return [((service,), backlog()[1])]

    def in_use() -> Samples:
        checked_out = getattr(engine.pool, "checkedout", None)
        return [] if checked_out is None else [((service,), float(checked_out()))]

    def size() -> Samples:
        pool_size = getattr(engine.pool, "size", None)
        return [] if pool_size is None else [((service,), float(pool_size()))]

    return [
        GaugeSource("outbox_backlog_events", "Outbox events not yet published.", ("database",), pending),
        GaugeSource(
            "outbox_oldest_unpublished_age_seconds",
            "Age of the oldest outbox event not yet published (0 when none is waiting).",
            ("database",),
            age,
        ),
        GaugeSource("db_pool_connections_in_use", "Connections checked out of the pool.", ("database",), in_use),
        GaugeSource("db_pool_size", "Connections the pool keeps open.", ("database",), size),
    ]


def certificate(service: str, cert_dir: Path) -> list[GaugeSource]:
    """When the service's mTLS certificate expires (read afresh: `teei certs rotate` replaces it in place)."""

    def not_after() -> Samples:
        cert = x509.load_pem_x509_certificate(certificates.cert_path(cert_dir, service).read_bytes())
        return [((service,), cert.not_valid_after_utc.timestamp())]

    return [
        GaugeSource(
            "tls_certificate_expiry_timestamp_seconds",
            "When the workload's mTLS certificate stops being valid (Unix time).",
            ("identity",),
            not_after,
        )
    ]
