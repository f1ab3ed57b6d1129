"""Profile persistence: the repository port and its SQLAlchemy adapter (tenant-scoped queries only)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.db import UnitOfWork
from services.profile.domain.model import PersonRole, Profile

metadata = sa.MetaData()

profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("profile_id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("given_name", sa.String(200), nullable=False),
    sa.Column("family_name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("company_id", "email", name="uq_profiles_company_email"),
)


class DuplicateProfile(Exception):
    """The store refused a profile because its (company, e-mail) exists."""


class ProfileRepository(Protocol):
    """Profiles of one company."""

    def add(self, profile: Profile) -> None: ...

    def get(self, profile_id: str) -> Profile | None: ...

    def get_by_email(self, email: str) -> Profile | None: ...


class ProfileUnitOfWork(Protocol):
    """Opens one transaction scoped to one company."""

    def begin(self, *, company_id: str) -> Any: ...


class SqlProfileRepository:
    """Profiles of one company in a SQL database."""

    def __init__(self, session: orm.Session, *, company_id: str) -> None:
        self._session = session
        self._company_id = company_id

    def add(self, profile: Profile) -> None:
        """Stores a new profile; raises DuplicateProfile on a taken (company, e-mail)."""
        row = {**vars(profile), "role": profile.role.value}
        try:
            with self._session.begin_nested():
                self._session.execute(profiles.insert().values(**row))
        except sa.exc.IntegrityError as exc:
            raise DuplicateProfile(profile.email) from exc

    def get(self, profile_id: str) -> Profile | None:
        """The profile with this id in this company, if any."""
        return self._one(profiles.c.profile_id == profile_id)

    def get_by_email(self, email: str) -> Profile | None:
        """The profile with this normalised e-mail in this company, if any."""
        return self._one(profiles.c.email == email)

    def _one(self, condition: sa.ColumnElement[bool]) -> Profile | None:
        query = sa.select(profiles).where(profiles.c.company_id == self._company_id, condition)
        row = self._session.execute(query).mappings().first()
        return None if row is None else _to_profile(row)


def _to_profile(row: sa.RowMapping) -> Profile:
    return Profile(
        profile_id=row["profile_id"],
        company_id=row["company_id"],
        email=row["email"],
        given_name=row["given_name"],
        family_name=row["family_name"],
        role=PersonRole(row["role"]),
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
    )


def _utc(value: datetime) -> datetime:
    # SQLite drops the zone; every stored time is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class SqlProfileUnitOfWork:
    """Hands out a company-scoped repository inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @contextmanager
    def begin(self, *, company_id: str) -> Iterator[SqlProfileRepository]:
        """One transaction; commits when the block succeeds."""
        with self._uow.begin() as session:
            yield SqlProfileRepository(session, company_id=company_id)
