"""Reading sessions and batches: filters, keyset pagination with opaque tokens, tenant scope."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from services.kintell import handlers, queries
from services.kintell.domain.commands import (
    GetImport,
    GetSession,
    ImportSessions,
    ListImports,
    ListSessions,
    SessionFilter,
)
from services.kintell.domain.errors import ImportNotFound, InvalidRequest, SessionNotFound
from services.kintell.domain.model import SessionStatus, SessionType
from services.kintell.repository import KintellUnitOfWork
from tests.unit.kintell.samples import LANGUAGE_V1_0, MENTORSHIP_V1_0, csv, language_row


@pytest.fixture
def seeded(uow: KintellUnitOfWork) -> KintellUnitOfWork:
    """Five language sessions on consecutive days (k-3 scheduled only) and one mentorship session."""
    rows = [language_row(f"k-{d}", scheduled_at=f"2026-03-0{d}T10:00:00Z", completed_at="") for d in range(1, 6)]
    rows = [r if "k-3" in r else r.replace("Z,,", "Z,2026-03-09,") for r in rows]
    handlers.import_sessions(ImportSessions("acme", csv(LANGUAGE_V1_0, *rows)), uow=uow)
    mentorship = "m-1,Other@x.org,m@corp.com,2026-03-03T12:00:00Z,,30,,,CV,"
    handlers.import_sessions(ImportSessions("acme", csv(MENTORSHIP_V1_0, mentorship)), uow=uow)
    return uow


def _ids(uow: KintellUnitOfWork, **filters: object) -> list[str]:
    page = queries.list_sessions(ListSessions("acme", SessionFilter(**filters)), uow=uow)  # type: ignore[arg-type]
    return [s.facts.external_session_id for s, _ in page.sessions]


def test_sessions_are_listed_newest_schedule_first(seeded: KintellUnitOfWork) -> None:
    assert _ids(seeded) == ["k-5", "k-4", "m-1", "k-3", "k-2", "k-1"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"session_type": SessionType.MENTORSHIP}, ["m-1"]),
        ({"status": SessionStatus.SCHEDULED}, ["m-1", "k-3"]),
        ({"status": SessionStatus.COMPLETED, "session_type": SessionType.LANGUAGE}, ["k-5", "k-4", "k-2", "k-1"]),
        ({"participant_email": " OTHER@x.org "}, ["m-1"]),
        ({"volunteer_email": "vol@corp.com", "start_at": datetime(2026, 3, 4, tzinfo=UTC)}, ["k-5", "k-4"]),
        ({"end_at": datetime(2026, 3, 2, 10, tzinfo=UTC)}, ["k-1"]),
    ],
)
def test_filters_combine_with_and(seeded: KintellUnitOfWork, filters: dict[str, object], expected: list[str]) -> None:
    assert _ids(seeded, **filters) == expected


def test_pages_follow_each_other_without_gaps_or_repeats(seeded: KintellUnitOfWork) -> None:
    seen, token = [], ""
    while True:
        page = queries.list_sessions(ListSessions("acme", page_size=4, page_token=token), uow=seeded)
        seen += [s.facts.external_session_id for s, _ in page.sessions]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["k-5", "k-4", "m-1", "k-3", "k-2", "k-1"]


def test_page_size_is_capped_at_100_and_negative_is_refused(uow: KintellUnitOfWork) -> None:
    rows = [language_row(f"k-{i}") for i in range(130)]
    handlers.import_sessions(ImportSessions("acme", csv(LANGUAGE_V1_0, *rows)), uow=uow)
    page = queries.list_sessions(ListSessions("acme", page_size=1000), uow=uow)
    assert (len(page.sessions), bool(page.next_page_token)) == (100, True)
    with pytest.raises(InvalidRequest):
        queries.list_sessions(ListSessions("acme", page_size=-1), uow=uow)


def test_a_token_is_refused_for_other_filters_other_tenants_and_when_forged(seeded: KintellUnitOfWork) -> None:
    token = queries.list_sessions(ListSessions("acme", page_size=2), uow=seeded).next_page_token
    forged = base64.urlsafe_b64encode(json.dumps({"p": ["not a time", "x"], "q": "?"}).encode()).decode()
    for query in (
        ListSessions("acme", SessionFilter(session_type=SessionType.LANGUAGE), page_size=2, page_token=token),
        ListSessions("globex", page_size=2, page_token=token),
        ListSessions("acme", page_token="%%%"),
        ListSessions("acme", page_token=forged),
    ):
        with pytest.raises(InvalidRequest) as caught:
            queries.list_sessions(query, uow=seeded)
        assert caught.value.violations[0].field == "page_token"


def test_malformed_profile_id_and_inverted_time_range_are_refused(seeded: KintellUnitOfWork) -> None:
    with pytest.raises(InvalidRequest, match="profile_id is not a valid id"):
        queries.list_sessions(ListSessions("acme", SessionFilter(profile_id="p-1")), uow=seeded)
    start = datetime(2026, 3, 4, tzinfo=UTC)
    with pytest.raises(InvalidRequest, match="end_time"):
        queries.list_sessions(ListSessions("acme", SessionFilter(start_at=start, end_at=start)), uow=seeded)


def test_sessions_and_batches_of_another_company_are_not_found(seeded: KintellUnitOfWork) -> None:
    [(session, _)] = queries.list_sessions(ListSessions("acme", page_size=1), uow=seeded).sessions
    assert queries.get_session(GetSession("acme", session.session_id), uow=seeded)[0] == session
    with pytest.raises(SessionNotFound):
        queries.get_session(GetSession("globex", session.session_id), uow=seeded)
    assert queries.list_sessions(ListSessions("globex"), uow=seeded).sessions == []
    batch = queries.list_imports(ListImports("acme"), uow=seeded).batches[0]
    with pytest.raises(ImportNotFound):
        queries.get_import(GetImport("globex", batch.batch_id), uow=seeded)
    assert queries.list_imports(ListImports("globex"), uow=seeded).batches == []


def test_imports_are_listed_newest_first_in_pages(seeded: KintellUnitOfWork) -> None:
    first = queries.list_imports(ListImports("acme", page_size=1), uow=seeded)
    second = queries.list_imports(ListImports("acme", page_size=1, page_token=first.next_page_token), uow=seeded)
    assert [b.schema for b in first.batches + second.batches] == ["mentorship_session", "language_session"]
    assert second.next_page_token == ""


@pytest.mark.parametrize("bad_id", ["", "k-1", "../x"])
def test_malformed_ids_are_invalid_not_missing(seeded: KintellUnitOfWork, bad_id: str) -> None:
    with pytest.raises(InvalidRequest):
        queries.get_session(GetSession("acme", bad_id), uow=seeded)
    with pytest.raises(InvalidRequest):
        queries.get_import(GetImport("acme", bad_id), uow=seeded)
