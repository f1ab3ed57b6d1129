"""Keyset page tokens: sizes, round trips and refusal of foreign or forged tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.kit import paging
from services.kit.errors import InvalidArgument


class InvalidThing(InvalidArgument):
    reason = "INVALID_THING"


def test_sizes_default_cap_and_refuse_negative() -> None:
    assert paging.page_request(0, "", scope=["t"]).size == paging.DEFAULT_PAGE_SIZE
    assert paging.page_request(1000, "", scope=["t"]).size == paging.MAX_PAGE_SIZE
    assert paging.page_request(7, "", scope=["t"]).size == 7
    with pytest.raises(InvalidThing) as raised:
        paging.page_request(-1, "", scope=["t"], invalid=InvalidThing)
    assert raised.value.violations[0].field == "page_size"


def test_a_token_resumes_after_the_last_key_of_its_own_listing() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    first = paging.page_request(2, "", scope=["acme", "filter"])
    token = first.next_token([at, "id-9"], more=True)
    second = paging.page_request(2, token, scope=["acme", "filter"])
    assert second.after is not None
    assert paging.time_and_id(second.after) == (at.astimezone(UTC), "id-9")
    assert first.next_token([at, "id-9"], more=False) == ""


@pytest.mark.parametrize("scope", [["globex", "filter"], ["acme", "other"], ["acme"]])
def test_a_token_of_another_tenant_or_filter_is_refused(scope: list[str]) -> None:
    token = paging.encode(["x"], scope=["acme", "filter"])
    with pytest.raises(InvalidThing) as raised:
        paging.page_request(10, token, scope=scope, invalid=InvalidThing)
    assert raised.value.violations[0].field == "page_token"


@pytest.mark.parametrize("token", ["%%%", "bm90IGpzb24", "e30", "x" * 600, paging.encode([], scope=["a"])[:-3] + "AAA"])
def test_forged_or_oversized_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidArgument):
        paging.decode(token, scope=["a"])


def test_a_key_that_is_not_a_time_and_id_is_refused() -> None:
    with pytest.raises(InvalidThing):
        paging.time_and_id(("not a time", "id"), invalid=InvalidThing)
    with pytest.raises(InvalidThing):
        paging.time_and_id(("only one",), invalid=InvalidThing)
