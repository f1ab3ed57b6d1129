"""The write side: the gateway's repository ports, their SQLAlchemy adapters and the unit of work yielding them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from services.gateway import privacy, rows, sealing
from services.gateway.domain.clients import Client
from services.gateway.domain.keys import SigningKey
from services.gateway.domain.privacy import DataSubject, PrivacyRequest, RequestKind, RequestStatus
from services.gateway.domain.sso import PendingLogin
from services.gateway.tables import (
    oauth_clients,
    privacy_outcomes,
    privacy_requests,
    privacy_sections,
    signing_keys,
    sso_logins,
)
from services.kit.audit.trail import AuditLog, AuditTrail, SqlAuditTrail
from services.kit.messaging import events as outbox
from services.kit.persistence import subjects
from services.kit.persistence.db import UnitOfWork
from services.kit.security import pii
from teei.events.v1 import envelope_pb2

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


@dataclass(frozen=True)
class Section:
    """One service's section of an export bundle: canonical JSON bytes and their SHA-256."""

    service: str
    body: bytes
    sha256: str


@dataclass(frozen=True)
class RequestFilter:
    """Which requests a listing shows: a company's, or only those one caller made; kind and status optional."""

    company_id: str
    requested_by: str | None = None
    kind: RequestKind | None = None
    status: RequestStatus | None = None
    # True: only completed exports whose bundle expired (completed at or before `bundle_cutoff`, or with no
    # section left); False: everything else; None: either.
    bundle_expired: bool | None = None
    bundle_cutoff: datetime | None = None


