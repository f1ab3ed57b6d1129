"""Page sizes are capped and page tokens are opaque but round-trip."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.safety.domain.errors import InvalidSafetyRequest
from services.safety.domain.paging import Cursor, decode_token, encode_token, page_request


@pytest.mark.parametrize(("asked", "given"), [(0, 50), (1, 1), (100, 100), (101, 100), (10_000, 100)])
def test_page_size_defaults_and_caps_at_100(asked: int, given: int) -> None:
    assert page_request(asked, "").size == given


def test_tokens_round_trip_the_cursor() -> None:
    cursor = Cursor(datetime(2026, 12, 1, 9, 30, 0, 123456, tzinfo=UTC), "f-1")
    assert decode_token(encode_token(cursor)) == cursor
    assert page_request(10, encode_token(cursor)).after == cursor


@pytest.mark.parametrize("token", ["x", "bm90IGpzb24", "W10", "eyJ0IjoxfQ", "eyJ0Ijoibm8iLCJpIjoiMSJ9"])
def test_foreign_tokens_are_malformed_requests(token: str) -> None:
    with pytest.raises(InvalidSafetyRequest) as caught:
        page_request(10, token)
    assert [v.field for v in caught.value.violations] == ["page_token"]
