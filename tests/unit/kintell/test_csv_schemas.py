"""Kintell CSV exports: every schema version read from its header, field rules, file-level faults."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.kintell.domain import csv_schemas
from services.kintell.domain.model import SessionFacts, SessionType
from services.kit.connectors.csvimport import CsvRejected
from services.kit.connectors.model import Person
from tests.unit.kintell.samples import LANGUAGE_V1_0, LANGUAGE_V1_1, LEGACY, MENTORSHIP_V1_0, csv, language_row


def _only_facts(data: bytes) -> SessionFacts:
    parsed = csv_schemas.parse(data)
    assert not parsed.invalid, parsed.invalid
    [row] = parsed.valid
    return row.record.facts()


def test_language_v1_0_row_becomes_language_session_facts() -> None:
    parsed = csv_schemas.parse(csv(LANGUAGE_V1_0, language_row()))
    assert (parsed.schema.name, parsed.schema.version) == ("language_session", "1.0")
    facts = parsed.valid[0].record.facts()
    assert facts.session_type is SessionType.LANGUAGE
    assert facts.participant == Person("ada@example.org")
    assert facts.volunteer == Person("vol@corp.com")
    assert facts.scheduled_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert facts.completed_at == datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert (facts.duration_minutes, facts.rating, facts.language_level) == (60, 0.75, "B1")
    assert facts.topics == ("travel", "food")
    assert facts.metadata is None


def test_language_v1_1_keeps_the_metadata_object() -> None:
    row = language_row() + ',"{""room"": ""blue"", ""n"": 2}"'
    parsed = csv_schemas.parse(csv(LANGUAGE_V1_1, row))
    assert parsed.schema.version == "1.1"
    assert parsed.valid[0].record.facts().metadata == {"room": "blue", "n": 2}


def test_mentorship_v1_0_maps_mentor_focus_and_goals() -> None:
    row = 'm-1,p@x.org,Mentor@Corp.com,2026-03-01,,30,,,CV review,"interview, networking"'
    facts = _only_facts(csv(MENTORSHIP_V1_0, row))
    assert facts.session_type is SessionType.MENTORSHIP
    assert facts.volunteer.email == "mentor@corp.com"
    assert facts.scheduled_at == datetime(2026, 3, 1, tzinfo=UTC)
    assert facts.completed_at is None
    assert (facts.focus_area, facts.goals_discussed) == ("CV review", ("interview", "networking"))


@pytest.mark.parametrize(
    ("session_type", "rating", "expected_type", "expected_rating"),
    [
        ("Language exchange", "1", SessionType.LANGUAGE, 0.0),
        ("LANGUAGE", "3", SessionType.LANGUAGE, 0.5),
        ("career mentoring", "5", SessionType.MENTORSHIP, 1.0),
        ("Mentorship", "4.5", SessionType.MENTORSHIP, 0.875),
        ("mentor", "", SessionType.MENTORSHIP, None),
    ],
)
def test_legacy_export_converts_type_and_five_star_rating(
    session_type: str, rating: str, expected_type: SessionType, expected_rating: float | None
) -> None:
    row = f"old-1,{session_type},p@x.org,v@corp.com,2025-06-01,45,{rating},fine,a2"
    facts = _only_facts(csv(LEGACY, row))
    assert (facts.session_type, facts.rating) == (expected_type, expected_rating)
    assert facts.scheduled_at == facts.completed_at == datetime(2025, 6, 1, tzinfo=UTC)
    assert (facts.duration_minutes, facts.language_level) == (45, "A2")


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ("old-1,buddy hangout,p@x.org,v@corp.com,2025-06-01,45,3,,", "session_type", "language"),
        ("old-1,language,p@x.org,v@corp.com,2025-06-01,45,0.5,,", "rating", "between 1 and 5"),
        ("old-1,language,p@x.org,v@corp.com,2025-06-01,45,6,,", "rating", "between 1 and 5"),
        ("old-1,language,p@x.org,v@corp.com,2025-06-01,481,3,,", "duration_min", "between 1 and 480"),
    ],
)
def test_legacy_field_rules(row: str, field: str, message: str) -> None:
    [invalid] = csv_schemas.parse(csv(LEGACY, row)).invalid
    assert [(e.field, message in e.message) for e in invalid.errors] == [(field, True)]


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"session_id": "x" * 256}, "session_id", "1-255 characters"),
        ({"participant_email": "not-an-email"}, "participant_email", "e-mail"),
        ({"volunteer_email": "a" * 250 + "@corp.com"}, "volunteer_email", "e-mail"),
        ({"scheduled_at": "01/03/2026"}, "scheduled_at", "ISO"),
        ({"scheduled_at": ""}, "scheduled_at", "required"),
        ({"completed_at": "2026-02-28T10:00:00Z"}, "completed_at", "before scheduled_at"),
        ({"duration_minutes": "0"}, "duration_minutes", "between 1 and 480"),
        ({"duration_minutes": "481"}, "duration_minutes", "between 1 and 480"),
        ({"duration_minutes": "1.5"}, "duration_minutes", "whole number"),
        ({"rating": "1.01"}, "rating", "between 0 and 1"),
        ({"rating": "-0.1"}, "rating", "between 0 and 1"),
        ({"rating": "nan"}, "rating", "between 0 and 1"),
        ({"feedback_text": "x" * 5001}, "feedback_text", "1-5000 characters"),
        ({"language_level": "D1"}, "language_level", "A1, A2"),
        ({"topics": '"' + "t," * 501 + '"'}, "topics", "at most 1000"),
    ],
)
def test_a_bad_field_quarantines_its_row_with_a_clear_error(values: dict[str, str], field: str, message: str) -> None:
    parsed = csv_schemas.parse(csv(LANGUAGE_V1_0, language_row("ok"), language_row(**{"session_id": "bad", **values})))
    assert [r.record.facts().external_session_id for r in parsed.valid] == ["ok"]
    [invalid] = parsed.invalid
    assert invalid.number == 3
    assert [e.field for e in invalid.errors] == [field]
    assert message in invalid.errors[0].message


def test_limits_hold_exactly_at_the_boundary() -> None:
    row = language_row("x" * 255, feedback_text="f" * 5000, duration_minutes="480", rating="1", topics="t" * 1000)
    assert _only_facts(csv(LANGUAGE_V1_0, row)).duration_minutes == 480


def test_a_same_day_date_only_completion_is_not_early() -> None:
    facts = _only_facts(
        csv(LANGUAGE_V1_0, language_row(scheduled_at="2026-03-01T15:00:00Z", completed_at="2026-03-01"))
    )
    assert facts.completed_at == datetime(2026, 3, 1, tzinfo=UTC)


def test_mentorship_limits() -> None:
    rows = ('m-1,p@x.org,m@corp.com,2026-03-01,,30,,,"' + "f" * 256 + '",', "m-2,p@x.org,nobody,2026-03-01,,,,,,")
    parsed = csv_schemas.parse(csv(MENTORSHIP_V1_0, *rows))
    assert [[e.field for e in r.errors] for r in parsed.invalid] == [["focus_area"], ["mentor_email"]]


def test_metadata_must_be_a_small_json_object() -> None:
    rows = (
        language_row("a") + ",[1]",
        language_row("b") + ",{nope",
        language_row("c") + ',"{""k"": ""' + "v" * 2000 + '""}"',
    )
    parsed = csv_schemas.parse(csv(LANGUAGE_V1_1, *rows))
    assert [e.message for r in parsed.invalid for e in r.errors] == [
        "must be a JSON object",
        "is not valid JSON",
        "must be at most 2000 characters",
    ]


def test_duplicate_session_ids_in_one_file_quarantine_the_later_rows() -> None:
    parsed = csv_schemas.parse(csv(LANGUAGE_V1_0, language_row("k-1"), language_row("k-2"), language_row("k-1")))
    assert [r.record.facts().external_session_id for r in parsed.valid] == ["k-1", "k-2"]
    [duplicate] = parsed.invalid
    assert (duplicate.number, duplicate.errors[0].field) == (4, "session_id")
    assert "duplicate session_id in this file (first at row 2)" in duplicate.errors[0].message


def test_bom_crlf_and_quoted_newlines_are_read() -> None:
    data = b"\xef\xbb\xbf" + csv(LANGUAGE_V1_0, language_row(feedback_text='"line one\r\nline two"'), newline="\r\n")
    facts = _only_facts(data)
    assert facts.feedback_text == "line one\r\nline two"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (csv(LANGUAGE_V1_0), "no rows"),
        (csv("session_id,email,when", "a,b@c.de,2026-01-01"), "unknown header"),
        (csv(LANGUAGE_V1_0 + ",extra", language_row() + ",x"), "unknown header"),
        (csv(LANGUAGE_V1_0.replace(",", ";"), language_row().replace(",", ";")), "delimiter"),
        (csv(LANGUAGE_V1_0, language_row(feedback_text="caf\xe9")).replace(b"caf\xc3\xa9", b"caf\xe9"), "not UTF-8"),
    ],
)
def test_file_level_faults_reject_the_whole_file(data: bytes, message: str) -> None:
    with pytest.raises(CsvRejected, match=message):
        csv_schemas.parse(data)
