"""The read side: one flag or review by id, and keyset pages of flags and of the review queue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit import paging
from services.kit.errors import FieldViolation
from services.kit.persistence.db import TenantUnitOfWork
from services.kit.security import pii
from services.safety import rows, sealing
from services.safety.domain import commands as checks
from services.safety.domain.commands import GetFlag, GetReview, ListFlags, ListReviews
from services.safety.domain.errors import FlagNotFound, InvalidSafetyRequest, ReviewNotFound, SafetyError
from services.safety.domain.model import Flag, ReviewRecord, ReviewStatus
from services.safety.tables import flags, review_actions, reviews

After = tuple[datetime, str] | None
# The review queue's sort key: priority (highest first), then time and id (oldest first).
ReviewAfter = tuple[int, datetime, str] | None
FoundT = TypeVar("FoundT")


class SafetyReader(Protocol):
    """What the reads need: flags and reviews of one company, by id and in pages; no locks."""

    def get_flag(self, flag_id: str) -> Flag | None: ...

    def get_review(self, review_id: str) -> ReviewRecord | None: ...

    def list_flags(self, where: ListFlags, *, limit: int, after: After) -> list[Flag]: ...

    def list_reviews(
        self, status: ReviewStatus | None, profile_id: str, *, limit: int, after: ReviewAfter
    ) -> list[ReviewRecord]: ...


def get_flag(query: GetFlag, *, uow: TenantUnitOfWork[SafetyReader]) -> Flag:
    """One flag of the caller's company."""
    flag_id = checks.require_id(query.flag_id, "flag_id")
    with uow.read(company_id=query.company_id) as reader:
        flag = reader.get_flag(flag_id)
    return _found(flag, FlagNotFound("flag not found", metadata={"flag_id": flag_id}))


def get_review(query: GetReview, *, uow: TenantUnitOfWork[SafetyReader]) -> ReviewRecord:
    """One review of the caller's company, with its flag and history."""
    review_id = checks.require_id(query.review_id, "review_id")
    with uow.read(company_id=query.company_id) as reader:
        record = reader.get_review(review_id)
    return _found(record, ReviewNotFound("review not found", metadata={"review_id": review_id}))


def list_flags(query: ListFlags, *, uow: TenantUnitOfWork[SafetyReader]) -> tuple[list[Flag], str]:
    """A page of the company's flags, newest first, and the token of the next page ("" on the last)."""
    query = replace(query, profile_id=checks.optional_id(query.profile_id, "profile_id"))
    page = _page(query.page_size, query.page_token, "safety.flags", query.company_id, *_flag_filters(query))
    with uow.read(company_id=query.company_id) as reader:
        found = reader.list_flags(query, limit=page.size + 1, after=_after(page))
    items = found[: page.size]
    if len(found) <= page.size:
        return items, ""
    return items, page.next_token((items[-1].created_at, items[-1].flag_id), more=True)


def list_reviews(query: ListReviews, *, uow: TenantUnitOfWork[SafetyReader]) -> tuple[list[ReviewRecord], str]:
    """A page of the review queue, most urgent first and then oldest first, and the next page's token."""
    status = checks.review_status(query.status)
    profile_id = checks.optional_id(query.profile_id, "profile_id")
    status_name = status.value if status else ""
    page = _page(query.page_size, query.page_token, "safety.reviews", query.company_id, status_name, profile_id)
    with uow.read(company_id=query.company_id) as reader:
        found = reader.list_reviews(status, profile_id, limit=page.size + 1, after=_review_after(page))
    items = found[: page.size]
    if len(found) <= page.size:
        return items, ""
    last = items[-1].review
    return items, page.next_token((str(last.priority.value), last.created_at, last.review_id), more=True)


def _found(item: FoundT | None, missing: SafetyError) -> FoundT:
    """The item read, or the not-found error of its kind."""
    if item is None:
        raise missing
    return item


def _page(size: int, token: str, *scope: str) -> paging.PageRequest:
    """The page asked for; its token is bound to the listing, the company and the filters (`scope`)."""
    return paging.page_request(size, token, scope=scope, invalid=InvalidSafetyRequest)


def _after(page: paging.PageRequest) -> After:
    return None if page.after is None else paging.time_and_id(page.after, invalid=InvalidSafetyRequest)


def _review_after(page: paging.PageRequest) -> ReviewAfter:
    if page.after is None:
        return None
    rank, *rest = page.after
    if not rank.isdigit():
        raise InvalidSafetyRequest(
            "page_token is not valid",
            violations=[FieldViolation("page_token", "use the next_page_token of the same listing")],
        )
    at, last = paging.time_and_id(tuple(rest), invalid=InvalidSafetyRequest)
    return int(rank), at, last


