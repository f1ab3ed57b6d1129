"""Kintell's personal fields at rest: after imports through the CSV and webhook handlers nothing of a
person is in the database file in plain text (a rejected CSV row's cells and errors neither), look-ups by
e-mail still find their sessions, exports show plain values, a copy taken before an erasure cannot be
read after it, and the online migration seals (and unseals) rows written before sealing while reads go
on."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kintell import bootstrap, handlers, privacy, queries, sealing
from services.kintell.domain.commands import (
    GetSession,
    ImportSessions,
    ListSessions,
    ReceiveWebhook,
    SessionFilter,
)
from services.kintell.repository import KintellUnitOfWork, SqlKintellUnitOfWork
from services.kintell.tables import ratings, sessions
from services.kit.persistence import db, subjects
from services.kit.security import pii
from tests import connector_sealing, sealed_db
from tests.unit.kintell.samples import LANGUAGE_V1_0, csv, language_row, rating_body, session_body

# What the samples carry of people: e-mails, Kintell ids, names and the text they wrote.
# (Needles of five characters or more: a shorter one turns up by chance in a file full of ciphertext.)
NEEDLES = [
    "ada@example.org",
    "vol@corp.com",
    "p@example.org",
    "v@corp.com",
    "kin-p-7",
    "kin-v-3",
    "pialotta",
    "lindqvist",
    # Rejected CSV rows: a person's e-mail, one that does not parse, another person's, and free text.
    "quinby@example.org",
    "zebedee-at-nowhere",
    "rosalind@example.org",
    "farrowdale",
]
TEXTS = ["good practice", "we talked about work", "motivated learner", "room-blue-7"]
PARTICIPANT = {"email": "p@example.org", "id": "kin-p-7", "given_name": "Pialotta", "family_name": "Lindqvist"}
QUINBY, ROSALIND = connector_sealing.QUINBY, connector_sealing.ROSALIND
# Rows the import refuses: one naming Quinby (a bad rating), one naming nobody (no valid e-mail), one
# naming Rosalind (a bad duration).
REJECTED = (
    language_row("k-2", participant_email="Quinby@Example.org", rating="lots", feedback_text="Farrowdale was late"),
    language_row("k-3", participant_email="zebedee-at-nowhere", volunteer_email="also-bad"),
    language_row("k-4", participant_email=ROSALIND, duration_minutes="forever"),
)


def _load(uow: KintellUnitOfWork) -> None:
    """A CSV import (one row stored, three quarantined) and the three webhooks: a session, its
    booking-less completion and a rating."""
    handlers.import_sessions(ImportSessions("acme", csv(LANGUAGE_V1_0, language_row("k-1"), *REJECTED)), uow=uow)
    body = session_body(participant=PARTICIPANT, metadata={"room": "room-blue-7"})
    handlers.receive_session_completed(ReceiveWebhook("acme", body), uow=uow)
    handlers.receive_rating_created(ReceiveWebhook("acme", rating_body()), uow=uow)


def _by(uow: KintellUnitOfWork, *, participant_email: str = "", volunteer_email: str = "") -> list[str]:
    where = SessionFilter(participant_email=participant_email, volunteer_email=volunteer_email)
    page = queries.list_sessions(ListSessions("acme", filter=where, page_size=10), uow=uow)
    return sorted(s.facts.external_session_id for s, _ in page.sessions)


def test_the_database_file_holds_no_e_mail_name_external_id_or_feedback_in_plain_text(
    engine: sa.Engine, uow: KintellUnitOfWork
) -> None:
    _load(uow)
    raw = sealed_db.file_bytes(engine).lower()
    assert [n for n in NEEDLES + TEXTS if n.encode() in raw] == []
    assert b"acme" in raw
    assert b"k-42" in raw


def test_reads_and_look_ups_by_e_mail_see_plain_values(engine: sa.Engine, uow: KintellUnitOfWork) -> None:
    _load(uow)
    assert _by(uow, participant_email="ada@example.org") == ["k-1"]
    assert _by(uow, volunteer_email="v@corp.com") == ["k-42"]
    assert _by(uow, participant_email="nobody@example.org") == []
    listed = ListSessions("acme", filter=SessionFilter(volunteer_email="v@corp.com"))
    [(session, _)] = queries.list_sessions(listed, uow=uow).sessions
    got, [rating] = queries.get_session(GetSession("acme", session.session_id), uow=uow)
    assert (got.facts.participant.email, got.facts.participant.given_name) == ("p@example.org", "Pialotta")
    assert (got.facts.feedback_text, got.facts.metadata, rating.feedback_text) == (
        "We talked about work",
        {"room": "room-blue-7"},
        "Motivated learner",
    )
    with engine.connect() as connection:
        stored = connection.execute(sa.select(ratings.c.feedback_text)).scalar_one()
    assert pii.is_sealed(stored)


def test_an_export_shows_plain_values_of_its_subject_and_withholds_the_other_party(
    engine: sa.Engine, uow: KintellUnitOfWork
) -> None:
    """The volunteer sees their side of the session plain and nothing of the participant (their names and
    what they wrote); the participant sees theirs and not the volunteer's e-mail."""
    _load(uow)
    with db.UnitOfWork(engine).begin() as session:
        found = subjects.export(session, privacy.MAP, subjects.Subject.of("acme", email="v@corp.com"))
        theirs = subjects.export(session, privacy.MAP, subjects.Subject.of("acme", email="p@example.org"))
    [row] = found["kintell_sessions"]
    assert (row["volunteer_email"], row["volunteer_external_id"]) == ("v@corp.com", "kin-v-3")
    participant = ("email", "external_id", "given_name", "family_name", "profile_id")
    assert {row[f"participant_{c}"] for c in participant} == {subjects.WITHHELD}
    assert {row[c] for c in ("feedback_text", "goals_discussed", "metadata_json")} == {subjects.WITHHELD}
    assert [n for n in ("pialotta", "lindqvist", "p@example.org", "room-blue-7") if n in str(found).lower()] == []
    assert [r["feedback_text"] for r in found["kintell_ratings"]] == ["Motivated learner"]
    [mine] = theirs["kintell_sessions"]
    assert (mine["participant_given_name"], mine["metadata_json"]) == ("Pialotta", {"room": "room-blue-7"})
    assert (mine["volunteer_email"], mine["volunteer_external_id"]) == (subjects.WITHHELD, subjects.WITHHELD)
    assert "v@corp.com" not in str(theirs["kintell_sessions"])
    assert [(r["rater_role"], r["feedback_text"]) for r in theirs["kintell_ratings"]] == [
        ("volunteer", subjects.WITHHELD)  # the volunteer's rating, without the text they wrote
    ]


