"""Gateway fixtures: the real key ring and clients on a temporary SQLite database, with a clock tests move."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.gateway import bootstrap, handlers
from services.gateway.bootstrap import Gateway
from services.gateway.domain.commands import RegisterClient
from services.kit.persistence import db
from services.kit.security import pii
from services.kit.security.auth import CachedJwks, TokenValidator

KEK = base64.b64encode(b"k" * 32).decode()
ENVIRON = {"TEEI_KEY_ENCRYPTION_KEY": KEK, "TEEI_AUTH_ISSUER": "https://gateway.test", "TEEI_AUTH_AUDIENCE": "teei-api"}


@dataclass
class FakeClock:
    """A wall clock that moves only when the test says so."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def epoch(self) -> float:
        return self.now.timestamp()


@pytest.fixture
def clock() -> FakeClock:
    """Starts at a fixed instant."""
    return FakeClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))


@pytest.fixture
def gateway(tmp_path: Path, clock: FakeClock) -> Iterator[Gateway]:
    """A gateway whose ring, clients and privacy requests live in a temporary SQLite database, the personal
    fields sealed by a cipher on a keyring and key store under the test's folder."""
    cipher = pii.local(tmp_path, "gateway")
    url = db.sqlite_url(tmp_path / "gateway.db")
    opened = bootstrap.open_gateway(url, tmp_path, environ=ENVIRON, clock=clock, cipher=cipher)
    try:
        yield opened
    finally:
        opened.engine.dispose()
        cipher.close()


def jwks_document(gateway: Gateway) -> dict[str, Any]:
    """What GET /auth/jwks serves."""
    return {"keys": [dict(key.public_jwk) for key in gateway.keys.published()]}


def validator_for(gateway: Gateway, clock: FakeClock, *, min_refetch: float = 30.0) -> TokenValidator:
    """A validator that fetches the gateway's JWKS and caches it for the published max-age."""
    max_age = gateway.policy.jwks_max_age.total_seconds()
    jwks = CachedJwks(lambda: jwks_document(gateway), max_age=max_age, min_refetch=min_refetch, clock=clock.epoch)
    settings = gateway.settings
    return TokenValidator(jwks, issuer=settings.issuer, audience=settings.audience, clock=clock.epoch)


def register(gateway: Gateway, client_id: str, company: str, role: str = "service", *scopes: str) -> str:
    """Registers a client; returns its secret."""
    command = RegisterClient(client_id=client_id, company_id=company, role=role, scopes=scopes)
    return handlers.register_client(command, uow=gateway.uow)[1]
