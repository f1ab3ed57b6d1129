"""Newest-first keyset listings of connector records: the SQL page after a (time, id) position, and
the page a query answers with its next token."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from services.kit import paging
from services.kit.errors import InvalidArgument
from services.kit.persistence.db import TenantUnitOfWork

T = TypeVar("T")
RepoT = TypeVar("RepoT")
Position = tuple[datetime, str]


class PageQuery(Protocol):
    """A listing query: whose, how many, and from where."""

    @property
    def company_id(self) -> str: ...

    @property
    def page_size(self) -> int: ...

    @property
    def page_token(self) -> str: ...


def read_page(
    query: PageQuery,
    *,
    listing: Sequence[str],
    uow: TenantUnitOfWork[RepoT],
    find: Callable[[RepoT, Position | None, int], Sequence[T]],
    position: Callable[[T], Position],
    invalid: type[InvalidArgument],
) -> tuple[list[T], str]:
    """One page of a newest-first listing in one transaction; its token is bound to the company and to
    `listing` (the listing's name and filters), so it continues nothing else."""
    scope = (listing[0], query.company_id, *listing[1:])
    request = paging.page_request(query.page_size, query.page_token, scope=scope, invalid=invalid)
    with uow.read(company_id=query.company_id) as repo:
        found = find(repo, after(request, invalid=invalid), request.size)
    return page_of(found, request, position)


def after(request: paging.PageRequest, *, invalid: type[InvalidArgument]) -> Position | None:
    """The (time, id) position a page starts after, None for the first page."""
    return None if request.after is None else paging.time_and_id(request.after, invalid=invalid)


def newest_first(
    query: sa.Select[Any],
    *,
    time: sa.ColumnElement[Any],
    ident: sa.ColumnElement[Any],
    start: Position | None,
    size: int,
) -> sa.Select[Any]:
    """`query` ordered newest first from after `start`, one row more than `size` (it says whether more follow)."""
    if start is not None:
        at, item_id = start
        query = query.where(sa.or_(time < at, sa.and_(time == at, ident < item_id)))
    return query.order_by(time.desc(), ident.desc()).limit(size + 1)


def page_of(found: Sequence[T], request: paging.PageRequest, position: Callable[[T], Position]) -> tuple[list[T], str]:
    """The first `request.size` items and the token of the page after them ('' when none follow)."""
    items = list(found[: request.size])
    more = len(found) > request.size
    return items, request.next_token(position(items[-1]), more=more) if items else ""