def test_a_copy_taken_before_an_erasure_cannot_be_read_after_it(
    engine: sa.Engine, uow: KintellUnitOfWork, cipher: pii.PiiCipher, tmp_path: Path
) -> None:
    _load(uow)
    backup = tmp_path / "before-erasure.db"
    connector_sealing.copy(engine, backup)
    with db.UnitOfWork(engine).begin() as session:
        subjects.erase(session, privacy.MAP, subjects.Subject.of("acme", email="p@example.org"))
    restored = db.create_engine(db.sqlite_url(backup))
    pii.attach(restored, cipher)
    try:
        with restored.connect() as connection:
            row = (
                connection.execute(sa.select(sessions).where(sessions.c.external_session_id == "k-42")).mappings().one()
            )
        for column in ("participant_email", "participant_given_name", "feedback_text"):
            with pytest.raises(pii.SubjectErased):
                cipher.open(row[column], field=f"kintell_sessions.{column}", record=row["session_id"])
        volunteer = cipher.open(
            row["volunteer_email"], field="kintell_sessions.volunteer_email", record=row["session_id"]
        )
        assert volunteer == "v@corp.com"  # the other person's fields still open
        old = SqlKintellUnitOfWork(db.UnitOfWork(restored))
        assert _by(old, participant_email="ada@example.org") == ["k-1"]
    finally:
        restored.dispose()


