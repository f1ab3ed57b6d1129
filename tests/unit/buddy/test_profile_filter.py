"""Buddy listings by profile: the id derived from (company, e-mail) finds every record where any of its
people is that person (a match's participant or buddy, an event's attendees, a check-in's person,
a feedback's author), written by imports and webhooks alike, combined with the other filters."""

from __future__ import annotations

from typing import Any

import pytest

from services.buddy import handlers, queries
from services.buddy.domain.commands import ImportRecords, ListRecords, ReceiveWebhook, RecordFilter
from services.buddy.domain.errors import InvalidBuddyRequest
from services.buddy.domain.model import EventType, MatchStatus, Record, Side
from services.buddy.repository import SqlBuddyUnitOfWork
from services.kit.identity import profile_id_for_email
from tests.unit.buddy.samples import csv_of, delivery

MATCHES = (
    {"match_id": "m-1", "participant_email": "Ada@Example.org", "buddy_email": "bob@example.org"},
    {
        "match_id": "m-2",
        "participant_email": "cy@example.org",
        "buddy_email": "bob@example.org",
        "status": "ended",
        "ended_at": "2026-02-01",
    },
    {"match_id": "m-3", "participant_email": "dan@example.org", "buddy_email": "eve@example.org"},
)
EVENTS = (
    {"event_id": "e-1", "match_id": "m-1", "attendee_emails": "ada@example.org,bob@example.org"},
    {"event_id": "e-2", "match_id": "", "event_type": "workshop", "attendee_emails": "cy@example.org,ADA@example.org"},
    {"event_id": "e-3", "match_id": "m-3", "attendee_emails": "dan@example.org,eve@example.org"},
)
CHECKINS = (
    {"checkin_id": "c-1", "match_id": "m-1", "person_email": "ada@example.org"},
    {"checkin_id": "c-2", "match_id": "m-1", "person_email": "bob@example.org"},
    {"checkin_id": "c-3", "match_id": "m-2", "person_email": "cy@example.org"},
)
FEEDBACK = (
    {"feedback_id": "f-1", "match_id": "m-1", "author_email": "bob@example.org"},
    {"feedback_id": "f-2", "match_id": "m-2", "author_email": "cy@example.org"},
    {"feedback_id": "f-3", "match_id": "m-1", "author_email": "ada@example.org"},
)
ALL = {"matches": MATCHES, "events": EVENTS, "checkins": CHECKINS, "feedback": FEEDBACK}


def _seed(uow: SqlBuddyUnitOfWork, company: str = "acme") -> None:
    for kind, rows in ALL.items():
        batch = handlers.import_records(ImportRecords(company, kind, csv_of(kind, *rows)), uow=uow)
        assert batch.rows_stored == len(rows), kind


def _ids(uow: SqlBuddyUnitOfWork, kind: str, company: str = "acme", **where: Any) -> set[str]:
    found: list[Record] = queries.list_records(ListRecords(company, kind, RecordFilter(**where)), uow=uow)[0]
    return {record.external_id for record in found}


def _person(email: str, company: str = "acme") -> str:
    return profile_id_for_email(company, email)


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("ada@example.org", {"matches": {"m-1"}, "events": {"e-1", "e-2"}, "checkins": {"c-1"}, "feedback": {"f-3"}}),
        ("bob@example.org", {"matches": {"m-1", "m-2"}, "events": {"e-1"}, "checkins": {"c-2"}, "feedback": {"f-1"}}),
        ("eve@example.org", {"matches": {"m-3"}, "events": {"e-3"}, "checkins": set(), "feedback": set()}),
        ("nobody@example.org", {"matches": set(), "events": set(), "checkins": set(), "feedback": set()}),
    ],
)
def test_profile_filter_finds_exactly_the_persons_records_of_every_kind(
    uow: SqlBuddyUnitOfWork, email: str, expected: dict[str, set[str]]
) -> None:
    _seed(uow)
    assert {kind: _ids(uow, kind, profile_id=_person(email)) for kind in ALL} == expected


