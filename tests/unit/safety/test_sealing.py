"""Safety's personal free text at rest: after screenings and review decisions nothing a person wrote (nor
what a reviewer wrote about it) is in the database file in plain text, reads and the review queue see
plain values, exports show them, a copy taken before an erasure cannot be read after it, and the online
migration seals (and unseals) rows written before sealing while reads go on."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.identity import profile_id_for_email
from services.kit.persistence import db, subjects
from services.kit.security import pii
from services.kit.text_sources import TextSourceType
from services.safety import bootstrap, handlers, privacy, queries, sealing
from services.safety.domain.commands import DecideReview, GetFlag, GetReview, ListFlags, ListReviews, ScreenText
from services.safety.domain.model import ReviewDecision, TextSource
from services.safety.repository import SqlSafetyUnitOfWork
from services.safety.tables import flags, review_actions
from tests import sealed_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ADA, BO = "ada.quill@example.org", "bo.zephyr@example.org"
ADA_ID, BO_ID = profile_id_for_email("acme", ADA), profile_id_for_email("acme", BO)
# Distinctive words of each person's text, kept in the redacted text; the e-mail and national id are
# masked by the screening itself, and a reviewer's note repeats them.
ADA_TEXT = f"you are such an idiot, Quillfeather, my personnummer is 811228-9874, write to {ADA}"
BO_TEXT = "I want to kill myself tonight, Zephyrwood"
ADA_NOTE = f"called Quillfeather about 811228-9874 ({ADA})"
NEEDLES = ["quillfeather", "zephyrwood", "811228-9874", ADA, "kill myself", "such an idiot"]


def _screen(uow: SqlSafetyUnitOfWork) -> tuple[str, str]:
    """Ada's and Bo's texts screened (each raises a flag and a review); Ada's review decided with a note."""
    ada = handlers.screen_text(
        ScreenText("acme", ADA_TEXT, TextSource("m-1", TextSourceType.SURVEY_RESPONSE, ADA_ID)), uow=uow
    )
    bo = handlers.screen_text(
        ScreenText("acme", BO_TEXT, TextSource("m-2", TextSourceType.BUDDY_FEEDBACK, BO_ID)), uow=uow
    )
    escalate = DecideReview("acme", ada.review_id, ReviewDecision.ESCALATE, reviewer="rita@acme.example")
    handlers.decide_review(escalate, uow=uow, clock=lambda: NOW)
    approve = DecideReview("acme", ada.review_id, ReviewDecision.APPROVE, reviewer="sam@acme.example", notes=ADA_NOTE)
    handlers.decide_review(approve, uow=uow, clock=lambda: NOW)
    return ada.flag_id, bo.flag_id


def _read_back(uow: SqlSafetyUnitOfWork) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Each review in the queue: its flag's redacted text, finding types and decisions (reviewer, notes)."""
    records = queries.list_reviews(ListReviews("acme", page_size=10), uow=uow)[0]
    flagged = queries.list_flags(ListFlags("acme", page_size=10), uow=uow)[0]
    texts = {f.flag_id: f.redacted_text for f in flagged}
    assert {r.flag.flag_id: r.flag.redacted_text for r in records} == texts
    return sorted(
        (
            r.flag.redacted_text,
            ",".join(sorted(f.type.value for f in r.flag.findings)),
            [(a.reviewer, a.notes) for a in r.review.history],
        )
        for r in records
    )


def test_the_database_file_holds_no_flagged_text_or_review_note_in_plain_text(
    engine: sa.Engine, uow: SqlSafetyUnitOfWork
) -> None:
    _screen(uow)
    raw = sealed_db.file_bytes(engine).lower()
    assert [n for n in NEEDLES if n.encode() in raw] == []
    assert b"acme" in raw
    assert ADA_ID.encode() in raw
    assert b"rita@acme.example" in raw  # reviewers are staff, not data subjects: plain


def test_reads_and_review_decisions_see_plain_values(engine: sa.Engine, uow: SqlSafetyUnitOfWork) -> None:
    ada_flag, _ = _screen(uow)
    flag = queries.get_flag(GetFlag("acme", ada_flag), uow=uow)
    assert flag.redacted_text.startswith("you are such an idiot, Quillfeather, my personnummer is [NATIONAL_ID]")
    assert {f.subtype for f in flag.findings} == {"insult", "national_id", "email"}
    [pending] = queries.list_reviews(ListReviews("acme", status="pending", profile_id=BO_ID), uow=uow)[0]
    assert pending.flag.redacted_text == BO_TEXT
    decided = handlers.decide_review(
        DecideReview("acme", pending.review.review_id, ReviewDecision.REJECT, reviewer="rita@acme.example", notes="ok"),
        uow=uow,
    )
    assert decided.flag.redacted_text == BO_TEXT
    ada_review = queries.get_review(GetReview("acme", flag.review_id), uow=uow)
    assert [(a.reviewer, a.notes) for a in ada_review.review.history] == [
        ("rita@acme.example", ""),
        ("sam@acme.example", ADA_NOTE),
    ]
    with engine.connect() as connection:
        stored = connection.execute(sa.select(flags.c.redacted_text, flags.c.findings)).all()
        notes = connection.execute(sa.select(review_actions.c.notes)).scalars().all()
    assert all(pii.is_sealed(text) and pii.is_sealed(found) for text, found in stored)
    assert sorted(pii.is_sealed(n) for n in notes) == [False, True, True]  # an empty note stays empty


