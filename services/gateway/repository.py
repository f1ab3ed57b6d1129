"""Gateway persistence: signing keys (platform-wide), machine clients (per company), pending SSO logins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from services.gateway.domain.clients import Client
from services.gateway.domain.keys import KeyState, SigningKey
from services.gateway.domain.sso import PendingLogin
from services.kit.persistence.db import UnitOfWork

metadata = sa.MetaData()

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(128), primary_key=True),
    sa.Column("algorithm", sa.String(10), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("public_jwk", sa.Text, nullable=False),
    sa.Column("sealed_private_key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("activated_at", sa.DateTime(timezone=True)),
    sa.Column("retired_at", sa.DateTime(timezone=True)),
)

oauth_clients = sa.Table(
    "oauth_clients",
    metadata,
    sa.Column("client_id", sa.String(128), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False, index=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("secret_hash", sa.String(255), nullable=False),
    sa.Column("email", sa.String(254)),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Logins between SsoLogin and SsoCallback; platform-wide: the tenant is known only once the login completes.
sso_logins = sa.Table(
    "sso_logins",
    metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(63), nullable=False),
    sa.Column("nonce", sa.String(128), nullable=False),
    sa.Column("code_verifier", sa.String(128), nullable=False),
    sa.Column("redirect_uri", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("used_at", sa.DateTime(timezone=True)),
)
# Spent and expired logins are kept this long, so a late replay is answered "reused"/"expired", not "unknown".
SSO_LOGIN_RETENTION = timedelta(hours=1)


class DuplicateClient(Exception):
    """The store refused a client because its id is taken."""


class SqlKeyRepository:
    """The key ring; keys belong to the platform, not to a company."""

    def __init__(self, session: orm.Session) -> None:
        self._session = session

    def all(self) -> list[SigningKey]:
        """Every key, newest first."""
        rows = self._session.execute(sa.select(signing_keys).order_by(signing_keys.c.created_at.desc())).mappings()
        return [_to_key(row) for row in rows]

    def add(self, key: SigningKey) -> None:
        """Stores a new key."""
        self._session.execute(signing_keys.insert().values(**_key_row(key)))

    def update(self, key: SigningKey) -> None:
        """Writes a key's state and transition times."""
        changes = {"state": key.state.value, "activated_at": key.activated_at, "retired_at": key.retired_at}
        self._session.execute(signing_keys.update().where(signing_keys.c.kid == key.kid).values(**changes))


class SqlClientRepository:
    """Machine clients."""

    def __init__(self, session: orm.Session) -> None:
        self._session = session

    def get(self, client_id: str) -> Client | None:
        """The client with this id in any company: authenticating it is how the caller's company is found."""
        row = self._session.execute(sa.select(oauth_clients).where(oauth_clients.c.client_id == client_id)).mappings()
        found = row.first()
        return None if found is None else _to_client(found)

    def add(self, client: Client) -> None:
        """Stores a new client; raises DuplicateClient on a taken id."""
        try:
            with self._session.begin_nested():
                self._session.execute(oauth_clients.insert().values(**_client_row(client)))
        except sa.exc.IntegrityError as exc:
            raise DuplicateClient(client.client_id) from exc

    def list(self, *, company_id: str) -> list[Client]:
        """The clients of one company, by id."""
        query = sa.select(oauth_clients).where(oauth_clients.c.company_id == company_id)
        rows = self._session.execute(query.order_by(oauth_clients.c.client_id)).mappings()
        return [_to_client(row) for row in rows]