def _read_back(uow: KintellUnitOfWork) -> list[tuple[str, str, str, list[str]]]:
    page = queries.list_sessions(ListSessions("acme", page_size=10), uow=uow)
    assert _by(uow, participant_email="ada@example.org") == ["k-1"]
    assert _by(uow, volunteer_email="v@corp.com") == ["k-42"]
    return sorted(
        (s.facts.participant.email, s.facts.volunteer.email, s.facts.feedback_text, [r.feedback_text for r in rs])
        for s, rs in page.sessions
    )


def test_the_online_migration_seals_old_rows_while_reads_go_on_and_unsealing_rolls_back(
    engine: sa.Engine, uow: KintellUnitOfWork, cipher: pii.PiiCipher
) -> None:
    _load(uow)
    expected = _read_back(uow)
    connector_sealing.unsealed(engine, cipher, sealing.unseal_batch)
    with engine.connect() as connection:
        assert "ada@example.org" in connection.execute(sa.select(sessions.c.participant_email)).scalars().all()
    assert _read_back(uow) == expected  # dual read: plain rows before sealing
    steps = db.UnitOfWork(engine)
    with steps.begin() as session:
        assert sealing.seal_batch(session, cipher, batch=1) == 1  # half sealed: one session sealed, one not
    assert _read_back(uow) == expected
    with steps.begin() as session:
        assert sealing.seal_batch(session, cipher) == 5  # a session, a rating and three quarantined rows
        assert sealing.seal_batch(session, cipher) == 0
    assert _read_back(uow) == expected
    with engine.connect() as connection:
        stored = connection.execute(sa.select(sessions.c.participant_email, sessions.c.volunteer_given_name)).all()
    assert all(pii.is_sealed(email) for email, _ in stored)
    url = str(engine.url)
    with pytest.raises(RuntimeError, match="unseal"):  # a migration holds no keys: sealed rows hold it back
        db.downgrade(url, bootstrap.MIGRATIONS, "0006")
    connector_sealing.unsealed(engine, cipher, sealing.unseal_batch)
    assert _read_back(uow) == expected
    db.downgrade(url, bootstrap.MIGRATIONS, "0006")


ERRORS = [(3, "rating", "lots"), (4, "participant_email", "zebedee-at-nowhere"), (4, "volunteer_email", "also-bad")]
ERRORS += [(5, "duration_minutes", "forever")]

DOWNGRADE = (bootstrap.MIGRATIONS, "0007", "3 kintell rows are sealed: run `teei pii unseal")


# Kintell's refused language sessions: two of them name the volunteer as well.
class TestQuarantinedRows(connector_sealing.QuarantinedRows, connector_sealing.TwoPeople):
    case = connector_sealing.Quarantine(privacy.MAP, _load, ERRORS, "Farrowdale", DOWNGRADE, second="vol@corp.com")


def test_the_online_migration_seals_quarantined_rows_from_before_sealing(
    engine: sa.Engine, uow: KintellUnitOfWork, cipher: pii.PiiCipher
) -> None:
    _load(uow)
    connector_sealing.unsealed(engine, cipher, sealing.unseal_batch)
    old = connector_sealing.made_old(TestQuarantinedRows.case, engine)
    steps = db.UnitOfWork(engine)
    with steps.begin() as session:
        assert sealing.seal_batch(session, cipher, batch=4) == 4  # two sessions, a rating, a quarantined row
    with steps.begin() as session:
        assert connector_sealing.listed(engine, connector_sealing.batch_id(engine)) == ERRORS
        assert sealing.seal_batch(session, cipher) == 2  # half sealed above; the other two quarantined rows
        assert sealing.seal_batch(session, cipher) == 0
    connector_sealing.check_sealed_as_before(TestQuarantinedRows.case, engine, cipher, old)