def test_profile_filter_combines_with_the_other_filters(uow: SqlBuddyUnitOfWork) -> None:
    _seed(uow)
    bob, ada = _person("bob@example.org"), _person("ada@example.org")
    assert _ids(uow, "matches", profile_id=bob, status=MatchStatus.ENDED) == {"m-2"}
    assert _ids(uow, "matches", profile_id=bob, email="dan@example.org") == set()
    assert _ids(uow, "events", profile_id=ada, event_type=EventType.WORKSHOP) == {"e-2"}
    (m1,) = queries.list_records(ListRecords("acme", "matches", RecordFilter(email="ada@example.org")), uow=uow)[0]
    assert _ids(uow, "events", profile_id=ada, match_id=m1.record_id) == {"e-1"}
    assert _ids(uow, "checkins", profile_id=ada, match_id=m1.record_id) == {"c-1"}
    assert _ids(uow, "feedback", profile_id=bob, side=Side.BUDDY) == {"f-1"}
    assert _ids(uow, "feedback", profile_id=bob, side=Side.PARTICIPANT) == set()


def test_another_companys_same_email_never_matches(uow: SqlBuddyUnitOfWork) -> None:
    _seed(uow, "acme")
    _seed(uow, "globex")
    acme_ada, globex_ada = _person("ada@example.org"), _person("ada@example.org", "globex")
    assert acme_ada != globex_ada
    for kind in ALL:
        assert _ids(uow, kind, "globex", profile_id=acme_ada) == set()
        assert _ids(uow, kind, "acme", profile_id=globex_ada) == set()
        assert _ids(uow, kind, "globex", profile_id=globex_ada) == _ids(uow, kind, "acme", profile_id=acme_ada) != set()


def test_webhook_records_carry_profile_ids(uow: SqlBuddyUnitOfWork) -> None:
    for kind in ALL:
        body = delivery(kind, delivery_id=f"d-{kind}")
        assert not handlers.receive_webhook(ReceiveWebhook("acme", kind, body), uow=uow).duplicate
    ada = _person("ada@example.org")
    assert {kind: _ids(uow, kind, profile_id=ada) for kind in ALL} == {
        "matches": {"m-1"},
        "events": {"e-1"},
        "checkins": {"c-1"},
        "feedback": set(),  # the sample feedback is Bob's
    }
    assert _ids(uow, "feedback", profile_id=_person("bob@example.org")) == {"f-1"}


def test_an_updated_event_keeps_one_attendance_per_attendee(uow: SqlBuddyUnitOfWork) -> None:
    _seed(uow)
    changed = {**EVENTS[1], "description": "Moved to the town hall"}
    handlers.import_records(ImportRecords("acme", "events", csv_of("events", changed)), uow=uow)
    (event,) = queries.list_records(
        ListRecords("acme", "events", RecordFilter(profile_id=_person("cy@example.org"))), uow=uow
    )[0]
    assert event.external_id == "e-2"
    assert event.description == "Moved to the town hall"  # type: ignore[attr-defined]
    assert _ids(uow, "events", profile_id=_person("ada@example.org")) == {"e-1", "e-2"}


@pytest.mark.parametrize("kind", list(ALL))
@pytest.mark.parametrize("malformed", ["p", "not-a-uuid", "' OR 1=1 --", "6f1d8a52-3c1e-5b7a-9a43-2f0d6c1e8b9"])
def test_a_malformed_profile_id_is_an_invalid_argument_naming_the_field(
    uow: SqlBuddyUnitOfWork, kind: str, malformed: str
) -> None:
    with pytest.raises(InvalidBuddyRequest) as caught:
        queries.list_records(ListRecords("acme", kind, RecordFilter(profile_id=malformed)), uow=uow)
    assert [v.field for v in caught.value.violations] == ["profile_id"]


def test_the_profile_id_is_accepted_in_any_uuid_spelling(uow: SqlBuddyUnitOfWork) -> None:
    _seed(uow)
    bob = _person("bob@example.org")
    assert _ids(uow, "matches", profile_id=bob.upper()) == {"m-1", "m-2"}
    assert _ids(uow, "matches", profile_id="{" + bob + "}") == {"m-1", "m-2"}