class SqlSsoLoginRepository:
    """Pending SSO logins, looked up by the hash of their state."""

    def __init__(self, session: orm.Session) -> None:
        self._session = session

    def add(self, login: PendingLogin) -> None:
        """Stores a new pending login."""
        self._session.execute(sso_logins.insert().values(**_login_row(login)))

    def consume(self, state_hash: str, *, now: datetime) -> tuple[PendingLogin | None, bool]:
        """The login with this state and whether this call used it first; a login is used at most once,
        even when two callbacks race (the conditional update lets exactly one of them win)."""
        query = sa.select(sso_logins).where(sso_logins.c.state_hash == state_hash).with_for_update()
        row = self._session.execute(query).mappings().first()
        if row is None:
            return None, False
        claimed = self._session.execute(
            sso_logins.update()
            .where(sso_logins.c.state_hash == state_hash, sso_logins.c.used_at.is_(None))
            .values(used_at=now)
        )
        return _to_login(row), claimed.rowcount == 1  # type: ignore[attr-defined]

    def purge(self, *, now: datetime) -> int:
        """Deletes logins that expired longer than the retention period ago; returns how many."""
        cutoff = now - SSO_LOGIN_RETENTION
        deleted = self._session.execute(sso_logins.delete().where(sso_logins.c.expires_at < cutoff))
        count: int = deleted.rowcount  # type: ignore[attr-defined]
        return count


@dataclass(frozen=True)
class GatewayStore:
    """The repositories of one transaction."""

    keys: SqlKeyRepository
    clients: SqlClientRepository
    sso_logins: SqlSsoLoginRepository


class GatewayUnitOfWork(Protocol):
    """Opens one transaction."""

    def begin(self) -> AbstractContextManager[GatewayStore]: ...


class SqlGatewayUnitOfWork:
    """Hands out the gateway's repositories inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @contextmanager
    def begin(self) -> Iterator[GatewayStore]:
        """One transaction; commits when the block succeeds."""
        with self._uow.begin() as session:
            yield GatewayStore(
                keys=SqlKeyRepository(session),
                clients=SqlClientRepository(session),
                sso_logins=SqlSsoLoginRepository(session),
            )


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _key_row(key: SigningKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "algorithm": key.algorithm,
        "state": key.state.value,
        "public_jwk": json.dumps(dict(key.public_jwk), sort_keys=True),
        "sealed_private_key": key.sealed_private_key,
        "created_at": key.created_at,
        "activated_at": key.activated_at,
        "retired_at": key.retired_at,
    }


def _to_key(row: sa.RowMapping) -> SigningKey:
    return SigningKey(
        kid=row["kid"],
        algorithm=row["algorithm"],
        state=KeyState(row["state"]),
        public_jwk=json.loads(row["public_jwk"]),
        sealed_private_key=row["sealed_private_key"],
        created_at=_utc(row["created_at"]),
        activated_at=_utc_or_none(row["activated_at"]),
        retired_at=_utc_or_none(row["retired_at"]),
    )


def _client_row(client: Client) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "company_id": client.company_id,
        "role": client.role,
        "scopes": " ".join(sorted(client.scopes)),
        "secret_hash": client.secret_hash,
        "email": client.email,
        "disabled": client.disabled,
        "created_at": client.created_at,
    }


def _to_client(row: sa.RowMapping) -> Client:
    return Client(
        client_id=row["client_id"],
        company_id=row["company_id"],
        role=row["role"],
        scopes=frozenset(row["scopes"].split()),
        secret_hash=row["secret_hash"],
        created_at=_utc(row["created_at"]),
        email=row["email"],
        disabled=row["disabled"],
    )


def _login_row(login: PendingLogin) -> dict[str, Any]:
    return {
        "state_hash": login.state_hash,
        "provider": login.provider,
        "nonce": login.nonce,
        "code_verifier": login.code_verifier,
        "redirect_uri": login.redirect_uri,
        "created_at": login.created_at,
        "expires_at": login.expires_at,
        "used_at": login.used_at,
    }


def _to_login(row: sa.RowMapping) -> PendingLogin:
    return PendingLogin(
        state_hash=row["state_hash"],
        provider=row["provider"],
        nonce=row["nonce"],
        code_verifier=row["code_verifier"],
        redirect_uri=row["redirect_uri"],
        created_at=_utc(row["created_at"]),
        expires_at=_utc(row["expires_at"]),
        used_at=_utc_or_none(row["used_at"]),
    )
