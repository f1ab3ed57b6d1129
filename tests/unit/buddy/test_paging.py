"""Pagination: size capped at 100, opaque tokens that walk every record once, forged tokens refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from services.buddy import handlers
from services.buddy.domain import paging
from services.buddy.domain.commands import ImportRecords, ListImports, ListRecords, RecordFilter
from services.buddy.domain.errors import InvalidBuddyRequest
from services.buddy.repository import SqlBuddyUnitOfWork
from tests.unit.buddy.samples import csv_of


def test_page_size_defaults_and_is_capped() -> None:
    assert paging.page(0, "").size == paging.DEFAULT_PAGE_SIZE
    assert paging.page(1000, "").size == 100
    with pytest.raises(InvalidBuddyRequest):
        paging.page(-1, "")


@pytest.mark.parametrize(
    "token",
    ["!!", "abc", base64.urlsafe_b64encode(b'{"t":"2026-01-01T00:00:00","id":"x"}').decode(), "e30"],
)
def test_forged_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidBuddyRequest) as caught:
        paging.page(10, token)
    assert [v.field for v in caught.value.violations] == ["page_token"]


def test_pages_walk_all_records_newest_first(uow: SqlBuddyUnitOfWork) -> None:
    rows = [{"match_id": f"m-{i}", "matched_at": f"2026-01-{1 + i % 3:02d}"} for i in range(7)]
    handlers.import_records(ImportRecords("acme", "matches", csv_of("matches", *rows)), uow=uow)
    seen, token = [], ""
    while True:
        page, token = handlers.list_records(
            ListRecords("acme", "matches", RecordFilter(), page_size=3, page_token=token), uow=uow
        )
        assert len(page) <= 3
        seen.extend(page)
        if not token:
            break
    assert sorted(r.external_id for r in seen) == sorted(r["match_id"] for r in rows)
    times = [r.occurred_at for r in seen]
    assert times == sorted(times, reverse=True)


def test_imports_are_listed_newest_first_in_pages(uow: SqlBuddyUnitOfWork) -> None:
    batches = [handlers.import_records(ImportRecords("acme", "matches", csv_of("matches")), uow=uow) for _ in range(3)]
    first, token = handlers.list_imports(ListImports("acme", page_size=2), uow=uow)
    rest, last = handlers.list_imports(ListImports("acme", page_size=2, page_token=token), uow=uow)
    assert [b.batch_id for b in first + rest] == [b.batch_id for b in reversed(batches)]
    assert last == ""
    assert handlers.list_imports(ListImports("globex"), uow=uow) == ([], "")


def test_an_empty_time_window_is_refused(uow: SqlBuddyUnitOfWork) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    window = RecordFilter(since=at, before=at)
    with pytest.raises(InvalidBuddyRequest) as caught:
        handlers.list_records(ListRecords("acme", "events", window), uow=uow)
    assert [v.field for v in caught.value.violations] == ["end_time"]
