"""Importing Kintell exports: stored sessions, quarantine, batch record, outbox events, re-imports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kintell import events as kintell_events
from services.kintell import handlers, queries
from services.kintell.domain.commands import GetImportErrors, ImportSessions, ListSessions, SessionFilter
from services.kintell.domain.events import SessionCompleted, SessionScheduled
from services.kintell.domain.model import Session
from services.kintell.repository import KintellUnitOfWork
from services.kit.connectors import imports
from services.kit.connectors.csvimport import CsvRejected
from services.kit.messaging import events, sealed_events
from services.kit.persistence import db
from services.kit.security import pii
from teei.common.v1 import types_pb2
from teei.kintell.v1 import events_pb2, kintell_pb2
from tests.unit.kintell.samples import LANGUAGE_V1_0, LEGACY, MENTORSHIP_V1_0, csv, language_row


def _import(uow: KintellUnitOfWork, data: bytes, company: str = "acme") -> imports.Batch:
    return handlers.import_sessions(ImportSessions(company, data), uow=uow)


def _pending(engine: sa.Engine) -> list[events.Envelope]:
    with db.UnitOfWork(engine).begin() as session:
        return events.pending(session, limit=1000)


def _count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def _sessions(uow: KintellUnitOfWork, company: str = "acme") -> dict[str, Session]:
    page = queries.list_sessions(ListSessions(company, page_size=100), uow=uow)
    return {s.facts.external_session_id: s for s, _ in page.sessions}


def test_valid_rows_are_stored_invalid_rows_quarantined_and_the_batch_counts_both(
    uow: KintellUnitOfWork, engine: sa.Engine
) -> None:
    data = csv(
        LANGUAGE_V1_0, language_row("k-1"), language_row("k-2", rating="7"), language_row("k-3", completed_at="")
    )
    batch = _import(uow, data)
    assert (batch.schema, batch.schema_version, batch.status) == (
        "language_session",
        "1.0",
        imports.COMPLETED_WITH_ERRORS,
    )
    assert (batch.rows_total, batch.rows_stored, batch.rows_quarantined) == (3, 2, 1)
    assert set(_sessions(uow)) == {"k-1", "k-3"}
    [error] = queries.get_import_errors(GetImportErrors("acme", batch.batch_id), uow=uow)
    assert (error.row, error.field, error.value) == (3, "rating", "7")


def test_completed_rows_emit_session_completed_with_everything_consumers_need(
    uow: KintellUnitOfWork, engine: sa.Engine
) -> None:
    batch = _import(uow, csv(LANGUAGE_V1_0, language_row("k-1")))
    [envelope] = _pending(engine)
    assert (envelope.type, envelope.source, envelope.tenant) == ("kintell.session.completed", "teei/kintell", "acme")
    payload = events.payload_of(envelope)
    assert isinstance(payload, events_pb2.SessionCompleted)
    assert envelope.subject == payload.session_id
    assert payload.external_session_id == "k-1"
    assert payload.session_type == kintell_pb2.SESSION_TYPE_LANGUAGE
    assert (payload.participant.email, payload.volunteer.email) == ("ada@example.org", "vol@corp.com")
    assert payload.complete_time.ToDatetime(tzinfo=UTC) == datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert (payload.duration_minutes, payload.rating, payload.feedback_text) == (60, 0.75, "Good practice")
    assert payload.language_level == types_pb2.CEFR_LEVEL_B1
    assert list(payload.topics) == ["travel", "food"]
    assert payload.provenance.channel == types_pb2.INGEST_CHANNEL_CSV_IMPORT
    assert payload.provenance.import_batch_id == batch.batch_id


def test_rows_without_completion_emit_session_scheduled(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    row = "m-1,p@x.org,m@corp.com,2026-04-01T09:00:00Z,,30,,,CV,"
    _import(uow, csv(MENTORSHIP_V1_0, row))
    [envelope] = _pending(engine)
    payload = events.payload_of(envelope)
    assert envelope.type == "kintell.session.scheduled"
    assert (payload.external_session_id, payload.focus_area, payload.duration_minutes) == ("m-1", "CV", 30)
    assert payload.session_type == kintell_pb2.SESSION_TYPE_MENTORSHIP


def test_an_unrated_completed_session_carries_no_rating(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    _import(uow, csv(LANGUAGE_V1_0, language_row(rating="")))
    assert not events.payload_of(_pending(engine)[0]).HasField("rating")


def test_legacy_ratings_are_stored_on_the_zero_to_one_scale(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    batch = _import(uow, csv(LEGACY, "old-1,Language café,p@x.org,v@corp.com,2025-06-01,45,4,ok,B2"))
    assert (batch.schema, batch.schema_version) == ("legacy_export", "0")
    [session] = _sessions(uow).values()
    assert session.facts.rating == 0.75
    assert events.payload_of(_pending(engine)[0]).rating == 0.75


def test_reimporting_an_identical_file_stores_nothing_new_and_emits_nothing(
    uow: KintellUnitOfWork, engine: sa.Engine
) -> None:
    data = csv(LANGUAGE_V1_0, language_row("k-1"), language_row("k-2"))
    _import(uow, data)
    again = _import(uow, data)
    assert (again.rows_stored, again.rows_quarantined) == (2, 0)
    assert _count(engine, "kintell_sessions") == 2
    assert len(_pending(engine)) == 2


def test_a_changed_row_updates_the_session_without_a_second_event(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    _import(uow, csv(LANGUAGE_V1_0, language_row("k-1")))
    _import(uow, csv(LANGUAGE_V1_0, language_row("k-1", feedback_text="Better", rating="")))
    [session] = _sessions(uow).values()
    assert session.facts.feedback_text == "Better"
    assert session.facts.rating == 0.75  # an empty value keeps the stored one
    assert len(_pending(engine)) == 1


def test_a_scheduled_session_completed_by_a_later_file_emits_completed_once(
    uow: KintellUnitOfWork, engine: sa.Engine
) -> None:
    _import(uow, csv(LANGUAGE_V1_0, language_row("k-1", completed_at="")))
    _import(uow, csv(LANGUAGE_V1_0, language_row("k-1")))
    _import(uow, csv(LANGUAGE_V1_0, language_row("k-1", completed_at="")))
    assert [e.type for e in _pending(engine)] == ["kintell.session.scheduled", "kintell.session.completed"]
    [session] = _sessions(uow).values()
    assert session.facts.completed_at is not None  # never goes back to scheduled


def test_a_session_id_stored_with_the_other_type_is_quarantined(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    _import(uow, csv(LANGUAGE_V1_0, language_row("k-1")))
    batch = _import(
        uow,
        csv(MENTORSHIP_V1_0, "k-1,p@x.org,m@corp.com,2026-04-01,,30,,,CV,", "m-2,p@x.org,m@x.com,2026-04-01,,,,,,"),
    )
    assert (batch.rows_stored, batch.rows_quarantined) == (1, 1)
    [error] = queries.get_import_errors(GetImportErrors("acme", batch.batch_id), uow=uow)
    assert (error.row, error.field, error.message) == (2, "session_id", "session k-1 is stored as a language session")


def test_the_same_session_id_in_two_companies_is_two_sessions(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    _import(uow, csv(LANGUAGE_V1_0, language_row("k-1")), company="acme")
    _import(uow, csv(LANGUAGE_V1_0, language_row("k-1", feedback_text="Other")), company="globex")
    assert _sessions(uow, "acme")["k-1"].facts.feedback_text == "Good practice"
    assert _sessions(uow, "globex")["k-1"].facts.feedback_text == "Other"
    assert [e.tenant for e in _pending(engine)] == ["acme", "globex"]


def test_a_rejected_file_stores_no_batch_no_session_and_no_event(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    with pytest.raises(CsvRejected):
        _import(uow, csv(LANGUAGE_V1_0))
    assert [_count(engine, t) for t in ("import_batches", "kintell_sessions", "outbox")] == [0, 0, 0]


def test_a_nul_in_feedback_quarantines_the_row_so_nothing_is_stored_or_scored(
    uow: KintellUnitOfWork, engine: sa.Engine
) -> None:
    batch = _import(uow, csv(LANGUAGE_V1_0, language_row("k-1", feedback_text="good\x00 practice")))
    assert (batch.rows_stored, batch.rows_quarantined) == (0, 1)
    [error] = queries.get_import_errors(GetImportErrors("acme", batch.batch_id), uow=uow)
    assert (error.row, error.field, error.value) == (2, "feedback_text", "good\\u0000 practice")
    assert error.message.startswith("must not contain control characters (U+0000")
    assert _sessions(uow) == {}
    assert _pending(engine) == []


def test_error_rows_after_a_multi_line_feedback_are_the_rows_a_spreadsheet_shows(uow: KintellUnitOfWork) -> None:
    """Issue 10: a three-line quoted feedback in row 2 made the next row's error say 5 instead of 3."""
    data = csv(
        LANGUAGE_V1_0,
        language_row("k-1", feedback_text='"first line\nsecond line\nthird line"'),
        language_row("k-2", rating="7"),
    )
    batch = _import(uow, data)
    [error] = queries.get_import_errors(GetImportErrors("acme", batch.batch_id), uow=uow)
    assert (error.row, error.field) == (3, "rating")
    assert _sessions(uow)["k-1"].facts.feedback_text == "first line\nsecond line\nthird line"


