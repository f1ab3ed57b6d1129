"""ListSessions by profile: the id derived from (company, e-mail) finds the person's sessions in
either role, written by imports and webhooks alike, combined with the other filters, per company."""

from __future__ import annotations

import pytest

from services.kintell import handlers, queries
from services.kintell.domain.commands import ImportSessions, ListSessions, ReceiveWebhook, SessionFilter
from services.kintell.domain.errors import InvalidRequest
from services.kintell.domain.model import SessionType
from services.kintell.repository import KintellUnitOfWork
from services.kit.identity import profile_id_for_email
from tests.unit.kintell.samples import LANGUAGE_V1_0, MENTORSHIP_V1_0, booking_body, csv, language_row, session_body

ADA = profile_id_for_email("acme", "ada@example.org")


def _mentorship_row(session_id: str, participant: str, mentor: str) -> str:
    return f"{session_id},{participant},{mentor},2026-03-05T10:00:00Z,,,,,,"


def _seed(uow: KintellUnitOfWork, company: str = "acme") -> None:
    language = csv(
        LANGUAGE_V1_0,
        language_row("k-1", participant_email=" Ada@Example.org "),
        language_row("k-2", participant_email="bo@example.org", volunteer_email="ADA@example.org"),
        language_row("k-3", participant_email="bo@example.org", volunteer_email="vol@corp.com"),
    )
    mentorship = csv(MENTORSHIP_V1_0, _mentorship_row("k-4", "cy@example.org", "ada@example.org"))
    for data in (language, mentorship):
        assert handlers.import_sessions(ImportSessions(company, data), uow=uow).rows_stored >= 1


def _listed(uow: KintellUnitOfWork, query: ListSessions) -> set[str]:
    return {s.facts.external_session_id for s, _ in queries.list_sessions(query, uow=uow).sessions}


def test_profile_filter_finds_the_persons_sessions_in_either_role(uow: KintellUnitOfWork) -> None:
    _seed(uow)
    assert _listed(uow, ListSessions("acme", SessionFilter(profile_id=ADA))) == {"k-1", "k-2", "k-4"}
    bo = profile_id_for_email("acme", "bo@example.org")
    assert _listed(uow, ListSessions("acme", SessionFilter(profile_id=bo))) == {"k-2", "k-3"}
    assert (
        _listed(uow, ListSessions("acme", SessionFilter(profile_id=profile_id_for_email("acme", "nobody@example.org"))))
        == set()
    )


def test_profile_filter_combines_with_the_other_filters(uow: KintellUnitOfWork) -> None:
    _seed(uow)
    mentorship = ListSessions("acme", SessionFilter(profile_id=ADA, session_type=SessionType.MENTORSHIP))
    assert _listed(uow, mentorship) == {"k-4"}
    assert _listed(uow, ListSessions("acme", SessionFilter(profile_id=ADA, volunteer_email="ada@example.org"))) == {
        "k-2",
        "k-4",
    }
    assert _listed(uow, ListSessions("acme", SessionFilter(profile_id=ADA, participant_email="bo@example.org"))) == {
        "k-2"
    }
    mentored_bo = ListSessions(
        "acme",
        SessionFilter(profile_id=ADA, participant_email="bo@example.org", session_type=mentorship.filter.session_type),
    )
    assert _listed(uow, mentored_bo) == set()


def test_profile_filter_pages_through_every_match(uow: KintellUnitOfWork) -> None:
    _seed(uow)
    seen: list[str] = []
    token = ""
    while True:
        page = queries.list_sessions(
            ListSessions("acme", SessionFilter(profile_id=ADA), page_size=1, page_token=token), uow=uow
        )
        seen += [s.facts.external_session_id for s, _ in page.sessions]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == ["k-1", "k-2", "k-4"]


def test_the_profile_id_is_accepted_in_any_uuid_spelling(uow: KintellUnitOfWork) -> None:
    _seed(uow)
    assert _listed(uow, ListSessions("acme", SessionFilter(profile_id=ADA.upper()))) == {"k-1", "k-2", "k-4"}
    assert _listed(uow, ListSessions("acme", SessionFilter(profile_id=ADA.replace("-", "")))) == {"k-1", "k-2", "k-4"}


def test_webhook_sessions_carry_profile_ids_through_booking_and_completion(uow: KintellUnitOfWork) -> None:
    handlers.receive_booking_confirmed(ReceiveWebhook("acme", booking_body()), uow=uow)
    participant = profile_id_for_email("acme", "p@example.org")
    assert _listed(uow, ListSessions("acme", SessionFilter(profile_id=participant))) == {"k-42"}
    handlers.receive_session_completed(
        ReceiveWebhook("acme", session_body(volunteer={"email": "V2@corp.com"})), uow=uow
    )
    assert _listed(uow, ListSessions("acme", SessionFilter(profile_id=participant))) == {"k-42"}
    assert _listed(
        uow, ListSessions("acme", SessionFilter(profile_id=profile_id_for_email("acme", "v2@corp.com")))
    ) == {"k-42"}


def test_another_companys_same_email_never_matches(uow: KintellUnitOfWork) -> None:
    _seed(uow, "acme")
    _seed(uow, "globex")
    globex_ada = profile_id_for_email("globex", "ada@example.org")
    assert globex_ada != ADA
    assert _listed(uow, ListSessions("globex", SessionFilter(profile_id=ADA))) == set()
    assert _listed(uow, ListSessions("acme", SessionFilter(profile_id=globex_ada))) == set()
    assert _listed(uow, ListSessions("globex", SessionFilter(profile_id=globex_ada))) == {"k-1", "k-2", "k-4"}


@pytest.mark.parametrize("malformed", ["p-1", "not-a-uuid", ADA[:-1], ADA + "0", "' OR 1=1 --"])
def test_a_malformed_profile_id_is_an_invalid_argument_naming_the_field(uow: KintellUnitOfWork, malformed: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        queries.list_sessions(ListSessions("acme", SessionFilter(profile_id=malformed)), uow=uow)
    assert [v.field for v in caught.value.violations] == ["profile_id"]
