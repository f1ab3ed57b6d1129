"""Profile persistence: the repository port and its SQLAlchemy adapter (tenant-scoped queries only)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.messaging import events
from services.kit.persistence.db import UnitOfWork
from services.profile import wire
from services.profile.domain.events import ProfileEvent, ProfilesMerged
from services.profile.domain.identity import IdentityStore
from services.profile.domain.model import ExternalId, PersonRole, Profile
from services.profile.journey_rows import JourneyRows, utc
from services.profile.tables import external_ids, facts, merges, metadata, profiles
from teei.events.v1 import envelope_pb2

__all__ = ["DuplicateProfile", "ProfileRepository", "ProfileUnitOfWork", "SqlProfileRepository", "metadata"]
_PROFILE_COLUMNS = ("profile_id", "company_id", "email", "given_name", "family_name", "created_at", "updated_at")


class DuplicateProfile(Exception):
    """The store refused a profile because its (company, e-mail) exists."""


class ProfileRepository(IdentityStore, Protocol):
    """Profiles of one company, with their identities, journeys and applied facts."""

    def add(self, profile: Profile) -> None: ...

    def lock(self, profile_id: str) -> Profile | None: ...

    def page(self, *, email: str, after: str, limit: int) -> list[Profile]: ...

    def save_journey(self, profile: Profile, *, now: datetime) -> None: ...

    def first_fact(self, profile_id: str, source: str, record_id: str, *, now: datetime) -> bool: ...

    def fold(self, duplicate: Profile, survivor: Profile, merge: ProfilesMerged, *, now: datetime) -> None: ...

    def publish(self, event: ProfileEvent) -> None: ...


class ProfileUnitOfWork(Protocol):
    """Opens one transaction scoped to one company."""

    def begin(self, *, company_id: str) -> Any: ...


class SqlProfileRepository:
    """Profiles of one company in a SQL database."""

    def __init__(
        self, session: orm.Session, *, company_id: str, causation: envelope_pb2.Envelope | None = None
    ) -> None:
        self._session = session
        self._company_id = company_id
        self._causation = causation
        self._journeys = JourneyRows(session, company_id=company_id)

    def add(self, profile: Profile) -> None:
        """Stores a new profile; raises DuplicateProfile on a taken (company, e-mail)."""
        row = {name: getattr(profile, name) for name in _PROFILE_COLUMNS}
        try:
            with self._session.begin_nested():
                self._session.execute(profiles.insert().values(**row, role=profile.role.value))
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
        return self._one(profiles.c.profile_id == profile_id)

    def lock(self, profile_id: str) -> Profile | None:
        """The profile, its row locked until commit so concurrent changes to it serialise."""
        return self._one(profiles.c.profile_id == profile_id, lock=True)

    def get_by_email(self, email: str) -> Profile | None:
        """The profile with this normalised e-mail in this company, if any."""
        return self._one(profiles.c.email == email)

    def get_by_external_id(self, external: ExternalId) -> Profile | None:
        """The profile this external id is bound to, if any."""
        owner = self._owner(external)
        return None if owner is None else self.get(owner)

    def bind(self, profile_id: str, external: ExternalId, *, now: datetime) -> str:
        """Binds the external id unless it is bound already; returns the profile that owns it."""
        owner = self._owner(external)
        if owner is not None:
            return owner
        row = {"provider": external.provider.value, "external_id": external.external_id}
        try:
            with self._session.begin_nested():
                self._session.execute(
                    external_ids.insert().values(
                        **row, company_id=self._company_id, profile_id=profile_id, created_at=now
                    )
                )
        except sa.exc.IntegrityError:
            return self._owner(external) or profile_id
        return profile_id

    def page(self, *, email: str, after: str, limit: int) -> list[Profile]:
        """Profiles not merged away, ordered by id, after the given id."""
        query = self._select().where(profiles.c.merged_into.is_(None), profiles.c.profile_id > after)
        if email:
            query = query.where(profiles.c.email == email)
        rows = self._session.execute(query.order_by(profiles.c.profile_id).limit(limit)).mappings().all()
        return self._hydrate(rows)

    def save_journey(self, profile: Profile, *, now: datetime) -> None:
        """Writes the profile's journey and touches its update time."""
        self._journeys.replace(profile.profile_id, profile.journey)
        self._touch(profile, now)

    def first_fact(self, profile_id: str, source: str, record_id: str, *, now: datetime) -> bool:
        """Records that a source fact was applied to the profile; False when it already was."""
        key = (facts.c.profile_id == profile_id, facts.c.source == source, facts.c.record_id == record_id)
        if self._session.execute(sa.select(facts.c.source).where(*self._scoped(facts), *key)).first():
            return False
        self._session.execute(
            facts.insert().values(
                company_id=self._company_id, profile_id=profile_id, source=source, record_id=record_id, applied_at=now
            )
        )
        return True

    def fold(self, duplicate: Profile, survivor: Profile, merge: ProfilesMerged, *, now: datetime) -> None:
        """Moves the duplicate's identities and facts to the survivor, marks it merged and audits the merge."""
        moved = {"profile_id": survivor.profile_id}
        owned = (*self._scoped(external_ids), external_ids.c.profile_id == duplicate.profile_id)
        self._session.execute(external_ids.update().where(*owned).values(**moved))
        self._move_facts(duplicate.profile_id, survivor.profile_id)
        self._journeys.replace(duplicate.profile_id, None)
        self._journeys.replace(survivor.profile_id, survivor.journey)
        where = (*self._scoped(profiles), profiles.c.profile_id == duplicate.profile_id)
        self._session.execute(profiles.update().where(*where).values(merged_into=survivor.profile_id, updated_at=now))
        self._touch(survivor, now)
        self._session.execute(
            merges.insert().values(
                merge_id=str(uuid.uuid4()),
                company_id=self._company_id,
                survivor_id=survivor.profile_id,
                duplicate_id=duplicate.profile_id,
                reason=merge.reason,
                actor=merge.actor,
                merged_at=now,
            )
        )

    def publish(self, event: ProfileEvent) -> None:
        """Records the event in the outbox, in this transaction."""
        envelope = wire.envelope_for(event, company_id=self._company_id, causation=self._causation)
        events.record(self._session, envelope)

    def _move_facts(self, duplicate_id: str, survivor_id: str) -> None:
        theirs = self._session.execute(
            sa.select(facts).where(*self._scoped(facts), facts.c.profile_id == duplicate_id)
        ).mappings()
        rows = [dict(row) for row in theirs]
        self._session.execute(facts.delete().where(*self._scoped(facts), facts.c.profile_id == duplicate_id))
        for row in rows:
            self.first_fact(survivor_id, row["source"], row["record_id"], now=utc(row["applied_at"]))

    def _touch(self, profile: Profile, now: datetime) -> None:
        profile.updated_at = max(profile.updated_at, now)
        where = (*self._scoped(profiles), profiles.c.profile_id == profile.profile_id)
        self._session.execute(profiles.update().where(*where).values(updated_at=profile.updated_at))

    def _owner(self, external: ExternalId) -> str | None:
        query = sa.select(external_ids.c.profile_id).where(
            *self._scoped(external_ids),
            external_ids.c.provider == external.provider.value,
            external_ids.c.external_id == external.external_id,
        )
        owner: str | None = self._session.execute(query).scalar_one_or_none()
        return owner

    def _scoped(self, table: sa.Table) -> tuple[sa.ColumnElement[bool]]:
        return (table.c.company_id == self._company_id,)

    def _select(self) -> sa.Select[Any]:
        return sa.select(profiles).where(*self._scoped(profiles))

    def _one(self, condition: sa.ColumnElement[bool], *, lock: bool = False) -> Profile | None:
        query = self._select().where(condition)
        row = self._session.execute(query.with_for_update() if lock else query).mappings().first()
        return None if row is None else self._hydrate([row])[0]

    def _hydrate(self, rows: Sequence[sa.RowMapping]) -> list[Profile]:
        ids = [row["profile_id"] for row in rows]
        journeys = self._journeys.load(ids)
        identities = self._identities(ids)
        return [_to_profile(row, identities.get(row["profile_id"], []), journeys[row["profile_id"]]) for row in rows]

    def _identities(self, ids: list[str]) -> dict[str, list[ExternalId]]:
        query = sa.select(external_ids).where(*self._scoped(external_ids), external_ids.c.profile_id.in_(ids))
        found: dict[str, list[ExternalId]] = {}
        for row in self._session.execute(query).mappings():
            found.setdefault(row["profile_id"], []).append(JourneyRows.external_id(row))
        return found


def _to_profile(row: sa.RowMapping, identities: list[ExternalId], journey: Any) -> Profile:
    return Profile(
        profile_id=row["profile_id"],
        company_id=row["company_id"],
        email=row["email"],
        given_name=row["given_name"],
        family_name=row["family_name"],
        role=PersonRole(row["role"]),
        created_at=utc(row["created_at"]),
        updated_at=utc(row["updated_at"]),
        external_ids=sorted(identities),
        journey=journey,
        merged_into=row["merged_into"],
    )


class SqlProfileUnitOfWork:
    """Hands out a company-scoped repository inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @contextmanager
    def begin(self, *, company_id: str) -> Iterator[SqlProfileRepository]:
        """One transaction; commits when the block succeeds."""
        with self._uow.begin() as session:
            yield SqlProfileRepository(session, company_id=company_id)