class PrivacyRequestRepository(Protocol):
    """Data-subject requests, each with every service's part and the sections of its export."""

    def get(self, request_id: str) -> PrivacyRequest | None: ...

    def add(self, request: PrivacyRequest) -> None: ...

    def update(self, request: PrivacyRequest) -> None: ...

    def name_subject(self, request: PrivacyRequest) -> None: ...

    def add_section(self, request_id: str, section: Section) -> None: ...

    def sections(self, request_id: str) -> list[Section]: ...

    def with_sections(self, request_ids: Sequence[str]) -> set[str]: ...

    def runnable(self, *, now: datetime, limit: int) -> list[str]: ...

    def claim(self, request_id: str, *, owner: str, now: datetime, until: datetime) -> bool: ...

    def release(self, request_id: str, *, owner: str) -> None: ...

    def matching(
        self, where: RequestFilter, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[PrivacyRequest]: ...

    def forget_subject(self, subject: DataSubject) -> int: ...


class OwnSubjectData(Protocol):
    """The gateway's own records about a person (its machine clients)."""

    def export(self, subject: DataSubject) -> dict[str, list[dict[str, object]]]: ...

    def erase(self, subject: DataSubject) -> subjects.Erasure: ...


class Outbox(Protocol):
    """Events written in the same transaction as the state they announce."""

    def record(self, envelope: envelope_pb2.Envelope) -> None: ...


class GatewayRepository(Protocol):
    """The gateway's repositories within one transaction."""

    @property
    def keys(self) -> KeyRepository: ...

    @property
    def clients(self) -> ClientRepository: ...

    @property
    def sso_logins(self) -> SsoLoginRepository: ...

    @property
    def privacy_requests(self) -> PrivacyRequestRepository: ...

    @property
    def own_data(self) -> OwnSubjectData: ...

    @property
    def events(self) -> Outbox: ...

    @property
    def audit(self) -> AuditTrail: ...


class GatewayUnitOfWork(Protocol):
    """What handlers depend on: `with uow.begin() as repo:` commits on success, rolls back on error;
    queries use `with uow.read() as repo:`, a read-only transaction that takes no write lock."""

    def begin(self) -> AbstractContextManager[GatewayRepository]: ...

    def read(self) -> AbstractContextManager[GatewayRepository]: ...

    def forget_old_pages(self, tables: Sequence[str]) -> None: ...


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
    """Machine clients in a SQL database; the e-mail of the person a client was registered for is stored
    sealed with their key (services/gateway/sealing.py)."""

    def __init__(self, session: orm.Session) -> None:
        self._session = session

    def get(self, client_id: str) -> Client | None:
        """The client with this id in any company: authenticating it is how the caller's company is found."""
        query = sa.select(oauth_clients).where(oauth_clients.c.client_id == client_id)
        found = self._session.execute(query).mappings().first()
        return None if found is None else self._opened(found)

    def add(self, client: Client) -> None:
        """Stores a new client (its person's e-mail sealed); raises DuplicateClient on a taken id."""
        row = rows.client_row(client)
        if client.email:  # most clients name no person: the `teei` commands registering them hold no cipher
            row = sealing.client_fields(pii.attached(self._session), row)
        try:
            with self._session.begin_nested():
                self._session.execute(oauth_clients.insert().values(**row))
        except sa.exc.IntegrityError as exc:
            raise DuplicateClient(client.client_id) from exc

    def list(self, *, company_id: str) -> list[Client]:
        """The clients of one company, by id."""
        query = sa.select(oauth_clients).where(oauth_clients.c.company_id == company_id)
        found = self._session.execute(query.order_by(oauth_clients.c.client_id)).mappings()
        return [self._opened(row) for row in found]

    def _opened(self, row: sa.RowMapping) -> Client:
        if not row["email"]:
            return rows.to_client(row)
        return rows.to_client(sealing.opened_client(pii.attached(self._session), row))


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


class SqlPrivacyRequestRepository:
    """Data-subject requests in a SQL database; the subject's e-mail and the export sections are stored
    sealed with the subject's key (services/gateway/sealing.py)."""

    def __init__(self, session: orm.Session) -> None:
        self._session = session

    def get(self, request_id: str) -> PrivacyRequest | None:
        """The request with this id, in any company (callers check whose it is)."""
        found = self._load(sa.select(privacy_requests).where(privacy_requests.c.request_id == request_id))
        return found[0] if found else None

    def add(self, request: PrivacyRequest) -> None:
        """Stores a new request with its parts, the subject's e-mail sealed."""
        row = sealing.request_fields(pii.attached(self._session), rows.request_row(request))
        self._session.execute(privacy_requests.insert().values(**row))
        parts = [rows.outcome_row(request.request_id, o) for o in request.outcomes]
        self._session.execute(privacy_outcomes.insert(), parts)

    def update(self, request: PrivacyRequest) -> None:
        """Writes the request's status and times and every part; the subject's e-mail only once it was
        blanked (an erasure of the subject), never sealed again."""
        row = rows.request_row(request)
        changes = {k: row[k] for k in ("status", "completed_at", "next_attempt_at")}
        if not request.subject.email:
            changes["subject_email"] = ""
        self._session.execute(
            privacy_requests.update().where(privacy_requests.c.request_id == request.request_id).values(**changes)
        )
        for outcome in request.outcomes:
            part = rows.outcome_row(request.request_id, outcome)
            where = sa.and_(
                privacy_outcomes.c.request_id == request.request_id, privacy_outcomes.c.service == outcome.service
            )
            self._session.execute(privacy_outcomes.update().where(where).values(**part))

    def name_subject(self, request: PrivacyRequest) -> None:
        """Stores the subject's e-mail found after receipt (an erasure named by profile id only, whose e-mail
        the profile service knew), sealed with their key like one named at receipt, with its blind index."""
        row = sealing.request_fields(pii.attached(self._session), rows.request_row(request))
        changes = {k: row[k] for k in ("subject_email", "subject_email_index")}
        self._session.execute(
            privacy_requests.update().where(privacy_requests.c.request_id == request.request_id).values(**changes)
        )

    def add_section(self, request_id: str, section: Section) -> None:
        """Stores (or replaces, when a service answered twice) one service's export section, sealed with the
        subject's key."""
        where = sa.and_(privacy_sections.c.request_id == request_id, privacy_sections.c.service == section.service)
        self._session.execute(privacy_sections.delete().where(where))
        subject = self._session.execute(
            sa.select(privacy_requests.c.company_id, privacy_requests.c.subject_profile_id).where(
                privacy_requests.c.request_id == request_id
            )
        ).one()
        body = sealing.sealed_body(
            pii.attached(self._session),
            company_id=subject.company_id,
            subject=subject.subject_profile_id,
            request_id=request_id,
            service=section.service,
            body=section.body,
        )
        values = {"request_id": request_id, "service": section.service, "body": body, "sha256": section.sha256}
        self._session.execute(privacy_sections.insert().values(**values))

    def sections(self, request_id: str) -> list[Section]:
        """The export sections of a request, by service, opened; none once the subject's key is gone (an
        erasure of the subject shreds it: a section surviving in a copy of the database reads as dropped)."""
        query = sa.select(privacy_sections).where(privacy_sections.c.request_id == request_id)
        found = self._session.execute(query.order_by(privacy_sections.c.service)).mappings().all()
        if not found:
            return []
        cipher = pii.attached(self._session)
        try:
            return [Section(r["service"], sealing.opened_body(cipher, r), r["sha256"]) for r in found]
        except pii.SubjectErased:
            return []

    def with_sections(self, request_ids: Sequence[str]) -> set[str]:
        """Those of `request_ids` that still have an export section."""
        if not request_ids:
            return set()
        query = sa.select(privacy_sections.c.request_id).where(privacy_sections.c.request_id.in_(request_ids))
        return set(self._session.execute(query.distinct()).scalars())

    def runnable(self, *, now: datetime, limit: int) -> list[str]:
        """Ids of unsettled requests whose next attempt is due and that no process drives, the longest waiting first."""
        column, lease = privacy_requests.c.next_attempt_at, privacy_requests.c.lease_until
        free = sa.or_(lease.is_(None), lease < now)
        query = sa.select(privacy_requests.c.request_id).where(column.is_not(None), column <= now, free)
        return list(self._session.execute(query.order_by(column, privacy_requests.c.request_id).limit(limit)).scalars())

    def claim(self, request_id: str, *, owner: str, now: datetime, until: datetime) -> bool:
        """Takes (or renews) the lease on a request; False when another process holds a live one."""
        table = privacy_requests
        free = sa.or_(table.c.lease_until.is_(None), table.c.lease_until < now, table.c.lease_owner == owner)
        taken = self._session.connection().execute(
            table.update().where(table.c.request_id == request_id, free).values(lease_owner=owner, lease_until=until)
        )
        return taken.rowcount == 1

    def release(self, request_id: str, *, owner: str) -> None:
        """Gives the lease up, if this process holds it."""
        table = privacy_requests
        where = sa.and_(table.c.request_id == request_id, table.c.lease_owner == owner)
        self._session.execute(table.update().where(where).values(lease_owner=None, lease_until=None))

    def matching(self, where: RequestFilter, *, after: tuple[datetime, str] | None, limit: int) -> list[PrivacyRequest]:
        """Requests matching `where`, newest first, after the key `after` (created_at, request_id)."""
        table = privacy_requests
        query = sa.select(table).where(table.c.company_id == where.company_id)
        if where.requested_by is not None:
            query = query.where(table.c.requested_by == where.requested_by)
        if where.kind is not None:
            query = query.where(table.c.kind == where.kind.value)
        if where.status is not None:
            query = query.where(table.c.status == where.status.value)
        if where.bundle_expired is not None:
            expired = _bundle_expired(where.bundle_cutoff)
            query = query.where(expired if where.bundle_expired else sa.not_(expired))
        if after is not None:
            query = query.where(sa.tuple_(table.c.created_at, table.c.request_id) < sa.tuple_(*after))
        return self._load(query.order_by(table.c.created_at.desc(), table.c.request_id.desc()).limit(limit))

    def forget_subject(self, subject: DataSubject) -> int:
        """Blanks the subject's e-mail in the company's requests about them (found by profile id, by the
        e-mail's blind index, or by the plain e-mail of rows not sealed yet) and drops their export sections;
        returns how many records changed. The blind index stays: the request is the proof of the erasure."""
        table = privacy_requests
        named = [table.c.subject_profile_id == subject.profile_id]
        if subject.email:
            index = sealing.email_index(pii.attached(self._session), subject.company_id, subject.email)
            named += [table.c.subject_email_index == index, table.c.subject_email == subject.email]
        about = sa.select(table.c.request_id).where(table.c.company_id == subject.company_id, sa.or_(*named))
        ids = list(self._session.execute(about).scalars())
        if not ids:
            return 0
        connection = self._session.connection()
        dropped = connection.execute(privacy_sections.delete().where(privacy_sections.c.request_id.in_(ids)))
        blanked = connection.execute(
            table.update().where(table.c.request_id.in_(ids), table.c.subject_email != "").values(subject_email="")
        )
        return dropped.rowcount + blanked.rowcount

    def _load(self, query: sa.Select[Any]) -> list[PrivacyRequest]:
        found = list(self._session.execute(query).mappings())
        if not found:
            return []
        ids = [r["request_id"] for r in found]
        parts: dict[str, list[sa.RowMapping]] = {i: [] for i in ids}
        for part in self._session.execute(sa.select(privacy_outcomes).where(privacy_outcomes.c.request_id.in_(ids))):
            parts[part.request_id].append(part._mapping)
        cipher = pii.attached(self._session)
        return [rows.to_request(sealing.opened_request(cipher, r), parts[r["request_id"]]) for r in found]


class SqlOwnSubjectData:
    """The gateway's own records about a person, through the kit's export and erasure of its privacy map."""

    def __init__(self, session: orm.Session) -> None:
        self._session = session

    def export(self, subject: DataSubject) -> dict[str, list[dict[str, object]]]:
        """Every record the gateway keeps about the subject (its privacy map), table by table."""
        return subjects.export(self._session, privacy.MAP, _kit_subject(subject))

    def erase(self, subject: DataSubject) -> subjects.Erasure:
        """Anonymises the subject's machine clients and deletes replays and outbox rows naming them."""
        if self._session.get_bind().dialect.name == "sqlite":
            # Freed cells are zeroed, so old row images do not linger in the file's free pages.
            self._session.execute(sa.text("PRAGMA secure_delete=ON"))
        return subjects.erase(self._session, privacy.MAP, _kit_subject(subject))


class SqlOutbox:
    """The kit's outbox table, in the unit of work's transaction."""

    def __init__(self, session: orm.Session) -> None:
        self._session = session

    def record(self, envelope: envelope_pb2.Envelope) -> None:
        """Writes the event; the relay publishes it once the transaction commits."""
        outbox.record(self._session, envelope)


def _bundle_expired(cutoff: datetime | None) -> sa.ColumnElement[bool]:
    """A completed export whose bundle is gone: completed at or before `cutoff`, or with no section left."""
    table = privacy_requests
    gone = ~sa.exists().where(privacy_sections.c.request_id == table.c.request_id)
    aged = sa.false() if cutoff is None else table.c.completed_at <= cutoff
    completed = sa.and_(table.c.kind == RequestKind.EXPORT.value, table.c.status == RequestStatus.COMPLETED.value)
    return sa.and_(completed, sa.or_(aged, gone))


def _kit_subject(subject: DataSubject) -> subjects.Subject:
    return subjects.Subject(subject.company_id, subject.profile_id, subject.email)


@dataclass(frozen=True)
class SqlGatewayRepository:
    """The SQL repositories sharing one session."""

    keys: SqlKeyRepository
    clients: SqlClientRepository
    sso_logins: SqlSsoLoginRepository
    privacy_requests: SqlPrivacyRequestRepository
    own_data: SqlOwnSubjectData
    events: SqlOutbox
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

    def forget_old_pages(self, tables: Sequence[str]) -> None:
        """Old row images outlive a commit in SQLite's write-ahead log and in PostgreSQL's dead tuples:
        truncates the log, or rewrites `tables`."""
        subjects.forget_pages(self._uow.engine, tables)

    def _repositories(self, session: orm.Session) -> SqlGatewayRepository:
        return SqlGatewayRepository(
            keys=SqlKeyRepository(session),
            clients=SqlClientRepository(session),
            sso_logins=SqlSsoLoginRepository(session),
            privacy_requests=SqlPrivacyRequestRepository(session),
            own_data=SqlOwnSubjectData(session),
            events=SqlOutbox(session),
            audit=self.audit.trail(session),
        )
