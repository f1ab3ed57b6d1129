"""CSV imports of every Buddy kind: valid rows stored with their event, bad rows quarantined, files refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.buddy import handlers, queries
from services.buddy.domain.commands import (
    GetImportErrors,
    ImportRecords,
    ListImports,
    ListRecords,
    RecordFilter,
)
from services.buddy.domain.errors import UnknownKind
from services.buddy.domain.model import CheckIn, Feedback, Match, Mood, Side
from services.buddy.handlers import Limits
from services.buddy.repository import SqlBuddyUnitOfWork
from services.kit.connectors import imports
from services.kit.connectors.csvimport import CsvRejected
from services.kit.messaging import events
from services.kit.persistence import db
from teei.buddy.v1 import buddy_pb2, events_pb2
from teei.common.v1 import types_pb2
from tests.unit.buddy.samples import csv_of


def _import(uow: SqlBuddyUnitOfWork, kind: str, data: bytes, company: str = "acme") -> imports.Batch:
    return handlers.import_records(ImportRecords(company, kind, data), uow=uow)


def _all(uow: SqlBuddyUnitOfWork, kind: str, company: str = "acme") -> list[object]:
    found, _ = queries.list_records(ListRecords(company, kind, RecordFilter()), uow=uow)
    return list(found)


def _pending(engine: sa.Engine) -> list[events.Envelope]:
    with db.UnitOfWork(engine).begin() as session:
        return events.pending(session)


def _errors(uow: SqlBuddyUnitOfWork, batch: imports.Batch) -> list[tuple[int, str, str]]:
    errors = queries.get_import_errors(GetImportErrors("acme", batch.batch_id), uow=uow)
    return [(e.row, e.field, e.message) for e in errors]


def _seed_match(uow: SqlBuddyUnitOfWork, company: str = "acme") -> Match:
    _import(uow, "matches", csv_of("matches"), company)
    (match,) = _all(uow, "matches", company)
    assert isinstance(match, Match)
    return match


def test_a_match_row_is_stored_normalised_and_announced(uow: SqlBuddyUnitOfWork, engine: sa.Engine) -> None:
    batch = _import(uow, "matches", csv_of("matches"))
    assert (batch.schema, batch.schema_version, batch.status) == ("buddy_matches", "1.0", imports.COMPLETED)
    assert (batch.rows_total, batch.rows_stored, batch.rows_quarantined) == (1, 1, 0)
    (match,) = _all(uow, "matches")
    assert isinstance(match, Match)
    assert match.participant.email == "ada@example.org"
    assert match.languages == ("en", "ar")
    assert match.matched_at.isoformat() == "2026-01-05T08:00:00+00:00"
    assert match.provenance.batch_id == batch.batch_id
    (envelope,) = _pending(engine)
    assert (envelope.type, envelope.tenant, envelope.subject) == ("buddy.match.created", "acme", match.record_id)
    assert envelope.correlation_id == batch.batch_id
    payload = events.payload_of(envelope)
    assert isinstance(payload, events_pb2.MatchCreated)
    assert payload.participant.email == "ada@example.org"
    assert payload.participant.external_id == "bp-1"
    assert payload.buddy.given_name == "Bob"
    assert list(payload.criteria.interests) == ["chess", "cooking"]
    assert payload.status == buddy_pb2.MATCH_STATUS_ACTIVE
    assert payload.provenance.channel == types_pb2.INGEST_CHANNEL_CSV_IMPORT


def test_an_event_row_names_its_match_and_attendees(uow: SqlBuddyUnitOfWork, engine: sa.Engine) -> None:
    match = _seed_match(uow)
    _import(uow, "events", csv_of("events"))
    payload = events.payload_of(_pending(engine)[-1])
    assert isinstance(payload, events_pb2.EventLogged)
    assert payload.match_id == match.record_id
    assert [(p.email, p.external_id) for p in payload.attendees] == [
        ("ada@example.org", "bp-1"),
        ("bob@example.org", "bb-1"),
    ]
    assert payload.event_type == buddy_pb2.EVENT_TYPE_HANGOUT


def test_a_group_event_needs_no_match(uow: SqlBuddyUnitOfWork, engine: sa.Engine) -> None:
    batch = _import(uow, "events", csv_of("events", {"match_id": "", "attendee_emails": "x@example.org"}))
    assert batch.rows_stored == 1
    payload = events.payload_of(_pending(engine)[-1])
    assert payload.match_id == ""
    assert [p.email for p in payload.attendees] == ["x@example.org"]


def test_a_checkin_row_carries_the_pair_notes_and_answers(uow: SqlBuddyUnitOfWork, engine: sa.Engine) -> None:
    match = _seed_match(uow)
    _import(uow, "checkins", csv_of("checkins"))
    (checkin,) = _all(uow, "checkins")
    assert isinstance(checkin, CheckIn)
    assert (checkin.side, checkin.mood) == (Side.PARTICIPANT, Mood.GOOD)
    payload = events.payload_of(_pending(engine)[-1])
    assert isinstance(payload, events_pb2.CheckInCompleted)
    assert (payload.match_id, payload.participant.email, payload.buddy.email) == (
        match.record_id,
        "ada@example.org",
        "bob@example.org",
    )
    assert payload.person_role == types_pb2.PERSON_ROLE_PARTICIPANT
    assert payload.notes == "We practised ordering food."
    assert [(r.question, r.answer) for r in payload.question_responses] == [("How often did you meet?", "twice")]
    assert payload.mood == buddy_pb2.MOOD_GOOD


def test_a_feedback_row_carries_text_and_only_the_given_scores(uow: SqlBuddyUnitOfWork, engine: sa.Engine) -> None:
    _seed_match(uow)
    _import(uow, "feedback", csv_of("feedback"))
    (feedback,) = _all(uow, "feedback")
    assert isinstance(feedback, Feedback)
    assert (feedback.side, feedback.rating, feedback.engagement) == (Side.BUDDY, 0.9, None)
    payload = events.payload_of(_pending(engine)[-1])
    assert isinstance(payload, events_pb2.FeedbackSubmitted)
    assert payload.author_role == types_pb2.PERSON_ROLE_VOLUNTEER
    assert payload.text == "Ada is making great progress."
    assert (payload.rating, payload.communication, payload.helpfulness) == (0.9, 1.0, 0.75)
    assert not payload.HasField("engagement")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (csv_of("feedback").split(b"\r\n")[0] + b"\r\n", "no rows"),
        (b"match_id,participant,buddy\nm,a@x.org,b@x.org\n", "unknown header"),
        (csv_of("feedback").replace(b",", b";"), "delimiter"),
        (csv_of("feedback", {"feedback_text": "caf\xe9"}).replace("é".encode(), b"\xe9"), "not UTF-8"),
    ],
)
def test_malformed_files_are_refused_and_store_nothing(
    uow: SqlBuddyUnitOfWork, engine: sa.Engine, data: bytes, message: str
) -> None:
    with pytest.raises(CsvRejected, match=message):
        _import(uow, "feedback", data)
    assert _pending(engine) == []
    assert queries.list_imports(ListImports("acme"), uow=uow) == ([], "")


def test_an_oversized_file_is_refused(uow: SqlBuddyUnitOfWork) -> None:
    data = csv_of("matches")
    with pytest.raises(CsvRejected, match="larger"):
        handlers.import_records(ImportRecords("acme", "matches", data), uow=uow, limits=Limits(csv_bytes=len(data) - 1))


def test_an_unknown_kind_is_invalid_naming_the_kind(uow: SqlBuddyUnitOfWork) -> None:
    with pytest.raises(UnknownKind) as caught:
        _import(uow, "sessions", csv_of("matches"))
    assert [v.field for v in caught.value.violations] == ["kind"]


@pytest.mark.parametrize(
    ("kind", "row", "field", "message"),
    [
        ("matches", {"participant_email": "ada(at)example.org"}, "participant_email", "e-mail"),
        ("matches", {"match_id": "x" * 256}, "match_id", "1-255"),
        ("matches", {"location": "x" * 256}, "location", "1-255"),
        ("matches", {"status": "paused"}, "status", "must be one of"),
        ("matches", {"buddy_email": "ada@example.org"}, "buddy_email", "must differ"),
        ("matches", {"ended_at": "2026-02-01"}, "ended_at", "only allowed when status is ended"),
        ("matches", {"status": "ended", "ended_at": "2025-12-01"}, "ended_at", "before matched_at"),
        ("matches", {"matched_at": "next tuesday"}, "matched_at", "ISO"),
        ("events", {"event_type": "party"}, "event_type", "must be one of"),
        ("events", {"attendee_emails": "ada@example.org,nobody"}, "attendee_emails", "item 2"),
        ("events", {"description": "x" * 5001}, "description", "1-5000"),
        ("checkins", {"mood": "meh"}, "mood", "must be one of"),
        ("checkins", {"question_responses": "[1,2]"}, "question_responses", "JSON object"),
        ("checkins", {"question_responses": '{"q": 1}'}, "question_responses", "must be a string"),
        ("checkins", {"person_email": "eve@example.org"}, "person_email", "neither the participant nor the buddy"),
        ("checkins", {"match_id": "m-404"}, "match_id", "no match with this id"),
        ("feedback", {"rating": "1.5"}, "rating", "between 0 and 1"),
        ("feedback", {"rating": "-0.1"}, "rating", "between 0 and 1"),
        ("feedback", {"helpfulness": "2"}, "helpfulness", "between 0 and 1"),
        ("feedback", {"engagement": "nan"}, "engagement", "between 0 and 1"),
        ("feedback", {"communication": "high"}, "communication", "must be a number"),
        ("feedback", {"feedback_text": "x" * 5001}, "feedback_text", "1-5000"),
        ("feedback", {"feedback_text": "fine\x00"}, "feedback_text", "control characters (U+0000"),
        ("checkins", {"notes": "\x1b[31mred"}, "notes", "control characters (U+001B"),
        ("checkins", {"question_responses": '{"q": "a\\u0000"}'}, "question_responses", "q must not contain"),
        ("matches", {"participant_given_name": "A\tda"}, "participant_given_name", "control characters (U+0009"),
        ("matches", {"match_id": "m\x7f"}, "match_id", "control characters (U+007F"),
        (
            "feedback",
            {"rating": "", "feedback_text": "", "communication": "", "helpfulness": ""},
            "rating",
            "is required",
        ),
    ],
)
def test_bad_rows_are_quarantined_with_their_errors(
    uow: SqlBuddyUnitOfWork, kind: str, row: dict[str, str], field: str, message: str
) -> None:
    if kind != "matches":
        _seed_match(uow)
    good = {ROW_KEYS[kind]: "ok-2"}
    batch = _import(uow, kind, csv_of(kind, row, good))
    assert (batch.status, batch.rows_total, batch.rows_stored, batch.rows_quarantined) == (
        imports.COMPLETED_WITH_ERRORS,
        2,
        1,
        1,
    )
    ((number, bad_field, text),) = _errors(uow, batch)
    assert (number, bad_field) == (2, field)
    assert message in text


ROW_KEYS = {"matches": "match_id", "events": "event_id", "checkins": "checkin_id", "feedback": "feedback_id"}
