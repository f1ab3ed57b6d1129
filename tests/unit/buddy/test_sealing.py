"""Buddy's personal fields at rest: after imports through the CSV and webhook handlers nothing of a person
is in the database file in plain text (an event's attendee list, a match's location and a rejected CSV
row's cells and errors neither), look-ups by e-mail still find
their records, exports show plain values, a copy taken before an erasure cannot be read after it while
the other people's fields still open, and the online migration seals (and unseals) rows written before
sealing while reads go on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services.buddy import bootstrap, handlers, privacy, queries, sealing
from services.buddy.domain.commands import ImportRecords, ListRecords, ReceiveWebhook, RecordFilter
from services.buddy.domain.model import BuddyEvent, CheckIn, Feedback, Match, Record
from services.buddy.repository import BuddyUnitOfWork
from services.buddy.tables import checkins, event_attendees, events, feedback, matches
from services.kit.connectors.imports import quarantine
from services.kit.connectors.storage import profile_id_of
from services.kit.persistence import db, subjects
from services.kit.security import pii
from tests import connector_sealing, sealed_db
from tests.unit.buddy.samples import csv_of, delivery

PARTICIPANT = "pialotta@example.org"
BUDDY = "bertrand@corp.com"
GUEST = "gracielle@example.org"
WALKER = "hollis@example.org"
PEOPLE = {
    "participant_email": PARTICIPANT,
    "participant_external_id": "bud-p-7",
    "participant_given_name": "Pialotta",
    "participant_family_name": "Lindqvist",
    "buddy_email": BUDDY,
    "buddy_external_id": "bud-b-3",
    "buddy_given_name": "Bertrand",
    "buddy_family_name": "Quillfeather",
    "location": "Trondheimsfjord",
}
QUINBY, ROSALIND = connector_sealing.QUINBY, connector_sealing.ROSALIND
# Match rows the import refuses: one naming Quinby (a bad status), one naming nobody (no valid e-mail),
# one naming Rosalind (a bad match time).
REJECTED = (
    {"match_id": "m-2", "participant_email": "Quinby@Example.org", "participant_family_name": "Farrowdale"}
    | {"status": "sideways"},
    {"match_id": "m-3", "participant_email": "zebedee-at-nowhere", "buddy_email": "also-bad"},
    {"match_id": "m-4", "participant_email": ROSALIND, "matched_at": "yesterday"},
)
# What the samples carry of people: e-mails, Buddy ids, names and the text they wrote.
# (Needles of five characters or more: a shorter one turns up by chance in a file full of ciphertext.)
NEEDLES = [PARTICIPANT, BUDDY, GUEST, WALKER, "bud-p-7", "bud-b-3", "pialotta", "lindqvist", "quillfeather"]
NEEDLES += [QUINBY, "zebedee-at-nowhere", ROSALIND, "farrowdale"]
TEXTS = [
    "trondheimsfjord",
    "coffee at the library",
    "room-blue-7",
    "harbour walk",
    "pier-seventeen",
    "practised ordering",
    "how often did you meet",
    "great progress",
]


def _load(uow: BuddyUnitOfWork) -> None:
    """A match (and three rows refused) and a group event by CSV; the match's event, a check-in and a
    feedback by webhook."""
    _csv(uow, "matches", PEOPLE, *REJECTED)
    event = {"location": "room-blue-7", "attendee_emails": [PARTICIPANT, BUDDY, GUEST]}
    _webhook(uow, "events", "d-1", **event)
    group = {"event_id": "e-2", "match_id": "", "description": "Harbour walk", "location": "pier-seventeen"}
    _csv(uow, "events", group | {"attendee_emails": f"{GUEST},{WALKER}"})
    _csv(uow, "checkins", {"person_email": PARTICIPANT})
    _webhook(uow, "feedback", "d-2", author_email=BUDDY)


def _csv(uow: BuddyUnitOfWork, kind: str, row: dict[str, str], *rejected: dict[str, str]) -> None:
    batch = handlers.import_records(ImportRecords("acme", kind, csv_of(kind, row, *rejected)), uow=uow)
    assert (batch.rows_stored, batch.rows_quarantined) == (1, len(rejected))


def _webhook(uow: BuddyUnitOfWork, kind: str, delivery_id: str, **changes: Any) -> None:
    assert not handlers.receive_webhook(
        ReceiveWebhook("acme", kind, delivery(kind, delivery_id, **changes)), uow=uow
    ).duplicate


def _all(uow: BuddyUnitOfWork, kind: str, where: RecordFilter | None = None) -> list[Record]:
    found, token = queries.list_records(ListRecords("acme", kind, where or RecordFilter(), page_size=50), uow=uow)
    assert token == ""
    return list(found)


def _ids(uow: BuddyUnitOfWork, kind: str, *, email: str = "", profile_id: str = "") -> list[str]:
    return sorted(r.external_id for r in _all(uow, kind, RecordFilter(email=email, profile_id=profile_id)))


def _event(uow: BuddyUnitOfWork, external_id: str) -> BuddyEvent:
    [found] = [r for r in _all(uow, "events") if r.external_id == external_id]
    assert isinstance(found, BuddyEvent)
    return found


def _attendees(uow: BuddyUnitOfWork, external_id: str) -> list[str]:
    return [p.email for p in _event(uow, external_id).attendees]


def test_the_database_file_holds_no_e_mail_name_external_id_or_text_in_plain_text(
    engine: sa.Engine, uow: BuddyUnitOfWork
) -> None:
    _load(uow)
    raw = sealed_db.file_bytes(engine).lower()
    assert [n for n in NEEDLES + TEXTS if n.encode() in raw] == []
    assert b"acme" in raw
    with engine.connect() as connection:
        assert set(connection.execute(sa.select(events.c.attendees)).scalars()) == {sealing.ATTENDEE_ROWS}
        stored = connection.execute(sa.select(event_attendees.c.email, event_attendees.c.given_name)).all()
    assert len(stored) == 5
    assert all(pii.is_sealed(email) for email, _ in stored)


def test_reads_and_look_ups_by_e_mail_see_plain_values(engine: sa.Engine, uow: BuddyUnitOfWork) -> None:
    _load(uow)
    assert _ids(uow, "matches", email=PARTICIPANT) == _ids(uow, "matches", email=BUDDY) == ["m-1"]
    assert _ids(uow, "matches", email="nobody@example.org") == []
    assert _ids(uow, "checkins", email=PARTICIPANT) == ["c-1"]
    assert _ids(uow, "checkins", email=BUDDY) == []
    assert _ids(uow, "feedback", email=BUDDY) == ["f-1"]
    assert _ids(uow, "events", profile_id=profile_id_of("acme", GUEST)) == ["e-1", "e-2"]
    assert _ids(uow, "events", profile_id=profile_id_of("acme", BUDDY)) == ["e-1"]
    [match] = _all(uow, "matches")
    assert isinstance(match, Match)
    assert (match.participant.email, match.participant.family_name, match.buddy.external_id) == (
        PARTICIPANT,
        "Lindqvist",
        "bud-b-3",
    )
    assert match.location == "Trondheimsfjord"
    event = _event(uow, "e-1")
    assert [(p.email, p.given_name) for p in event.attendees] == [
        (PARTICIPANT, "Pialotta"),
        (BUDDY, "Bertrand"),
        (GUEST, ""),
    ]
    assert (event.description, event.location) == ("Coffee at the library", "room-blue-7")
    assert (_event(uow, "e-2").description, _attendees(uow, "e-2")) == ("Harbour walk", [GUEST, WALKER])
    [checkin] = _all(uow, "checkins")
    assert isinstance(checkin, CheckIn)
    assert (checkin.notes, checkin.answers) == ("We practised ordering food.", (("How often did you meet?", "twice"),))
    [given] = _all(uow, "feedback")
    assert isinstance(given, Feedback)
    assert given.text == "Ada is making great progress."
    with engine.connect() as connection:
        writers = dict(connection.execute(sa.select(events.c.external_id, events.c.writer_profile_id)).all())
        texts = [
            *connection.execute(sa.select(checkins.c.notes)).scalars(),
            *connection.execute(sa.select(feedback.c.text)).scalars(),
        ]
    assert writers == {"e-1": profile_id_of("acme", PARTICIPANT), "e-2": ""}
    assert all(pii.is_sealed(text) for text in texts)


def test_an_export_shows_plain_values(engine: sa.Engine, uow: BuddyUnitOfWork) -> None:
    _load(uow)
    with db.UnitOfWork(engine).begin() as session:
        mine = subjects.export(session, privacy.MAP, subjects.Subject.of("acme", email=PARTICIPANT))
        guest = subjects.export(session, privacy.MAP, subjects.Subject.of("acme", email=GUEST))
    [match] = mine["buddy_matches"]
    assert (match["participant_email"], match["participant_given_name"], match["location"]) == (
        PARTICIPANT,
        "Pialotta",
        "Trondheimsfjord",
    )
    assert {e["description"] for e in mine["buddy_events"]} == {"Coffee at the library"}
    assert {c["notes"] for c in mine["buddy_checkins"]} == {"We practised ordering food."}
    assert {(a["email"], a["given_name"]) for a in mine["buddy_event_attendees"]} >= {(PARTICIPANT, "Pialotta")}
    assert sorted(a["email"] for a in guest["buddy_event_attendees"]) == [GUEST, GUEST]
    assert "buddy_matches" not in guest


def test_each_side_of_a_shared_match_exports_only_its_own_side(engine: sa.Engine, uow: BuddyUnitOfWork) -> None:
    """The participant's copy of the match withholds the buddy's columns and the buddy's withholds the
    participant's (their location too); the match's own columns are in both."""
    _load(uow)
    with db.UnitOfWork(engine).begin() as session:
        [mine] = subjects.export(session, privacy.MAP, subjects.Subject.of("acme", email=PARTICIPANT))["buddy_matches"]
        [theirs] = subjects.export(session, privacy.MAP, subjects.Subject.of("acme", email=BUDDY))["buddy_matches"]
    side = ("email", "external_id", "given_name", "family_name", "profile_id")
    assert {mine[f"buddy_{c}"] for c in side} == {subjects.WITHHELD}
    assert {theirs[f"participant_{c}"] for c in side} | {theirs["location"]} == {subjects.WITHHELD}
    assert (theirs["buddy_email"], theirs["buddy_given_name"]) == (BUDDY, "Bertrand")
    assert mine["external_id"] == theirs["external_id"] == "m-1"
    buddy = (BUDDY, "bud-b-3", "bertrand", "quillfeather", profile_id_of("acme", BUDDY))
    participant = (PARTICIPANT, "bud-p-7", "pialotta", "lindqvist", "trondheimsfjord")
    assert [n for n in buddy if n in json.dumps(mine).lower()] == []
    assert [n for n in participant if n in json.dumps(theirs).lower()] == []


def test_what_hangs_off_a_shared_match_exports_only_the_subjects_part(engine: sa.Engine, uow: BuddyUnitOfWork) -> None:
    """Under the match, the participant sees the buddy's feedback without its author or text, and the buddy
    sees the participant's check-in and event without their person or texts and the event's other attendees
    without their names; each sees their own plain."""
    _load(uow)
    with db.UnitOfWork(engine).begin() as session:
        mine = subjects.export(session, privacy.MAP, subjects.Subject.of("acme", email=PARTICIPANT))
        theirs = subjects.export(session, privacy.MAP, subjects.Subject.of("acme", email=BUDDY))
    [their_feedback] = [f for f in mine["buddy_feedback"] if f["author_email"] != PARTICIPANT]
    assert {their_feedback[c] for c in ("author_email", "author_given_name", "text")} == {subjects.WITHHELD}
    assert {c["notes"] for c in mine["buddy_checkins"]} == {"We practised ordering food."}
    assert {c["notes"] for c in theirs["buddy_checkins"]} == {subjects.WITHHELD}
    assert {e["description"] for e in theirs["buddy_events"]} == {subjects.WITHHELD}
    assert {a["email"] for a in theirs["buddy_event_attendees"]} == {BUDDY, subjects.WITHHELD}
    own = {f["text"] for f in theirs["buddy_feedback"] if f["author_email"] == BUDDY}
    assert len(own) == 1
    assert not own & {"", subjects.WITHHELD}
    participant = (PARTICIPANT, "pialotta", "practised ordering", "coffee at the library", GUEST)
    assert [n for n in participant if n in json.dumps(theirs).lower()] == []


def _erase(engine: sa.Engine, email: str) -> None:
    with db.UnitOfWork(engine).begin() as session:
        subjects.erase(session, privacy.MAP, subjects.Subject.of("acme", email=email))


def _stored(engine: sa.Engine, table: sa.Table, where: sa.ColumnElement[bool]) -> sa.RowMapping:
    with engine.connect() as connection:
        return connection.execute(sa.select(table).where(where)).mappings().one()


def _open(cipher: pii.PiiCipher, table: sa.Table, row: sa.RowMapping, column: str, record: str) -> str:
    return cipher.open(row[column], field=f"{table.name}.{column}", record=str(row[record]))


def test_a_copy_taken_before_the_participant_is_erased_cannot_be_read_after_it(
    engine: sa.Engine, uow: BuddyUnitOfWork, cipher: pii.PiiCipher, tmp_path: Path
) -> None:
    _load(uow)
    backup = tmp_path / "before-erasure.db"
    connector_sealing.copy(engine, backup)
    _erase(engine, PARTICIPANT)
    restored = db.create_engine(db.sqlite_url(backup))
    pii.attach(restored, cipher)
    try:
        match = _stored(restored, matches, matches.c.external_id == "m-1")
        for column in ("participant_email", "participant_given_name", "participant_external_id"):
            with pytest.raises(pii.SubjectErased):
                _open(cipher, matches, match, column, "record_id")
        with pytest.raises(pii.SubjectErased):
            _open(cipher, matches, match, "location", "record_id")
        assert _open(cipher, matches, match, "buddy_email", "record_id") == BUDDY  # the other person's still open
        event = _stored(restored, events, events.c.external_id == "e-1")
        with pytest.raises(pii.SubjectErased):
            _open(cipher, events, event, "description", "record_id")
        with pytest.raises(pii.SubjectErased):
            _open(cipher, checkins, _stored(restored, checkins, checkins.c.external_id == "c-1"), "notes", "record_id")
        mine = _stored(restored, event_attendees, event_attendees.c.profile_id == profile_id_of("acme", PARTICIPANT))
        with pytest.raises(pii.SubjectErased):
            _open(cipher, event_attendees, mine, "email", "profile_id")
        theirs = _stored(restored, event_attendees, event_attendees.c.profile_id == profile_id_of("acme", BUDDY))
        assert _open(cipher, event_attendees, theirs, "email", "profile_id") == BUDDY
    finally:
        restored.dispose()
    # The live database reads on without the participant: nothing left sealed with the destroyed key.
    [kept] = _all(uow, "matches")
    assert isinstance(kept, Match)
    assert (kept.participant.email, kept.participant.given_name, kept.buddy.email) == ("", "", BUDDY)
    assert kept.location == ""
    left = _event(uow, "e-1")
    assert ([p.email for p in left.attendees], left.description, left.location) == ([BUDDY, GUEST], "", "")
    assert _ids(uow, "checkins") == []
    assert _ids(uow, "feedback", email=BUDDY) == ["f-1"]


def test_erasing_one_attendee_leaves_the_other_attendees_of_the_event_readable(
    engine: sa.Engine, uow: BuddyUnitOfWork, cipher: pii.PiiCipher, tmp_path: Path
) -> None:
    _load(uow)
    backup = tmp_path / "before-erasure.db"
    connector_sealing.copy(engine, backup)
    _erase(engine, GUEST)
    assert (_attendees(uow, "e-1"), _attendees(uow, "e-2")) == ([PARTICIPANT, BUDDY], [WALKER])
    assert _ids(uow, "events", profile_id=profile_id_of("acme", GUEST)) == []
    assert _event(uow, "e-2").description == "Harbour walk"
    restored = db.create_engine(db.sqlite_url(backup))
    try:
        group = event_attendees.c.event_id == _event(uow, "e-2").record_id
        with restored.connect() as connection:
            found = {r["profile_id"]: r for r in connection.execute(sa.select(event_attendees).where(group)).mappings()}
        with pytest.raises(pii.SubjectErased):
            _open(cipher, event_attendees, found[profile_id_of("acme", GUEST)], "email", "profile_id")
        assert _open(cipher, event_attendees, found[profile_id_of("acme", WALKER)], "email", "profile_id") == WALKER
    finally:
        restored.dispose()


def _read_back(uow: BuddyUnitOfWork) -> list[tuple[str, ...]]:
    assert _ids(uow, "matches", email=PARTICIPANT) == ["m-1"]
    assert _ids(uow, "checkins", email=PARTICIPANT) == ["c-1"]
    assert _ids(uow, "events", profile_id=profile_id_of("acme", GUEST)) == ["e-1", "e-2"]
    seen: list[tuple[str, ...]] = []
    for kind in ("matches", "events", "checkins", "feedback"):
        for r in _all(uow, kind):
            if isinstance(r, Match):
                seen.append((r.external_id, *vars(r.participant).values(), *vars(r.buddy).values(), r.location))
            elif isinstance(r, BuddyEvent):
                people = json.dumps([vars(p) for p in r.attendees])
                seen.append((r.external_id, r.description, r.location, people))
            elif isinstance(r, CheckIn):
                seen.append((r.external_id, r.person.email, r.notes, json.dumps(r.answers)))
            elif isinstance(r, Feedback):
                seen.append((r.external_id, r.author.email, r.text))
    return sorted(seen)


def test_the_online_migration_seals_old_rows_while_reads_go_on_and_unsealing_rolls_back(
    engine: sa.Engine, uow: BuddyUnitOfWork, cipher: pii.PiiCipher
) -> None:
    _load(uow)
    expected = _read_back(uow)
    connector_sealing.unsealed(engine, cipher, sealing.unseal_batch)
    with engine.connect() as connection:
        assert PARTICIPANT in connection.execute(sa.select(matches.c.participant_email)).scalars().all()
        lists = connection.execute(sa.select(events.c.attendees)).scalars().all()
    assert all(GUEST in json.dumps(json.loads(attendees)) for attendees in lists)
    assert _read_back(uow) == expected  # dual read: plain rows before sealing
    steps, sealed = db.UnitOfWork(engine), 0
    while True:  # one row at a time: every half-sealed state is read
        with steps.begin() as session:
            done = sealing.seal_batch(session, cipher, batch=1)
        if not done:
            break
        sealed += done
        assert _read_back(uow) == expected
    # A match, two events (their attendee rows with them), a check-in, a feedback and three quarantined rows.
    assert sealed == 8
    with engine.connect() as connection:
        assert set(connection.execute(sa.select(events.c.attendees)).scalars()) == {sealing.ATTENDEE_ROWS}
        emails = [*connection.execute(sa.select(matches.c.participant_email)).scalars()]
        emails += connection.execute(sa.select(event_attendees.c.email)).scalars().all()
    assert len(emails) == 6
    assert all(pii.is_sealed(email) for email in emails)
    url = str(engine.url)
    with pytest.raises(RuntimeError, match="unseal"):  # a migration holds no keys: sealed rows hold it back
        db.downgrade(url, bootstrap.MIGRATIONS, "0006")
    connector_sealing.unsealed(engine, cipher, sealing.unseal_batch)
    assert _read_back(uow) == expected
    db.downgrade(url, bootstrap.MIGRATIONS, "0006")
    with engine.connect() as connection:
        names = {c["name"] for c in sa.inspect(connection).get_columns("buddy_event_attendees")}
        query = sa.text("SELECT attendees FROM buddy_events WHERE external_id = 'e-1'")
        [people] = [[p["email"] for p in json.loads(a)] for a in connection.execute(query).scalars()]
    assert names == {"event_id", "profile_id", "company_id"}
    assert people == [PARTICIPANT, BUDDY, GUEST]


ERRORS = [(3, "status", "sideways"), (4, "participant_email", "zebedee-at-nowhere"), (4, "buddy_email", "also-bad")]
ERRORS += [(5, "matched_at", "yesterday")]

DOWNGRADE = (bootstrap.MIGRATIONS, "0007", "4 buddy rows are sealed: run `teei pii unseal")


# Buddy's refused matches: two of them name the buddy as well.
class TestQuarantinedRows(connector_sealing.QuarantinedRows, connector_sealing.TwoPeople):
    case = connector_sealing.Quarantine(privacy.MAP, _load, ERRORS, "Farrowdale", DOWNGRADE, second="bob@example.org")


def test_a_sealed_location_alone_holds_the_downgrade_back(engine: sa.Engine, uow: BuddyUnitOfWork) -> None:
    _load(uow)
    with engine.begin() as connection:
        connection.execute(sa.delete(quarantine))
    with pytest.raises(RuntimeError, match="1 buddy rows are sealed"):
        db.downgrade(str(engine.url), bootstrap.MIGRATIONS, "0007")


def test_the_online_migration_seals_quarantined_rows_and_locations_from_before_sealing(
    engine: sa.Engine, uow: BuddyUnitOfWork, cipher: pii.PiiCipher
) -> None:
    _load(uow)
    connector_sealing.unsealed(engine, cipher, sealing.unseal_batch)
    old = connector_sealing.made_old(TestQuarantinedRows.case, engine)
    with engine.connect() as connection:
        assert connection.execute(sa.select(matches.c.location)).scalar_one() == "Trondheimsfjord"
    with db.UnitOfWork(engine).begin() as session:
        while sealing.seal_batch(session, cipher, batch=1):
            pass
    connector_sealing.check_sealed_as_before(TestQuarantinedRows.case, engine, cipher, old)
    match = _stored(engine, matches, matches.c.external_id == "m-1")
    assert pii.is_sealed(match["location"])
    assert _open(cipher, matches, match, "location", "record_id") == "Trondheimsfjord"