def test_a_file_without_the_volunteer_column_is_refused_naming_it(uow: KintellUnitOfWork) -> None:
    header = LANGUAGE_V1_0.replace("volunteer_email,", "")
    with pytest.raises(CsvRejected, match=r"missing column volunteer_email \(closest: language_session v1\.0\)"):
        _import(uow, csv(header, "k-1,ada@example.org,2026-03-01,,,,,,"))


def test_a_failure_while_writing_stores_nothing_partial(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    with engine.begin() as connection:  # the outbox is the last write of an import: make it fail for real
        connection.execute(sa.text("ALTER TABLE outbox RENAME TO outbox_away"))
    with pytest.raises(sa.exc.OperationalError):
        _import(uow, csv(LANGUAGE_V1_0, language_row("k-1"), language_row("k-2", rating="9")))
    assert [_count(engine, t) for t in ("import_batches", "quarantined_rows", "kintell_sessions")] == [0, 0, 0]


def test_many_rows_import_in_one_transaction_with_one_event_each(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    rows = [language_row(f"k-{i}") for i in range(1200)]
    batch = _import(uow, csv(LANGUAGE_V1_0, *rows))
    assert (batch.rows_stored, _count(engine, "kintell_sessions"), _count(engine, "outbox")) == (1200, 1200, 1200)
    again = _import(uow, csv(LANGUAGE_V1_0, *rows[:700], language_row("k-9999")))
    assert (again.rows_stored, _count(engine, "kintell_sessions"), _count(engine, "outbox")) == (701, 1201, 1201)


def _all_pending(engine: sa.Engine) -> list[events.Envelope]:
    with db.UnitOfWork(engine).begin() as session:
        return events.pending(session, limit=10_000)


def _external_ids(envelopes: list[events.Envelope]) -> list[tuple[str, str]]:
    return [(e.type, events.payload_of(e).external_session_id) for e in envelopes]


def test_an_import_of_several_chunks_keeps_row_order_errors_and_events_exactly(
    uow: KintellUnitOfWork, engine: sa.Engine
) -> None:
    """Rows are sealed, stored and announced in chunks; every outcome is that of the file read row by row:
    errors in row order, one event per new session in the file's order, each person's fields readable."""
    count = 1234

    def row(i: int, *, completed: bool) -> str:
        values = {"participant_email": f"p{i % 701}@example.org", "volunteer_email": f"v{i % 97}@corp.com"}
        values |= {"rating": "7"} if i % 301 == 0 else {}
        return language_row(f"k-{i}", **values, **({} if completed else {"completed_at": ""}))

    first = csv(LANGUAGE_V1_0, *(row(i, completed=i % 5 != 0) for i in range(count)))
    batch = _import(uow, first)
    refused = [i for i in range(count) if i % 301 == 0]
    assert (batch.rows_total, batch.rows_stored, batch.rows_quarantined) == (count, count - 5, 5)
    errors = queries.get_import_errors(GetImportErrors("acme", batch.batch_id), uow=uow)
    assert [(e.row, e.field, e.value) for e in errors] == [(i + 2, "rating", "7") for i in refused]
    kinds = {True: "kintell.session.completed", False: "kintell.session.scheduled"}
    news = [(kinds[i % 5 != 0], f"k-{i}") for i in range(count) if i not in refused]
    assert _external_ids(_all_pending(engine)) == news
    found = ListSessions("acme", SessionFilter(participant_email="p700@example.org"), page_size=100)
    stored = [s for s, _ in queries.list_sessions(found, uow=uow).sessions]
    assert [(s.facts.external_session_id, s.facts.participant.email) for s in stored] == [("k-700", "p700@example.org")]

    again = _import(uow, first)
    assert (again.rows_stored, again.rows_quarantined, len(_all_pending(engine))) == (count - 5, 5, len(news))
    done = _import(uow, csv(LANGUAGE_V1_0, *(row(i, completed=True) for i in range(count))))
    assert done.rows_stored == count - 5
    completed = [("kintell.session.completed", f"k-{i}") for i in range(count) if i % 5 == 0 and i not in refused]
    assert _external_ids(_all_pending(engine)) == news + completed


def test_a_bad_row_and_a_repeat_at_a_chunk_boundary_and_a_reimport_keep_their_batches(
    uow: KintellUnitOfWork, engine: sa.Engine
) -> None:
    """Around the 500-row chunks: a refused row right after a chunk's last one, a repeat of that last row's
    session id in the next chunk; a later file's changed row names its own batch, the untouched ones the first."""
    rows = [language_row(f"k-{i}") for i in range(1000)]
    rows[500] = language_row("k-500", rating="7")
    rows[501] = language_row("k-499")
    batch = _import(uow, csv(LANGUAGE_V1_0, *rows))
    assert (batch.rows_total, batch.rows_stored, batch.rows_quarantined) == (1000, 998, 2)
    errors = queries.get_import_errors(GetImportErrors("acme", batch.batch_id), uow=uow)
    assert [(e.row, e.field) for e in errors] == [(502, "rating"), (503, "session_id")]
    assert "first at row 501" in errors[1].message
    assert _count(engine, "outbox") == 998

    again = _import(uow, csv(LANGUAGE_V1_0, language_row("k-499", feedback_text="Better"), language_row("k-0")))
    assert (again.rows_stored, again.rows_quarantined, _count(engine, "outbox")) == (2, 0, 998)
    with db.UnitOfWork(engine).begin() as session:
        found: dict[str, str] = dict(
            session.execute(
                sa.text(
                    "SELECT external_session_id, import_batch_id FROM kintell_sessions"
                    " WHERE external_session_id IN ('k-0', 'k-499')"
                )
            ).all()
        )
    assert found == {"k-499": again.batch_id, "k-0": batch.batch_id}


@pytest.fixture
def events_cipher(tmp_path: Path) -> Iterator[pii.PiiCipher]:
    """The process's events cipher, installed as a service installs it at start-up."""
    made = pii.local(tmp_path / "events", sealed_events.KEYSTORE)
    sealed_events.install(made)
    yield made
    sealed_events.uninstall()
    made.close()


def test_an_import_records_each_event_sealed_once_and_opening_to_its_stored_session(
    uow: KintellUnitOfWork, engine: sa.Engine, events_cipher: pii.PiiCipher
) -> None:
    """With the events cipher installed, every outbox row holds its envelope with the person fields sealed
    for that event's id, and opened it is exactly the payload of the stored session, in the file's order."""
    rows = [language_row(f"k-{i}", participant_email=f"p{i % 7}@example.org") for i in range(620)]
    rows[3] = language_row("k-3", completed_at="")
    _import(uow, csv(LANGUAGE_V1_0, *rows))
    stored = _sessions_by_external_id(uow)
    with db.UnitOfWork(engine).begin() as session:
        raw = session.execute(sa.select(events.outbox.c.envelope).order_by(events.outbox.c.created_at)).scalars()
        found = [events.Envelope.FromString(r) for r in raw]
    assert [events.payload_of_unopened(e).participant.email[:5] for e in found] == ["pii1."] * 620
    expected = [kintell_events.envelope(SessionScheduled(s) if i == 3 else SessionCompleted(s)) for i, s in stored]
    assert [(e.type, e.source, e.tenant, e.subject) for e in found] == [
        (x.type, x.source, x.tenant, x.subject) for x in expected
    ]
    assert [events.payload_of(e) for e in found] == [events.payload_of_unopened(x) for x in expected]
    assert len({e.id for e in found}) == 620


def _sessions_by_external_id(uow: KintellUnitOfWork) -> list[tuple[int, Session]]:
    ids = [f"k-{i}" for i in range(620)]
    with uow.begin(company_id="acme") as repo:
        found = repo.sessions_by_external_id(ids)
    return [(i, found[x]) for i, x in enumerate(ids)]
