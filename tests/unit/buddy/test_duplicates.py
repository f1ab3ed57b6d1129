"""Records seen again: in one file, across files and across webhook deliveries; and tenant isolation."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.buddy import handlers, queries
from services.buddy.domain.commands import (
    GetImport,
    GetImportErrors,
    GetRecord,
    ImportRecords,
    ListRecords,
    ReceiveWebhook,
    RecordFilter,
)
from services.buddy.domain.errors import (
    DeliveryConflict,
    ImportNotFound,
    MatchUnknown,
    RecordConflict,
    RecordNotFound,
)
from services.buddy.domain.model import Match, MatchStatus
from services.buddy.repository import SqlBuddyUnitOfWork
from services.kit.connectors import imports
from services.kit.connectors.deliveries import Ack
from services.kit.messaging import events
from services.kit.persistence import db
from tests.unit.buddy.samples import csv_of, delivery

EVENT_TYPES = {
    "matches": "buddy.match.created",
    "events": "buddy.event.logged",
    "checkins": "buddy.checkin.completed",
    "feedback": "buddy.feedback.submitted",
}


def _import(uow: SqlBuddyUnitOfWork, kind: str, data: bytes, company: str = "acme") -> imports.Batch:
    return handlers.import_records(ImportRecords(company, kind, data), uow=uow)


def _hook(uow: SqlBuddyUnitOfWork, kind: str, body: bytes, company: str = "acme") -> Ack:
    return handlers.receive_webhook(ReceiveWebhook(company, kind, body), uow=uow)


def _types(engine: sa.Engine) -> list[str]:
    with db.UnitOfWork(engine).begin() as session:
        return [e.type for e in events.pending(session)]


def _matches(uow: SqlBuddyUnitOfWork, company: str = "acme") -> list[Match]:
    found, _ = queries.list_records(ListRecords(company, "matches", RecordFilter()), uow=uow)
    return [m for m in found if isinstance(m, Match)]


def test_a_repeated_id_in_one_file_is_quarantined_after_the_first(uow: SqlBuddyUnitOfWork, engine: sa.Engine) -> None:
    batch = _import(uow, "matches", csv_of("matches", {}, {"location": "Bergen"}))
    assert (batch.rows_stored, batch.rows_quarantined) == (1, 1)
    errors = queries.get_import_errors(GetImportErrors("acme", batch.batch_id), uow=uow)
    assert [(e.row, e.field) for e in errors] == [(3, "match_id")]
    assert "first at row 2" in errors[0].message
    assert _types(engine) == ["buddy.match.created"]


def test_an_identical_row_in_a_later_file_is_a_no_op(uow: SqlBuddyUnitOfWork, engine: sa.Engine) -> None:
    _import(uow, "matches", csv_of("matches"))
    (before,) = _matches(uow)
    again = _import(uow, "matches", csv_of("matches"))
    assert (again.rows_stored, again.rows_quarantined) == (1, 0)
    assert _matches(uow) == [before]
    assert _types(engine) == ["buddy.match.created"]


def test_a_changed_row_updates_the_record_without_a_second_event(uow: SqlBuddyUnitOfWork, engine: sa.Engine) -> None:
    _import(uow, "matches", csv_of("matches"))
    (before,) = _matches(uow)
    later = _import(uow, "matches", csv_of("matches", {"status": "ended", "ended_at": "2026-03-01"}))
    (after,) = _matches(uow)
    assert (after.record_id, after.created_at) == (before.record_id, before.created_at)
    assert after.status is MatchStatus.ENDED
    assert after.provenance.batch_id == later.batch_id
    assert _types(engine) == ["buddy.match.created"]


def test_a_row_that_changes_who_a_record_is_about_is_quarantined(uow: SqlBuddyUnitOfWork) -> None:
    _import(uow, "matches", csv_of("matches"))
    batch = _import(uow, "matches", csv_of("matches", {"buddy_email": "eve@example.org"}))
    errors = queries.get_import_errors(GetImportErrors("acme", batch.batch_id), uow=uow)
    assert [(e.field, e.value) for e in errors] == [("buddy_email", "eve@example.org")]
    assert _matches(uow)[0].buddy.email == "bob@example.org"


@pytest.mark.parametrize("kind", ["matches", "events", "checkins", "feedback"])
def test_a_replayed_delivery_stores_and_emits_nothing(uow: SqlBuddyUnitOfWork, engine: sa.Engine, kind: str) -> None:
    if kind != "matches":
        _hook(uow, "matches", delivery("matches", "d-match"))
    first = _hook(uow, kind, delivery(kind))
    emitted = _types(engine)
    replay = _hook(uow, kind, delivery(kind))
    assert (first.delivery_id, first.duplicate) == ("d-1", False)
    assert (replay.delivery_id, replay.duplicate) == ("d-1", True)
    assert _types(engine) == emitted
    assert emitted[-1] == EVENT_TYPES[kind]


def test_a_reused_delivery_id_with_another_payload_is_refused(uow: SqlBuddyUnitOfWork) -> None:
    _hook(uow, "matches", delivery("matches"))
    with pytest.raises(DeliveryConflict):
        _hook(uow, "matches", delivery("matches", location="Bergen"))


def test_a_new_delivery_of_a_known_record_updates_it_once(uow: SqlBuddyUnitOfWork, engine: sa.Engine) -> None:
    _hook(uow, "matches", delivery("matches", "d-1"))
    ack = _hook(uow, "matches", delivery("matches", "d-2", location="Bergen"))
    assert not ack.duplicate
    (match,) = _matches(uow)
    assert (match.location, match.provenance.delivery_id) == ("Bergen", "d-2")
    assert _types(engine) == ["buddy.match.created"]


def test_a_delivery_that_reassigns_a_record_is_a_conflict(uow: SqlBuddyUnitOfWork) -> None:
    _hook(uow, "matches", delivery("matches", "d-1"))
    with pytest.raises(RecordConflict) as caught:
        _hook(uow, "matches", delivery("matches", "d-2", participant_email="eve@example.org"))
    assert [v.field for v in caught.value.violations] == ["data.participant_email"]


def test_delivery_ids_are_per_company(uow: SqlBuddyUnitOfWork) -> None:
    assert not _hook(uow, "matches", delivery("matches"), "acme").duplicate
    assert not _hook(uow, "matches", delivery("matches"), "globex").duplicate
    assert len(_matches(uow, "acme")) == len(_matches(uow, "globex")) == 1


def test_companies_never_see_or_reference_each_others_records(uow: SqlBuddyUnitOfWork) -> None:
    batch = _import(uow, "matches", csv_of("matches"), "acme")
    (match,) = _matches(uow, "acme")
    assert _matches(uow, "globex") == []
    with pytest.raises(RecordNotFound):
        queries.get_record(GetRecord("globex", "matches", match.record_id), uow=uow)
    with pytest.raises(ImportNotFound):
        queries.get_import(GetImport("globex", batch.batch_id), uow=uow)
    with pytest.raises(ImportNotFound):
        queries.get_import_errors(GetImportErrors("globex", batch.batch_id), uow=uow)
    with pytest.raises(MatchUnknown):
        _hook(uow, "checkins", delivery("checkins"), "globex")
    quarantined = _import(uow, "feedback", csv_of("feedback"), "globex")
    assert (quarantined.rows_stored, quarantined.rows_quarantined) == (0, 1)
