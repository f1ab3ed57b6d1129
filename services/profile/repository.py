"""The write side: the `ProfileRepository` port, its SQLAlchemy adapter and the units of work yielding it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql, sqlite

from services.kit.audit.trail import AuditTrail, SqlAuditTrail
from services.kit.messaging import events
from services.kit.persistence.db import TenantUnitOfWork, UnitOfWork
from services.kit.persistence.memo import memo
from services.kit.persistence.types import UtcDateTime
from services.kit.security import pii
from services.profile import rows, sealing
from services.profile.domain.events import ProfileEvent, ProfilesMerged
from services.profile.domain.identity import IdentityStore
from services.profile.domain.model import ExternalId, Profile
from services.profile.events import envelope_for
from services.profile.tables import (
    JOURNEY_TABLES,
    counters,
    enrolments,
    external_ids,
    facts,
    flags,
    merges,
    metadata,
    milestones,
    profiles,
)
from teei.events.v1 import envelope_pb2

__all__ = [
    "DeliveryUnitOfWork",
    "DuplicateProfile",
    "ProfileRepository",
    "ProfileUnitOfWork",
    "SqlProfileRepository",
    "SqlProfileUnitOfWork",
    "metadata",
]
# A profile's identities and journey rows come back in one statement: a UNION ALL of the five tables
# in one shape, each row tagged with its table. Columns a table lacks are typed NULLs (PostgreSQL
# resolves a UNION's column types pair by pair, so an untyped NULL would turn into text).
_SHAPE: dict[str, sa.types.TypeEngine[Any]] = {
    "k1": sa.String(),
    "k2": sa.String(),
    "detail": sa.String(),
    "n": sa.BigInteger(),
    "t1": UtcDateTime(),
    "t2": UtcDateTime(),
}
# Each table's columns in the shape, under the names rows.py reads them by.
_COLUMNS: dict[sa.Table, dict[str, str]] = {
    external_ids: {"k1": "provider", "k2": "external_id", "detail": "external_ref"},
    enrolments: {"k1": "programme", "k2": "status", "t1": "start_at", "t2": "end_at"},
    flags: {"k1": "name", "n": "value"},
    counters: {"k1": "name", "n": "value"},
    milestones: {"k1": "kind", "k2": "repeat_key", "detail": "detail", "t1": "reached_at"},
}
_TAGS = {table.name: table for table in _COLUMNS}


class DuplicateProfile(Exception):
    """The store refused a profile because its (company, e-mail) exists."""


class ProfileRepository(IdentityStore, Protocol):
    """Profiles of one company, with their identities, journeys and applied facts."""

    def add(self, profile: Profile) -> None: ...

    def lock(self, profile_id: str) -> Profile | None: ...

    def relock(self, profile: Profile) -> Profile | None: ...

    def page(self, *, email: str, after: str, limit: int) -> list[Profile]: ...

    def save_journey(self, profile: Profile, *, now: datetime) -> None: ...

    def first_fact(self, profile_id: str, source: str, record_id: str, *, now: datetime) -> bool: ...

    def fold(self, duplicate: Profile, survivor: Profile, merge: ProfilesMerged, *, now: datetime) -> None: ...

    def publish(self, event: ProfileEvent) -> None: ...

    @property
    def audit(self) -> AuditTrail: ...


ProfileUnitOfWork = TenantUnitOfWork[ProfileRepository]


class SqlProfileRepository:
    """Profiles of one company in a SQL database."""

    def __init__(
        self, session: orm.Session, *, company_id: str, causation: envelope_pb2.Envelope | None = None
    ) -> None:
        self._session = session
        self._company_id = company_id
        self._causation = causation
        self._audit = SqlAuditTrail(session)
        self._pii = pii.attached(session)
        # Kept for the rest of the transaction, across the repositories of its events (a consumer's batch
        # applies many in one; services/kit/persistence/memo.py empties them on any rollback):
        # each journey's rows as this transaction last read or wrote them, so that a save rewrites only the
        # tables whose rows changed (an applied session changes a counter; enrolments, flags and milestones
        # rarely), by (company, profile id);
        self._journey_rows: dict[tuple[str, str], dict[sa.Table, list[dict[str, object]]]] = memo(
            session, "profile.journey_rows"
        )
        # and the profiles this transaction has locked, by (company, e-mail): the row lock holds until the
        # transaction ends, so no other writer changes them meanwhile and the next event naming the person
        # finds them here instead of reading them again.
        self._locked: dict[tuple[str, str], Profile] = memo(session, "profile.locked")

    @property
    def audit(self) -> AuditTrail:
        """The audit log, in this repository's transaction."""
        return self._audit

    def add(self, profile: Profile) -> None:
        """Stores a new profile; raises DuplicateProfile on a taken (company, e-mail)."""
        try:
            with self._session.begin_nested():
                row = rows.profile_row(profile) | sealing.profile_fields(self._pii, profile)
                self._session.execute(profiles.insert().values(**row))
        except sa.exc.IntegrityError as exc:
            raise DuplicateProfile(profile.email) from exc

    def add_or_get(self, profile: Profile) -> Profile:
        """Stores a new profile, or returns the one that took its e-mail first."""
        try:
            self.add(profile)
        except DuplicateProfile:
            existing = self.get_by_email(profile.email)
            if existing is None:
                raise
            return existing
        return profile

    def get(self, profile_id: str) -> Profile | None:
        """The profile with this id in this company (merged ones included), if any."""
        return self._one(_BY_ID, profile_id)

    def lock(self, profile_id: str) -> Profile | None:
        """The profile, its row locked until commit so concurrent changes to it serialise."""
        return self._remember(self._one(_BY_ID_LOCKED, profile_id))

    def relock(self, profile: Profile) -> Profile | None:
        """`profile` as read earlier in this transaction, its row now locked as `lock` locks it; read again
        only when another transaction changed or merged it meanwhile (its update time or merge moved: under
        PostgreSQL's read committed, a read before the lock may be older than the lock)."""
        params = {"b_company_id": self._company_id, "b_key": profile.profile_id}
        row = self._session.execute(_VERSION_LOCKED, params).first()
        if row is None:
            return None
        if row.updated_at == profile.updated_at and row.merged_into == profile.merged_into:
            return self._remember(profile)
        return self.lock(profile.profile_id)

    def get_by_email(self, email: str) -> Profile | None:
        """The profile with this normalised e-mail in this company, if any: by the e-mail's blind index,
        or, for a row the online migration has not sealed yet, by the plain e-mail. A profile this
        transaction has locked is not read again."""
        locked = self._locked.get((self._company_id, email))
        if locked is not None:
            return locked
        index = sealing.email_index(self._pii, self._company_id, email)
        found = self._one(_BY_EMAIL_INDEX, index)
        if found is None:
            found = self._one(_BY_PLAIN_EMAIL, email)
        return found

    def get_by_external_id(self, external: ExternalId) -> Profile | None:
        """The profile this external id is bound to, if any."""
        owner = self._owner(external)
        return None if owner is None else self.get(owner)

    def bind(self, profile_id: str, external: ExternalId, *, now: datetime) -> str:
        """Binds the external id unless it is bound already; returns the profile that owns it."""
        owner = self._owner(external)
        if owner is not None:
            return owner
        stored = sealing.external_fields(self._pii, self._company_id, profile_id, external)
        row = {"provider": external.provider.value, **stored, "created_at": now}
        try:
            with self._session.begin_nested():
                self._session.execute(external_ids.insert().values(**row, **self._owned_by(profile_id)))
        except sa.exc.IntegrityError:
            return self._owner(external) or profile_id
        return profile_id

    def page(self, *, email: str, after: str, limit: int) -> list[Profile]:
        """Profiles not merged away, ordered by id, after the given id."""
        query = self._select().where(profiles.c.merged_into.is_(None), profiles.c.profile_id > after)
        if email:
            found_by_email = self.get_by_email(email)
            query = query.where(profiles.c.profile_id == (found_by_email.profile_id if found_by_email else None))
        found = self._session.execute(query.order_by(profiles.c.profile_id).limit(limit)).mappings().all()
        return self._hydrate(found)

    def save_journey(self, profile: Profile, *, now: datetime) -> None:
        """Writes the profile's journey and touches its update time."""
        self._replace_journey(profile.profile_id, profile)
        self._touch(profile, now)

    def first_fact(self, profile_id: str, source: str, record_id: str, *, now: datetime) -> bool:
        """Records that a source fact was applied to the profile; False when it already was."""
        fact = {"source": source, "record_id": record_id, "applied_at": now, **self._owned_by(profile_id)}
        # One statement: the key is the table's primary key, so a fact already recorded inserts nothing.
        # The row it returns says it inserted (psycopg reports no row count for it).
        return self._session.execute(_FACT_INSERT[self._session.get_bind().dialect.name], fact).first() is not None

    def fold(self, duplicate: Profile, survivor: Profile, merge: ProfilesMerged, *, now: datetime) -> None:
        """Moves the duplicate's identities and facts to the survivor, marks it merged and audits the merge."""
        for merged in (duplicate, survivor):
            self._locked.pop((self._company_id, merged.email), None)
        owned = (*self._scoped(external_ids), external_ids.c.profile_id == duplicate.profile_id)
        self._session.execute(external_ids.update().where(*owned).values(profile_id=survivor.profile_id))
        sealing.reseal_externals(self._session, self._pii, self._company_id, survivor.profile_id)
        self._move_facts(duplicate.profile_id, survivor.profile_id)
        self._replace_journey(duplicate.profile_id, None)
        self._replace_journey(survivor.profile_id, survivor)
        where = (*self._scoped(profiles), profiles.c.profile_id == duplicate.profile_id)
        self._session.execute(profiles.update().where(*where).values(merged_into=survivor.profile_id, updated_at=now))
        self._touch(survivor, now)
        audit = {"survivor_id": survivor.profile_id, "duplicate_id": duplicate.profile_id, "merged_at": now}
        self._session.execute(
            merges.insert().values(
                **audit, merge_id=str(uuid.uuid4()), company_id=self._company_id, reason=merge.reason, actor=merge.actor
            )
        )

    def publish(self, event: ProfileEvent) -> None:
        """Records the event in the outbox, in this transaction."""
        events.record(self._session, envelope_for(event, company_id=self._company_id, causation=self._causation))

    def _move_facts(self, duplicate_id: str, survivor_id: str) -> None:
        theirs = (*self._scoped(facts), facts.c.profile_id == duplicate_id)
        moved = self._session.execute(sa.select(facts).where(*theirs)).mappings().all()
        self._session.execute(facts.delete().where(*theirs))
        for row in moved:
            self.first_fact(survivor_id, row["source"], row["record_id"], now=row["applied_at"])

    def _replace_journey(self, profile_id: str, profile: Profile | None) -> None:
        """Rewrites the profile's journey rows (deletes them when `profile` is None)."""
        owner = {"b_company_id": self._company_id, "b_profile_id": profile_id}
        stored = self._journey_rows.pop((self._company_id, profile_id), None)
        if profile is None:
            for table in JOURNEY_TABLES:
                self._session.execute(_JOURNEY_DELETES[table], owner)
            return
        wanted = rows.journey_rows(profile.journey)
        for table, written in wanted.items():
            if stored is not None and stored.get(table) == written:
                continue  # this table's rows are as stored
            self._session.execute(_JOURNEY_DELETES[table], owner)
            if written:
                self._session.execute(_INSERTS[table], [row | self._owned_by(profile_id) for row in written])
        self._journey_rows[self._company_id, profile_id] = wanted

    def _touch(self, profile: Profile, now: datetime) -> None:
        profile.updated_at = max(profile.updated_at, now)
        owner = {"b_company_id": self._company_id, "b_profile_id": profile.profile_id}
        self._session.execute(_TOUCH, {**owner, "b_updated_at": profile.updated_at})

    def _remember(self, profile: Profile | None) -> Profile | None:
        """`profile`, just locked, kept for the rest of the transaction (by its e-mail)."""
        if profile is not None:
            self._locked[self._company_id, profile.email] = profile
        return profile

    def _owner(self, external: ExternalId) -> str | None:
        # By the blind index, or the plain id on a row the online migration has not sealed yet.
        keys = [sealing.external_index(self._pii, self._company_id, external), external.external_id]
        params = {"b_company_id": self._company_id, "b_provider": external.provider.value, "b_keys": keys}
        owner: str | None = self._session.execute(_OWNER, params).scalar_one_or_none()
        return owner

    def _owned_by(self, profile_id: str) -> dict[str, object]:
        return {"company_id": self._company_id, "profile_id": profile_id}

    def _scoped(self, table: sa.Table) -> tuple[sa.ColumnElement[bool]]:
        return (table.c.company_id == self._company_id,)

    def _select(self) -> sa.Select[Any]:
        return sa.select(profiles).where(*self._scoped(profiles))

    def _one(self, query: sa.Select[Any], key: str | None) -> Profile | None:
        params = {"b_company_id": self._company_id, "b_key": key}
        row = self._session.execute(query, params).mappings().first()
        return None if row is None else self._hydrate([row])[0]

    def _hydrate(self, found: Sequence[sa.RowMapping]) -> list[Profile]:
        """The profiles of `found` with their identities and journeys, read in one more statement."""
        ids = [row["profile_id"] for row in found]
        if not ids:
            return []
        params = {"b_company_id": self._company_id, "b_ids": ids}
        related = _related_rows(self._session.execute(_RELATED, params).mappings())
        journeys = rows.to_journeys(ids, related)
        self._journey_rows.update(
            ((self._company_id, profile_id), rows.journey_rows(journeys[profile_id])) for profile_id in ids
        )
        identities: dict[str, list[ExternalId]] = {}
        for row in related.get(external_ids, ()):
            identities.setdefault(row["profile_id"], []).append(sealing.opened_external(self._pii, row))
        return [
            rows.to_profile(
                sealing.opened_profile(self._pii, row),
                identities.get(row["profile_id"], []),
                journeys[row["profile_id"]],
            )
            for row in found
        ]