def test_an_export_shows_plain_values(engine: sa.Engine, uow: SqlSafetyUnitOfWork) -> None:
    _screen(uow)
    with db.UnitOfWork(engine).begin() as session:
        found = subjects.export(session, privacy.MAP, subjects.Subject.of("acme", email=ADA))
    [row] = found["safety_flags"]
    assert "Quillfeather" in row["redacted_text"]
    assert {f["subtype"] for f in row["findings"]} == {"insult", "national_id", "email"}
    assert [a["notes"] for a in found["safety_review_actions"]] == ["", ADA_NOTE]


def test_a_copy_taken_before_an_erasure_cannot_be_read_after_it(
    engine: sa.Engine, uow: SqlSafetyUnitOfWork, cipher: pii.PiiCipher, tmp_path: Path
) -> None:
    ada_flag, bo_flag = _screen(uow)
    backup = tmp_path / "before-erasure.db"
    with sqlite3.connect(str(engine.url.database)) as live, sqlite3.connect(backup) as copy:
        live.backup(copy)
    with db.UnitOfWork(engine).begin() as session:
        erased = subjects.erase(session, privacy.MAP, subjects.Subject.of("acme", email=ADA))
    assert erased.tables == {"safety_flags": 1, "safety_reviews": 1, "safety_review_actions": 2, "outbox": 2}
    restored = db.create_engine(db.sqlite_url(backup))
    try:
        with restored.connect() as connection:
            stored = {r.flag_id: r for r in connection.execute(sa.select(flags))}
            [note] = connection.execute(sa.select(review_actions).where(review_actions.c.notes != "")).all()
    finally:
        restored.dispose()
    for column in sealing.FLAG_TEXTS:
        with pytest.raises(pii.SubjectErased):
            cipher.open(getattr(stored[ada_flag], column), field=f"safety_flags.{column}", record=ada_flag)
    with pytest.raises(pii.SubjectErased):
        cipher.open(note.notes, field="safety_review_actions.notes", record=str(note.action_id))
    bo_text = cipher.open(stored[bo_flag].redacted_text, field="safety_flags.redacted_text", record=bo_flag)
    assert bo_text == BO_TEXT  # the other person's text still opens
    assert [r.flag.redacted_text for r in queries.list_reviews(ListReviews("acme"), uow=uow)[0]] == [BO_TEXT]


def _unsealed(engine: sa.Engine, cipher: pii.PiiCipher) -> None:
    """Rows as the service wrote them before sealing: plain values."""
    with db.UnitOfWork(engine).begin() as session:
        while sealing.unseal_batch(session, cipher):
            pass


def test_the_online_migration_seals_old_rows_while_reads_go_on_and_unsealing_rolls_back(
    engine: sa.Engine, uow: SqlSafetyUnitOfWork, cipher: pii.PiiCipher
) -> None:
    _screen(uow)
    expected = _read_back(uow)
    _unsealed(engine, cipher)
    with engine.connect() as connection:
        assert BO_TEXT in connection.execute(sa.select(flags.c.redacted_text)).scalars().all()
        assert ADA_NOTE in connection.execute(sa.select(review_actions.c.notes)).scalars().all()
    assert _read_back(uow) == expected  # dual read: plain rows before sealing
    steps = db.UnitOfWork(engine)
    with steps.begin() as session:
        assert sealing.seal_batch(session, cipher, batch=1) == 1  # half sealed: one flag sealed, one not
    assert _read_back(uow) == expected
    with steps.begin() as session:
        assert sealing.seal_batch(session, cipher) == 2  # the other flag and the note
        assert sealing.seal_batch(session, cipher) == 0
    assert _read_back(uow) == expected
    with engine.connect() as connection:
        assert all(pii.is_sealed(t) for t in connection.execute(sa.select(flags.c.redacted_text)).scalars())
        notes = connection.execute(sa.select(review_actions.c.notes).where(review_actions.c.notes != ""))
        assert all(pii.is_sealed(n) for n in notes.scalars())
    url = str(engine.url)
    with pytest.raises(RuntimeError, match="unseal"):  # a migration holds no keys: sealed rows hold it back
        db.downgrade(url, bootstrap.MIGRATIONS, "0006")
    _unsealed(engine, cipher)
    assert _read_back(uow) == expected
    db.downgrade(url, bootstrap.MIGRATIONS, "0006")
