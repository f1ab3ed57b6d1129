"""Newest-first keyset listings of connector records: the SQL page after a (time, id) position, and
the page a query answers with its next token."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from services.kit import paging
from services.kit.errors import InvalidArgument

T = TypeVar("T")
Position = tuple[datetime, str]


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