def _owned(table: sa.Table, *, key: str = "b_profile_id") -> tuple[sa.ColumnElement[bool], ...]:
    """The rows of one company's profile: `b_company_id` and `key` bound when executed."""
    return (table.c.company_id == sa.bindparam("b_company_id"), table.c.profile_id == sa.bindparam(key))


def _related() -> sa.CompoundSelect[Any]:
    """One statement for the identities and journey rows of the profiles `b_ids` of `b_company_id`;
    milestones in the order they were reached (t1), so a journey reads back as it was written."""
    branches = [_branch(table) for table in _COLUMNS]
    return sa.union_all(*branches).order_by("tag", "t1", "k1", "k2")


def _branch(table: sa.Table) -> sa.Select[Any]:
    named = _COLUMNS[table]
    columns = [sa.literal_column(f"'{table.name}'", sa.String()).label("tag"), table.c.profile_id]
    for slot, kind in _SHAPE.items():
        column: sa.ColumnElement[Any] = table.c[named[slot]] if slot in named else sa.cast(sa.null(), kind)
        if table is flags and slot == "n":
            column = sa.case((table.c.value, 1), else_=0)  # PostgreSQL casts no boolean to bigint
        columns.append(column.label(slot))
    ids: sa.BindParameter[list[str]] = sa.bindparam("b_ids", expanding=True)
    return sa.select(*columns).where(table.c.company_id == sa.bindparam("b_company_id"), table.c.profile_id.in_(ids))


