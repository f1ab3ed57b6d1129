"""The read side: listings page by profile id and refuse tokens that were not issued for them; a profile
reads whole in two statements, without locks."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.kit import paging
from services.profile import handlers, queries
from services.profile.domain.commands import CreateProfile, GetProfile, ListProfiles
from services.profile.domain.journey import MilestoneKind
from services.profile.domain.model import (
    InvalidProfile,
    PersonRole,
    ProfileNotFound,
)
from services.profile.repository import SqlProfileUnitOfWork
from tests.unit.profile.support import rich_profile


def _create(uow: SqlProfileUnitOfWork, email: str) -> str:
    command = CreateProfile("acme", email, "Given", "Family", PersonRole.PARTICIPANT)
    return handlers.create_profile(command, uow=uow).profile_id


def test_pages_follow_profile_ids_and_the_last_page_has_no_token(uow: SqlProfileUnitOfWork) -> None:
    created = sorted(_create(uow, f"p{i}@example.org") for i in range(3))
    first, token = queries.list_profiles(ListProfiles("acme", page_size=2), uow=uow)
    rest, last = queries.list_profiles(ListProfiles("acme", page_size=2, page_token=token), uow=uow)
    assert [p.profile_id for p in first + rest] == created
    assert token
    assert last == ""


@pytest.mark.parametrize(
    ("key", "scope"),
    [
        (["a", "b"], ("acme", "")),
        ([], ("acme", "")),
        (["00000000-0000-0000-0000-000000000000"], ("globex", "")),
        (["00000000-0000-0000-0000-000000000000"], ("acme", "p1@example.org")),
    ],
)
def test_a_token_not_issued_for_this_listing_is_invalid(
    uow: SqlProfileUnitOfWork, key: list[str], scope: tuple[str, str]
) -> None:
    token = paging.encode(key, scope=scope)
    with pytest.raises(InvalidProfile):
        queries.list_profiles(ListProfiles("acme", page_token=token), uow=uow)


def test_an_unknown_profile_is_not_found_and_a_malformed_id_is_invalid(uow: SqlProfileUnitOfWork) -> None:
    with pytest.raises(ProfileNotFound):
        queries.get_profile(GetProfile("acme", "7d7d6a5e-54c3-4a5b-9d7e-2a1f6c1b9e00"), uow=uow)
    with pytest.raises(InvalidProfile):
        queries.get_profile(GetProfile("acme", "../etc"), uow=uow)


def test_a_profile_reads_in_two_statements_with_no_row_lock_and_no_write_lock(
    uow: SqlProfileUnitOfWork, engine: sa.Engine
) -> None:
    stored = rich_profile(uow)
    statements: list[str] = []

    def record(_: object, __: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    got = queries.get_profile(GetProfile("acme", stored.profile_id), uow=uow)
    sa.event.remove(engine, "before_cursor_execute", record)
    assert got == stored
    assert [m.kind for m in got.journey.milestones] == [
        MilestoneKind.FIRST_LANGUAGE_SESSION,
        MilestoneKind.BUDDY_MATCHED,
    ]
    work = [s for s in statements if not s.startswith(("BEGIN", "PRAGMA", "COMMIT", "ROLLBACK"))]
    assert len(work) <= 2, work
    assert not any("FOR UPDATE" in s for s in statements)
    assert "BEGIN IMMEDIATE" not in statements