def _flag_filters(query: ListFlags) -> tuple[str, ...]:
    times = (when.isoformat() if when else "" for when in (query.start, query.end))
    kind = query.finding_type.value if query.finding_type else ""
    return (kind, query.source_text_id, query.profile_id, *times)


class SqlSafetyReader:
    """Flags and reviews of one company, read straight from the tables."""

    def __init__(self, session: orm.Session, *, company_id: str) -> None:
        self._session = session
        self._company_id = company_id

    def get_flag(self, flag_id: str) -> Flag | None:
        """The flag with this id in this company, if any."""
        row = self._session.execute(self._flags().where(flags.c.flag_id == flag_id)).mappings().first()
        return None if row is None else rows.to_flag(sealing.opened_flag(self._cipher, row))

    def get_review(self, review_id: str) -> ReviewRecord | None:
        """The review with this id in this company, with its flag and history."""
        found = self._review_records(self._reviews().where(reviews.c.review_id == review_id))
        return found[0] if found else None

    def list_flags(self, where: ListFlags, *, limit: int, after: After) -> list[Flag]:
        """Up to `limit` flags matching the filters, newest first, after the cursor."""
        c = flags.c
        select = self._flags().where(*_flag_conditions(where))
        if after is not None:
            at, last = after
            select = select.where(sa.or_(c.created_at < at, sa.and_(c.created_at == at, c.flag_id < last)))
        select = select.order_by(c.created_at.desc(), c.flag_id.desc()).limit(limit)
        return [
            rows.to_flag(sealing.opened_flag(self._cipher, row)) for row in self._session.execute(select).mappings()
        ]

    def list_reviews(
        self, status: ReviewStatus | None, profile_id: str, *, limit: int, after: ReviewAfter
    ) -> list[ReviewRecord]:
        """Up to `limit` reviews, highest priority first and then oldest first, after the cursor."""
        c = reviews.c
        select = self._reviews()
        if status is not None:
            select = select.where(c.status == status.value)
        if profile_id:
            select = select.where(flags.c.profile_id == profile_id)
        if after is not None:
            rank, at, last = after
            later = sa.or_(c.created_at > at, sa.and_(c.created_at == at, c.review_id > last))
            select = select.where(sa.or_(c.priority < rank, sa.and_(c.priority == rank, later)))
        return self._review_records(select.order_by(c.priority.desc(), c.created_at, c.review_id).limit(limit))

    @property
    def _cipher(self) -> pii.PiiCipher:
        """The cipher the flags' texts and the decisions' notes are sealed with (services/safety/sealing.py)."""
        return pii.attached(self._session)

    def _flags(self) -> sa.Select[Any]:
        return sa.select(flags).where(flags.c.company_id == self._company_id)

    def _reviews(self) -> sa.Select[Any]:
        flag_columns = [c.label(f"flag__{c.name}") for c in flags.c]
        return (
            sa.select(reviews, *flag_columns)
            .join(flags, flags.c.flag_id == reviews.c.flag_id)
            .where(reviews.c.company_id == self._company_id, flags.c.company_id == self._company_id)
        )

    def _review_records(self, select: sa.Select[Any]) -> list[ReviewRecord]:
        """The reviews a query finds, each with its decisions (read in one more query, oldest first)."""
        cipher = self._cipher
        found = [sealing.opened_flag(cipher, row, "flag__") for row in self._session.execute(select).mappings()]
        histories: dict[str, list[Mapping[str, Any]]] = {row["review_id"]: [] for row in found}
        if histories:
            actions = review_actions.c
            query = sa.select(review_actions).where(actions.review_id.in_(histories)).order_by(actions.action_id)
            for action in self._session.execute(query).mappings():
                histories[action["review_id"]].append(sealing.ACTIONS.open(cipher, action))
        return [rows.to_review_record(row, histories[row["review_id"]]) for row in found]


def _flag_conditions(where: ListFlags) -> list[sa.ColumnElement[bool]]:
    c = flags.c
    conditions: list[sa.ColumnElement[bool]] = []
    if where.finding_type is not None:
        conditions.append(c.finding_types.like(f"%|{where.finding_type.value}|%"))
    if where.source_text_id:
        conditions.append(c.source_text_id == where.source_text_id)
    if where.profile_id:
        conditions.append(c.profile_id == where.profile_id)
    if where.start is not None:
        conditions.append(c.created_at >= where.start)
    if where.end is not None:
        conditions.append(c.created_at < where.end)
    return conditions
