"""Listings walk every item once through opaque page tokens that only their own listing accepts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.kit.text_sources import TextSourceType
from services.safety import handlers, queries
from services.safety.domain.commands import ListFlags, ListReviews, ScreenText
from services.safety.domain.errors import InvalidSafetyRequest
from services.safety.domain.model import TextSource
from services.safety.repository import SqlSafetyUnitOfWork

ADHOC = TextSource("", TextSourceType.OTHER, "")
TOXIC = "you are such an idiot"


def _flag(uow: SqlSafetyUnitOfWork, n: int, company: str = "acme") -> str:
    return handlers.screen_text(ScreenText(company, f"{TOXIC} number {n}", ADHOC), uow=uow).flag_id


def _refused_field(call: Callable[[], object]) -> list[str]:
    with pytest.raises(InvalidSafetyRequest) as caught:
        call()
    return [v.field for v in caught.value.violations]


def test_flag_pages_walk_every_flag_once_newest_first(uow: SqlSafetyUnitOfWork) -> None:
    created = [_flag(uow, n) for n in range(5)]
    seen: list[str] = []
    token = ""
    for _ in range(5):
        page, token = queries.list_flags(ListFlags("acme", page_size=2, page_token=token), uow=uow)
        seen += [f.flag_id for f in page]
        if not token:
            break
    assert seen == list(reversed(created))


def test_review_pages_walk_the_queue_once_oldest_first(uow: SqlSafetyUnitOfWork) -> None:
    created = [_flag(uow, n) for n in range(3)]
    first, token = queries.list_reviews(ListReviews("acme", page_size=2), uow=uow)
    rest, last = queries.list_reviews(ListReviews("acme", page_size=2, page_token=token), uow=uow)
    assert [r.flag.flag_id for r in (*first, *rest)] == created
    assert last == ""


@pytest.mark.parametrize("token", ["x", "bm90IGpzb24", "W10", "eyJ0IjoxfQ", "eyJ0Ijoibm8iLCJpIjoiMSJ9"])
def test_foreign_tokens_are_malformed_requests(uow: SqlSafetyUnitOfWork, token: str) -> None:
    assert _refused_field(lambda: queries.list_flags(ListFlags("acme", page_token=token), uow=uow)) == ["page_token"]
    assert _refused_field(lambda: queries.list_reviews(ListReviews("acme", page_token=token), uow=uow)) == [
        "page_token"
    ]


def test_a_negative_page_size_is_a_malformed_request(uow: SqlSafetyUnitOfWork) -> None:
    assert _refused_field(lambda: queries.list_flags(ListFlags("acme", page_size=-1), uow=uow)) == ["page_size"]


def test_a_token_is_refused_by_another_tenant_other_filters_or_another_listing(uow: SqlSafetyUnitOfWork) -> None:
    for n in range(3):
        _flag(uow, n)
        _flag(uow, n, company="globex")
    _, token = queries.list_flags(ListFlags("acme", page_size=1), uow=uow)
    _, queue_token = queries.list_reviews(ListReviews("acme", page_size=1), uow=uow)
    assert token
    assert queue_token
    elsewhere = [
        lambda: queries.list_flags(ListFlags("globex", page_size=1, page_token=token), uow=uow),
        lambda: queries.list_flags(ListFlags("acme", source_text_id="s-1", page_size=1, page_token=token), uow=uow),
        lambda: queries.list_reviews(ListReviews("acme", page_size=1, page_token=token), uow=uow),
        lambda: queries.list_reviews(ListReviews("acme", status="pending", page_token=queue_token), uow=uow),
        lambda: queries.list_flags(ListFlags("acme", page_size=1, page_token=queue_token), uow=uow),
    ]
    for call in elsewhere:
        assert _refused_field(call) == ["page_token"]
