"""The write side: the gateway's repository ports, their SQLAlchemy adapters and the unit of work yielding them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from services.gateway import rows
from services.gateway.domain.clients import Client
from services.gateway.domain.keys import SigningKey
from services.gateway.domain.sso import PendingLogin
from services.gateway.tables import oauth_clients, signing_keys, sso_logins
from services.kit.audit.trail import AuditLog, AuditTrail, SqlAuditTrail
from services.kit.persistence.db import UnitOfWork

# Spent and expired logins are kept this long, so a late replay is answered "reused"/"expired", not "unknown".
SSO_LOGIN_RETENTION = timedelta(hours=1)


class DuplicateClient(Exception):
    """The store refused a client because its id is taken."""


class KeyRepository(Protocol):
    """The key ring; keys belong to the platform, not to a company."""

    def all(self) -> list[SigningKey]: ...

    def add(self, key: SigningKey) -> None: ...

    def update(self, key: SigningKey) -> None: ...


class ClientRepository(Protocol):
    """Machine clients of the client-credentials grant."""

    def get(self, client_id: str) -> Client | None: ...

    def add(self, client: Client) -> None: ...

    def list(self, *, company_id: str) -> list[Client]: ...


class SsoLoginRepository(Protocol):
    """Pending SSO logins, by the hash of their state."""

    def add(self, login: PendingLogin) -> None: ...

    def consume(self, state_hash: str, *, now: datetime) -> tuple[PendingLogin | None, bool]: ...

    def purge(self, *, now: datetime) -> int: ...


class GatewayRepository(Protocol):
    """The gateway's repositories within one transaction."""

    @property
    def keys(self) -> KeyRepository: ...

    @property
    def clients(self) -> ClientRepository: ...

    @property
    def sso_logins(self) -> SsoLoginRepository: ...

    @property
    def audit(self) -> AuditTrail: ...


class GatewayUnitOfWork(Protocol):
    """What handlers depend on: `with uow.begin() as repo:` commits on success, rolls back on error;
    queries use `with uow.read() as repo:`, a read-only transaction that takes no write lock."""

    def begin(self) -> AbstractContextManager[GatewayRepository]: ...

    def read(self) -> AbstractContextManager[GatewayRepository]: ...


class SqlKeyRepository:
    """Signing keys in a SQL database."""

    def __init__(self, session: orm.Session) -> None:
        self._session = session

    def all(self) -> list[SigningKey]:
        """Every key, newest first."""
        query = sa.select(signing_keys).order_by(signing_keys.c.created_at.desc())
        return [rows.to_key(row) for row in self._session.execute(query).mappings()]

    def add(self, key: SigningKey) -> None:
        """Stores a new key."""
        self._session.execute(signing_keys.insert().values(**rows.key_row(key)))

    def update(self, key: SigningKey) -> None:
        """Writes a key's state and transition times."""
        changes = {"state": key.state.value, "activated_at": key.activated_at, "retired_at": key.retired_at}
        self._session.execute(signing_keys.update().where(signing_keys.c.kid == key.kid).values(**changes))


class SqlClientRepository:
    """Machine clients in a SQL database."""

    def __init__(self, session: orm.Session) -> None:
        self._session = session

    def get(self, client_id: str) -> Client | None:
        """The client with this id in any company: authenticating it is how the caller's company is found."""
        query = sa.select(oauth_clients).where(oauth_clients.c.client_id == client_id)
        found = self._session.execute(query).mappings().first()
        return None if found is None else rows.to_client(found)

    def add(self, client: Client) -> None:
        """Stores a new client; raises DuplicateClient on a taken id."""
        try:
            with self._session.begin_nested():
                self._session.execute(oauth_clients.insert().values(**rows.client_row(client)))
        except sa.exc.IntegrityError as exc:
            raise DuplicateClient(client.client_id) from exc

    def list(self, *, company_id: str) -> list[Client]:
        """The clients of one company, by id."""
        query = sa.select(oauth_clients).where(oauth_clients.c.company_id == company_id)
        found = self._session.execute(query.order_by(oauth_clients.c.client_id)).mappings()
        return [rows.to_client(row) for row in found]


class SqlSsoLoginRepository:
    """Pending SSO logins in a SQL database."""

    def __init__(self, session: orm.Session) -> None:
        self._session = session

    def add(self, login: PendingLogin) -> None:
        """Stores a new pending login."""
        self._session.execute(sso_logins.insert().values(**rows.login_row(login)))

    def consume(self, state_hash: str, *, now: datetime) -> tuple[PendingLogin | None, bool]:
        """The login with this state and whether this call used it first; a login is used at most once,
        even when two callbacks race (the conditional update lets exactly one of them win)."""
        query = sa.select(sso_logins).where(sso_logins.c.state_hash == state_hash).with_for_update()
        row = self._session.execute(query).mappings().first()
        if row is None:
            return None, False
        # Core statements on the session's connection return a CursorResult, which carries rowcount.
        claimed = self._session.connection().execute(
            sso_logins.update()
            .where(sso_logins.c.state_hash == state_hash, sso_logins.c.used_at.is_(None))
            .values(used_at=now)
        )
        return rows.to_login(row), claimed.rowcount == 1

    def purge(self, *, now: datetime) -> int:
        """Deletes logins that expired longer than the retention period ago; returns how many."""
        cutoff = now - SSO_LOGIN_RETENTION
        deleted = self._session.connection().execute(sso_logins.delete().where(sso_logins.c.expires_at < cutoff))
        return deleted.rowcount


@dataclass(frozen=True)
class SqlGatewayRepository:
    """The SQL repositories sharing one session."""

    keys: SqlKeyRepository
    clients: SqlClientRepository
    sso_logins: SqlSsoLoginRepository
    audit: SqlAuditTrail


class SqlGatewayUnitOfWork:
    """Hands out the gateway's repositories inside one transaction; audit records join that transaction."""

    def __init__(self, uow: UnitOfWork, *, audit: AuditLog | None = None) -> None:
        self._uow = uow
        self.audit = audit or AuditLog(uow)

    @contextmanager
    def begin(self) -> Iterator[GatewayRepository]:
        """One transaction; commits when the block succeeds."""
        with self._uow.begin() as session:
            yield self._repositories(session)

    @contextmanager
    def read(self) -> Iterator[GatewayRepository]:
        """One read-only transaction: no write lock, writes refused."""
        with self._uow.read() as session:
            yield self._repositories(session)

    def _repositories(self, session: orm.Session) -> SqlGatewayRepository:
        return SqlGatewayRepository(
            keys=SqlKeyRepository(session),
            clients=SqlClientRepository(session),
            sso_logins=SqlSsoLoginRepository(session),
            audit=self.audit.trail(session),
        )
