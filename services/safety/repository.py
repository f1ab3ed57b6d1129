"""Safety persistence: tables, and a repository scoped to one company (every query filters by company_id)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.messaging import events
from services.kit.persistence.db import UnitOfWork
from services.safety import records
from services.safety.domain.commands import ListFlags
from services.safety.domain.model import Flag, Review, ReviewRecord, ReviewStatus, TextSourceType
from services.safety.domain.paging import PageRequest

metadata = sa.MetaData()

flags = sa.Table(
    "safety_flags",
    metadata,
    sa.Column("flag_id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False),
    # NULL for ad hoc text, so the uniqueness below only binds texts that name their record.
    sa.Column("source_text_id", sa.String(255), nullable=True),
    sa.Column("source_text_type", sa.String(40), nullable=False),
    sa.Column("profile_id", sa.String(36), nullable=False),
    sa.Column("findings", sa.Text, nullable=False),
    sa.Column("finding_types", sa.String(80), nullable=False),
    sa.Column("is_unsafe", sa.Boolean, nullable=False),
    sa.Column("requires_review", sa.Boolean, nullable=False),
    sa.Column("review_id", sa.String(36), nullable=True),
    sa.Column("redacted_text", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("company_id", "source_text_type", "source_text_id", name="uq_safety_flags_source"),
    sa.Index("ix_safety_flags_company_created", "company_id", "created_at"),
)

reviews = sa.Table(
    "safety_reviews",
    metadata,
    sa.Column("review_id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False),
    sa.Column("flag_id", sa.String(36), sa.ForeignKey("safety_flags.flag_id"), nullable=False, unique=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_safety_reviews_company_status_created", "company_id", "status", "created_at"),
)

review_actions = sa.Table(
    "safety_review_actions",
    metadata,
    sa.Column("action_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("review_id", sa.String(36), sa.ForeignKey("safety_reviews.review_id"), nullable=False, index=True),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("reviewer", sa.String(255), nullable=False),
    sa.Column("notes", sa.Text, nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
)


class DuplicateSource(Exception):
    """The store already holds a flag for this (company, source type, source id)."""


class SafetyRepository(Protocol):
    """Flags and reviews of one company."""

    def add_flag(self, flag: Flag) -> None: ...
    def get_flag(self, flag_id: str) -> Flag | None: ...
    def get_flag_by_source(self, source_text_type: TextSourceType, source_text_id: str) -> Flag | None: ...
    def list_flags(self, query: ListFlags, page: PageRequest) -> list[Flag]: ...
    def add_review(self, review: Review) -> None: ...
    def get_review(self, review_id: str) -> ReviewRecord | None: ...
    def list_reviews(self, status: ReviewStatus | None, profile_id: str, page: PageRequest) -> list[ReviewRecord]: ...
    def save_decision(self, review: Review) -> bool: ...
    def emit(self, envelope: events.Envelope) -> None: ...


class SafetyUnitOfWork(Protocol):
    """Opens one transaction scoped to one company."""

    def begin(self, *, company_id: str) -> Any: ...


class SqlSafetyRepository:
    """Flags and reviews of one company in a SQL database; events go to the outbox in the same transaction."""

    def __init__(self, session: orm.Session, *, company_id: str) -> None:
        self._session = session
        self._company_id = company_id

    def add_flag(self, flag: Flag) -> None:
        """Stores a new flag; raises DuplicateSource when its source record was flagged already."""
        try:
            with self._session.begin_nested():
                self._session.execute(flags.insert().values(**records.flag_row(flag)))
        except sa.exc.IntegrityError as exc:
            raise DuplicateSource(flag.source.source_text_id) from exc

    def get_flag(self, flag_id: str) -> Flag | None:
        """The flag with this id in this company, if any."""
        row = self._session.execute(self._flags().where(flags.c.flag_id == flag_id)).mappings().first()
        return None if row is None else records.to_flag(row)

    def get_flag_by_source(self, source_text_type: TextSourceType, source_text_id: str) -> Flag | None:
        """The flag of one source record, if it was flagged."""
        query = self._flags().where(
            flags.c.source_text_type == source_text_type.value, flags.c.source_text_id == source_text_id
        )
        row = self._session.execute(query).mappings().first()
        return None if row is None else records.to_flag(row)

    def list_flags(self, query: ListFlags, page: PageRequest) -> list[Flag]:
        """Up to `page.size + 1` flags, newest first, after the page cursor."""
        select = self._flags().where(*_flag_filters(query))
        if page.after is not None:
            at, last = page.after.created_at, page.after.item_id
            select = select.where(
                sa.or_(flags.c.created_at < at, sa.and_(flags.c.created_at == at, flags.c.flag_id < last))
            )
        select = select.order_by(flags.c.created_at.desc(), flags.c.flag_id.desc()).limit(page.size + 1)
        return [records.to_flag(row) for row in self._session.execute(select).mappings()]

    def add_review(self, review: Review) -> None:
        """Queues a review."""
        self._session.execute(reviews.insert().values(**records.review_row(review)))

    def get_review(self, review_id: str) -> ReviewRecord | None:
        """The review with this id in this company, with its flag and history."""
        row = self._session.execute(self._reviews().where(reviews.c.review_id == review_id)).mappings().first()
        return None if row is None else self._review_record(row)

    def list_reviews(self, status: ReviewStatus | None, profile_id: str, page: PageRequest) -> list[ReviewRecord]:
        """Up to `page.size + 1` reviews, oldest first, after the page cursor."""
        select = self._reviews()
        if status is not None:
            select = select.where(reviews.c.status == status.value)
        if profile_id:
            select = select.where(flags.c.profile_id == profile_id)
        if page.after is not None:
            at, last = page.after.created_at, page.after.item_id
            select = select.where(
                sa.or_(reviews.c.created_at > at, sa.and_(reviews.c.created_at == at, reviews.c.review_id > last))
            )
        select = select.order_by(reviews.c.created_at, reviews.c.review_id).limit(page.size + 1)
        rows = self._session.execute(select).mappings().all()
        histories = self._histories([row["review_id"] for row in rows])
        return [records.to_review_record(row, histories.get(row["review_id"], [])) for row in rows]

    def save_decision(self, review: Review) -> bool:
        """Stores the review's latest decision unless another one was stored since it was read."""
        result = self._session.execute(
            reviews.update()
            .where(
                reviews.c.company_id == self._company_id,
                reviews.c.review_id == review.review_id,
                reviews.c.version == review.version - 1,
            )
            .values(status=review.status.value, version=review.version)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        if review.latest is not None:
            self._session.execute(review_actions.insert().values(records.action_row(review)))
        return True

    def emit(self, envelope: events.Envelope) -> None:
        """Records an event in the outbox, committed with the state change."""
        events.record(self._session, envelope)

    def _flags(self) -> sa.Select[Any]:
        return sa.select(flags).where(flags.c.company_id == self._company_id)

    def _reviews(self) -> sa.Select[Any]:
        flag_columns = [c.label(f"flag__{c.name}") for c in flags.c]
        return (
            sa.select(reviews, *flag_columns)
            .join(flags, flags.c.flag_id == reviews.c.flag_id)
            .where(reviews.c.company_id == self._company_id, flags.c.company_id == self._company_id)
        )

    def _review_record(self, row: sa.RowMapping) -> ReviewRecord:
        return records.to_review_record(row, self._histories([row["review_id"]]).get(row["review_id"], []))

    def _histories(self, review_ids: list[str]) -> dict[str, list[sa.RowMapping]]:
        """The decisions of several reviews in one query, oldest first."""
        if not review_ids:
            return {}
        query = (
            sa.select(review_actions)
            .where(review_actions.c.review_id.in_(review_ids))
            .order_by(review_actions.c.action_id)
        )
        by_review: dict[str, list[sa.RowMapping]] = {}
        for action in self._session.execute(query).mappings():
            by_review.setdefault(action["review_id"], []).append(action)
        return by_review


def _flag_filters(query: ListFlags) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if query.finding_type is not None:
        conditions.append(flags.c.finding_types.like(f"%|{query.finding_type.value}|%"))
    if query.source_text_id:
        conditions.append(flags.c.source_text_id == query.source_text_id)
    if query.profile_id:
        conditions.append(flags.c.profile_id == query.profile_id)
    if query.start is not None:
        conditions.append(flags.c.created_at >= query.start)
    if query.end is not None:
        conditions.append(flags.c.created_at < query.end)
    return conditions


class SqlSafetyUnitOfWork:
    """Hands out a company-scoped repository inside one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @contextmanager
    def begin(self, *, company_id: str) -> Iterator[SqlSafetyRepository]:
        """One transaction; commits when the block succeeds."""
        with self._uow.begin() as session:
            yield SqlSafetyRepository(session, company_id=company_id)
