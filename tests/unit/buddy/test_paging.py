"""Pagination: size capped at 100, opaque tokens that walk every record once, forged or foreign tokens refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from services.buddy import handlers, queries
from services.buddy.domain.commands import ImportRecords, ListImports, ListRecords, RecordFilter
from services.buddy.domain.errors import InvalidBuddyRequest
from services.buddy.repository import SqlBuddyUnitOfWork
from services.kit import paging
from tests.unit.buddy.samples import csv_of


def _list(uow: SqlBuddyUnitOfWork, size: int = 0, token: str = "", company: str = "acme") -> tuple[int, str]:
    found, next_token = queries.list_records(ListRecords(company, "matches", RecordFilter(), size, token), uow=uow)
    return len(found), next_token


def test_page_size_defaults_and_is_capped(uow: SqlBuddyUnitOfWork) -> None:
    rows = [{"match_id": f"m-{i}"} for i in range(101)]
    handlers.import_records(ImportRecords("acme", "matches", csv_of("matches", *rows)), uow=uow)
    assert _list(uow)[0] == paging.DEFAULT_PAGE_SIZE
    assert _list(uow, size=1000)[0] == 100
    with pytest.raises(InvalidBuddyRequest) as caught:
        _list(uow, size=-1)
    assert [v.field for v in caught.value.violations] == ["page_size"]


@pytest.mark.parametrize(
    "token",
    ["!!", "abc", base64.urlsafe_b64encode(b'{"t":"2026-01-01T00:00:00","id":"x"}').decode(), "e30"],
)
def test_forged_tokens_are_refused(uow: SqlBuddyUnitOfWork, token: str) -> None:
    with pytest.raises(InvalidBuddyRequest) as caught:
        _list(uow, size=10, token=token)
    assert [v.field for v in caught.value.violations] == ["page_token"]


def test_a_token_of_another_listing_is_refused(uow: SqlBuddyUnitOfWork) -> None:
    rows = [{"match_id": f"m-{i}"} for i in range(3)]
    handlers.import_records(ImportRecords("acme", "matches", csv_of("matches", *rows)), uow=uow)
    _, token = _list(uow, size=1)
    for query in (
        ListRecords("globex", "matches", RecordFilter(), 1, token),
        ListRecords("acme", "matches", RecordFilter(email="ada@example.org"), 1, token),
        ListRecords("acme", "events", RecordFilter(), 1, token),
    ):
        with pytest.raises(InvalidBuddyRequest) as caught:
            queries.list_records(query, uow=uow)
        assert [v.field for v in caught.value.violations] == ["page_token"]


def test_pages_walk_all_records_newest_first(uow: SqlBuddyUnitOfWork) -> None:
    rows = [{"match_id": f"m-{i}", "matched_at": f"2026-01-{1 + i % 3:02d}"} for i in range(7)]
    handlers.import_records(ImportRecords("acme", "matches", csv_of("matches", *rows)), uow=uow)
    seen, token = [], ""
    while True:
        page, token = queries.list_records(
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
    first, token = queries.list_imports(ListImports("acme", page_size=2), uow=uow)
    rest, last = queries.list_imports(ListImports("acme", page_size=2, page_token=token), uow=uow)
    assert [b.batch_id for b in first + rest] == [b.batch_id for b in reversed(batches)]
    assert last == ""
    assert queries.list_imports(ListImports("globex"), uow=uow) == ([], "")


def test_an_empty_time_window_is_refused(uow: SqlBuddyUnitOfWork) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    window = RecordFilter(since=at, before=at)
    with pytest.raises(InvalidBuddyRequest) as caught:
        queries.list_records(ListRecords("acme", "events", window), uow=uow)
    assert [v.field for v in caught.value.violations] == ["end_time"]