# The statements of the hot paths (every applied event runs them), built once with their parameters bound
# at execution: building and keying a statement costs more CPU than SQLite takes to run it.
_RELATED = _related()
_PROFILES = sa.select(profiles).where(profiles.c.company_id == sa.bindparam("b_company_id"))
_BY_ID = _PROFILES.where(profiles.c.profile_id == sa.bindparam("b_key"))
_BY_ID_LOCKED = _BY_ID.with_for_update()
_VERSION_LOCKED = (
    sa.select(profiles.c.updated_at, profiles.c.merged_into)
    .where(profiles.c.company_id == sa.bindparam("b_company_id"), profiles.c.profile_id == sa.bindparam("b_key"))
    .with_for_update()
)
_BY_EMAIL_INDEX = _PROFILES.where(profiles.c.email_index == sa.bindparam("b_key"))
_BY_PLAIN_EMAIL = _PROFILES.where(profiles.c.email_index.is_(None), profiles.c.email == sa.bindparam("b_key"))
_JOURNEY_DELETES = {table: table.delete().where(*_owned(table)) for table in JOURNEY_TABLES}
_INSERTS = {table: table.insert() for table in JOURNEY_TABLES}
_TOUCH = profiles.update().where(*_owned(profiles)).values(updated_at=sa.bindparam("b_updated_at"))
_FACT_INSERT = {
    "postgresql": postgresql.insert(facts).on_conflict_do_nothing().returning(facts.c.source),
    "sqlite": sqlite.insert(facts).on_conflict_do_nothing().returning(facts.c.source),
}
_OWNER = sa.select(external_ids.c.profile_id).where(
    external_ids.c.company_id == sa.bindparam("b_company_id"),
    external_ids.c.provider == sa.bindparam("b_provider"),
    external_ids.c.external_id.in_(sa.bindparam("b_keys", expanding=True)),
)


