"""Dead-letter listings: page sizes, and page tokens that resume after the last sequence of their own listing."""

from __future__ import annotations

import pytest

from services.gateway.operations import wire
from services.kit import paging
from services.kit.errors import InvalidArgument
from teei.operations.v1 import operations_pb2


def _page(*, consumer: str = "", page_token: str = "", page_size: int = 0) -> wire.DeadLetterPage:
    request = operations_pb2.ListDeadLettersRequest(consumer=consumer, page_token=page_token, page_size=page_size)
    return wire.list_dead_letters(request)


def test_sizes_default_to_50_and_are_capped_at_500() -> None:
    assert (_page().size, _page(page_size=7).size, _page(page_size=10_000).size) == (50, 7, 500)
    assert _page().start == 1


def test_a_token_resumes_after_the_last_sequence_read() -> None:
    first = _page(consumer="alpha")
    token = first.next_token(next_sequence=42)
    assert _page(consumer="alpha", page_token=token).start == 42
    assert first.next_token(next_sequence=0) == "", "an exhausted stream has no next page"


@pytest.mark.parametrize(
    "token",
    [
        "nope",
        _page(consumer="alpha").next_token(next_sequence=9),  # a token of another listing
        paging.encode(["x"], scope=("dead-letters", "*", "*")),  # the right listing, but no sequence
    ],
    ids=["garbage", "other-filter", "forged-key"],
)
def test_tokens_of_other_listings_or_forged_are_refused(token: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        _page(page_token=token)
    assert [violation.field for violation in caught.value.violations] == ["page_token"]