def _related_rows(found: Iterable[sa.RowMapping]) -> dict[sa.Table, list[dict[str, Any]]]:
    """The UNION's rows back under their own tables and column names."""
    by_table: dict[sa.Table, list[dict[str, Any]]] = {}
    for row in found:
        table = _TAGS[row["tag"]]
        own = {name: row[slot] for slot, name in _COLUMNS[table].items()}
        by_table.setdefault(table, []).append({"profile_id": row["profile_id"], **own})
    return by_table


class SqlProfileUnitOfWork:
    """Hands out a company-scoped repository inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @contextmanager
    def begin(self, *, company_id: str) -> Iterator[ProfileRepository]:
        """One transaction; commits when the block succeeds."""
        with self._uow.begin() as session:
            yield SqlProfileRepository(session, company_id=company_id)

    @contextmanager
    def read(self, *, company_id: str) -> Iterator[ProfileRepository]:
        """One read-only transaction: no write lock, writes refused."""
        with self._uow.read() as session:
            yield SqlProfileRepository(session, company_id=company_id)


class DeliveryUnitOfWork:
    """The transaction the event bus opened for one delivery; the bus commits it with its inbox record."""

    def __init__(self, session: orm.Session, *, causation: envelope_pb2.Envelope) -> None:
        self._session = session
        self._causation = causation

    @contextmanager
    def begin(self, *, company_id: str) -> Iterator[ProfileRepository]:
        """The delivery's transaction, its events caused by the delivered one."""
        yield SqlProfileRepository(self._session, company_id=company_id, causation=self._causation)

    def read(self, *, company_id: str) -> AbstractContextManager[ProfileRepository]:
        """Reads inside a delivery share its (writing) transaction: they see what it wrote so far."""
        return self.begin(company_id=company_id)
