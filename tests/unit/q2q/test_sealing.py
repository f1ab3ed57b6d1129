"""Q2Q's personal free text at rest: after texts are scored and held and a manual score is noted, nothing
a person wrote (evidence snippets, held texts, notes) is in the database file in plain text; reads see
plain values; exports show them; a copy taken before an erasure cannot be read after it, while another
person's evidence of the same words still opens; and the online migration splits shared evidence per
person and seals (and unseals) rows written before sealing while reads go on."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.identity import profile_id_for_email
from services.kit.persistence import db, subjects
from services.kit.security import pii
from services.kit.text_sources import TextSourceType
from services.q2q import bootstrap, handlers, privacy, queries, sealing
from services.q2q import tables as t
from services.q2q.domain.classifier import RuleBasedClassifier
from services.q2q.domain.commands import ListScores, RecordManualScore, SourceText
from services.q2q.domain.model import ScoreFilter, SourceRef
from services.q2q.domain.taxonomy import Dimension
from services.q2q.repository import SqlQ2qRepository, SqlQ2qUnitOfWork
from tests import sealed_db

ADA, BO = "ada.quill@example.org", "bo.zephyr@example.org"
ADA_ID, BO_ID = profile_id_for_email("acme", ADA), profile_id_for_email("acme", BO)
# Both write the same words a rule picks as evidence ("applied for three jobs", "lonely").
ADA_TEXT = "Quillfeather here: I feel so lonely, but I applied for three jobs."
BO_TEXT = "Zephyrwood again: I applied for three jobs and feel lonely."
BO_HELD = "Zephyrwood asks to be called back at [PHONE], Marrowdale street"
ADA_NOTE = f"Quillfeather told me she is ready ({ADA}, 811228-9874)"
NEEDLES = ["applied for three jobs", "quillfeather", "zephyrwood", "marrowdale", "811228-9874", ADA]
HELD_SOURCE = SourceRef(TextSourceType.BUDDY_FEEDBACK, "b-9")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _load(uow: db.UnitOfWork) -> None:
    """Ada's and Bo's texts scored, Bo's second text held for review, a manual score about Ada noted."""
    with uow.begin() as session:
        repo = SqlQ2qRepository(session, company_id="acme")
        for source_id, profile_id, text in (("s-1", ADA_ID, ADA_TEXT), ("s-2", BO_ID, BO_TEXT)):
            source = SourceRef(TextSourceType.KINTELL_SESSION_FEEDBACK, source_id)
            passed = SourceText(
                "acme", source, profile_id, text, screened_safe=True, screened_unsafe=False, review_id=""
            )
            handlers.receive_source_text(passed, repo=repo, classifier=RuleBasedClassifier())
        held = SourceText(
            "acme", HELD_SOURCE, BO_ID, BO_HELD, screened_safe=False, screened_unsafe=False, review_id="r-1"
        )
        handlers.receive_source_text(held, repo=repo, classifier=RuleBasedClassifier())
    manual = RecordManualScore("acme", ADA_ID, None, "", Dimension.JOB_READINESS, 0.8, ADA_NOTE, "coach@acme.example")
    handlers.record_manual_score(manual, uow=SqlQ2qUnitOfWork(uow))


def _read_back(uow: db.UnitOfWork) -> tuple[list[tuple[str, str, str, list[str]]], str]:
    """Every score (person, dimension, note, evidence words) and Bo's held text, as the reads see them."""
    page = queries.list_scores(ListScores("acme", page_size=100), uow=SqlQ2qUnitOfWork(uow))
    scores = sorted((s.profile_id, s.dimension.value, s.note, sorted(e.text for e in s.evidence)) for s in page.scores)
    with uow.begin() as session:
        held = SqlQ2qRepository(session, company_id="acme").get_pending(HELD_SOURCE)
    assert held is not None
    return scores, held.text


def _evidence_of(uow: db.UnitOfWork, profile_id: str) -> set[str]:
    where = ScoreFilter(profile_id=profile_id)
    page = queries.list_scores(ListScores("acme", where=where, page_size=100), uow=SqlQ2qUnitOfWork(uow))
    return {e.text for s in page.scores for e in s.evidence}


def test_the_database_file_holds_no_snippet_held_text_or_note_in_plain_text(
    engine: sa.Engine, uow: db.UnitOfWork
) -> None:
    _load(uow)
    raw = sealed_db.file_bytes(engine).lower()
    assert [n for n in NEEDLES if n.encode() in raw] == []
    assert ADA_ID.encode() in raw
    assert b"coach@acme.example" in raw  # who recorded a score is staff, not the data subject: plain


def test_reads_see_plain_values_and_each_person_has_their_own_evidence(engine: sa.Engine, uow: db.UnitOfWork) -> None:
    _load(uow)
    scores, held = _read_back(uow)
    assert held == BO_HELD
    assert [note for _, _, note, _ in scores if note] == [ADA_NOTE]
    assert _evidence_of(uow, ADA_ID) == _evidence_of(uow, BO_ID) == {"lonely", "applied for three jobs"}
    with engine.connect() as connection:
        stored = connection.execute(sa.select(t.evidence.c.profile_id, t.evidence.c.snippet)).all()
        note = connection.execute(sa.select(t.scores.c.note).where(t.scores.c.note != "")).scalar_one()
        text = connection.execute(sa.select(t.pending.c.text)).scalar_one()
    assert sorted(p for p, _ in stored) == sorted([ADA_ID, ADA_ID, BO_ID, BO_ID])  # the same words, twice
    assert all(pii.is_sealed(snippet) for _, snippet in stored)
    assert pii.is_sealed(note)
    assert pii.is_sealed(text)
    again = RecordManualScore("acme", ADA_ID, None, "", Dimension.JOB_READINESS, 0.8, ADA_NOTE, "coach@acme.example")
    repeated = handlers.record_manual_score(again, uow=SqlQ2qUnitOfWork(uow))  # found by its opened note
    assert len(_read_back(uow)[0]) == len(scores)
    assert repeated.note == ADA_NOTE


def test_an_export_shows_plain_values(engine: sa.Engine, uow: db.UnitOfWork) -> None:
    _load(uow)
    with db.UnitOfWork(engine).begin() as session:
        ada = subjects.export(session, privacy.MAP, subjects.Subject.of("acme", email=ADA))
        bo = subjects.export(session, privacy.MAP, subjects.Subject.of("acme", email=BO))
    assert [r["note"] for r in ada["q2q_scores"] if r["note"]] == [ADA_NOTE]
    assert {r["snippet"] for r in ada["q2q_evidence"]} == {"lonely", "applied for three jobs"}
    assert {r["profile_id"] for r in ada["q2q_evidence"]} == {ADA_ID}
    assert [r["text"] for r in bo["q2q_pending_texts"]] == [BO_HELD]


def test_a_copy_taken_before_an_erasure_cannot_be_read_after_it(
    engine: sa.Engine, uow: db.UnitOfWork, cipher: pii.PiiCipher, tmp_path: Path
) -> None:
    _load(uow)
    backup = tmp_path / "before-erasure.db"
    with sqlite3.connect(str(engine.url.database)) as live, sqlite3.connect(backup) as copy:
        live.backup(copy)
    with db.UnitOfWork(engine).begin() as session:
        erased = subjects.erase(session, privacy.MAP, subjects.Subject.of("acme", email=ADA))
    assert erased.tables["q2q_evidence"] == 2  # Ada's own snippets, not Bo's of the same words
    assert _evidence_of(uow, BO_ID) == {"lonely", "applied for three jobs"}
    restored = db.create_engine(db.sqlite_url(backup))
    try:
        with restored.connect() as connection:
            snippets = connection.execute(sa.select(t.evidence)).mappings().all()
            [note] = connection.execute(sa.select(t.scores).where(t.scores.c.note != "")).mappings().all()
    finally:
        restored.dispose()
    for row in snippets:
        if row["profile_id"] == ADA_ID:
            with pytest.raises(pii.SubjectErased):
                sealing.open_snippet(cipher, row["snippet"], row["evidence_hash"])
        else:  # the other person's evidence of the same words still opens
            assert sealing.open_snippet(cipher, row["snippet"], row["evidence_hash"]) in {
                "lonely",
                "applied for three jobs",
            }
    with pytest.raises(pii.SubjectErased):
        cipher.open(note["note"], field="q2q_scores.note", record=note["score_id"])


def _legacy_rows(url: str) -> None:
    """What the service wrote before sealing (revision 0005): plain texts, and one snippet row per company
    and words, linked from both people's scores."""
    db.upgrade(url, bootstrap.MIGRATIONS, "0005")
    shared = hashlib.sha256(b"job_search\x1fapplied for three jobs").hexdigest()
    common = {"company_id": "acme", "method": "rule_based", "model_version": "rules-1.0.0", "created_at": NOW}
    engine = db.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                t.evidence.insert().values(
                    company_id="acme", evidence_hash=shared, label="job_search", snippet="applied for three jobs",
                    created_at=NOW,
                )
            )  # fmt: skip
            for score_id, profile_id, note in (("sc-a", ADA_ID, ADA_NOTE), ("sc-b", BO_ID, "")):
                connection.execute(
                    t.scores.insert().values(
                        **common, score_id=score_id, profile_id=profile_id, dimension="job_readiness", score=0.7,
                        confidence=0.7, content_hash="h", labels="job_search", recorded_by="", note=note,
                    )
                )  # fmt: skip
                connection.execute(
                    t.score_evidence.insert().values(
                        score_id=score_id, evidence_hash=shared, start_offset=3, company_id="acme", end_offset=25,
                        reason="applies for or finds work",
                    )
                )  # fmt: skip
            connection.execute(
                t.pending.insert().values(
                    company_id="acme", source_type=HELD_SOURCE.source_type.value, source_id=HELD_SOURCE.source_id,
                    profile_id=BO_ID, text=BO_HELD, review_id="r-1", state="awaiting_review", created_at=NOW,
                    updated_at=NOW,
                )
            )  # fmt: skip
    finally:
        engine.dispose()


def test_the_online_migration_splits_and_seals_old_rows_while_reads_go_on_and_unsealing_rolls_back(
    tmp_path: Path, cipher: pii.PiiCipher
) -> None:
    url = db.sqlite_url(tmp_path / "legacy.db")
    _legacy_rows(url)
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    pii.attach(engine, cipher)
    uow = db.UnitOfWork(engine)
    try:
        expected = _read_back(uow)  # dual read: plain rows from before sealing
        assert expected == (
            [
                (ADA_ID, "job_readiness", ADA_NOTE, ["applied for three jobs"]),
                (BO_ID, "job_readiness", "", ["applied for three jobs"]),
            ],
            BO_HELD,
        )
        with uow.begin() as session:
            assert sealing.seal_batch(session, cipher, batch=1) == 1  # half way: the shared snippet split, sealed
        assert _read_back(uow) == expected
        with engine.connect() as connection:
            split = connection.execute(sa.select(t.evidence.c.profile_id, t.evidence.c.snippet)).all()
            note = connection.execute(sa.select(t.scores.c.note).where(t.scores.c.score_id == "sc-a")).scalar_one()
        assert sorted(p for p, _ in split) == sorted([ADA_ID, BO_ID])
        assert all(pii.is_sealed(s) for _, s in split)
        assert note == ADA_NOTE  # not sealed yet
        with uow.begin() as session:
            assert sealing.seal_batch(session, cipher) == 2  # the note and the held text
            assert sealing.seal_batch(session, cipher) == 0
        assert _read_back(uow) == expected
        assert [n for n in NEEDLES if n.encode() in sealed_db.file_bytes(engine).lower()] == []
        with pytest.raises(RuntimeError, match="unseal"):  # a migration holds no keys: sealed rows hold it back
            db.downgrade(url, bootstrap.MIGRATIONS, "0005")
        with uow.begin() as session:
            while sealing.unseal_batch(session, cipher):
                pass
        assert _read_back(uow) == expected
    finally:
        engine.dispose()
    db.downgrade(url, bootstrap.MIGRATIONS, "0005")
    check = db.create_engine(url)
    try:
        with check.connect() as connection:
            assert "profile_id" not in {c["name"] for c in sa.inspect(connection).get_columns("q2q_evidence")}
            assert set(connection.execute(sa.text("SELECT snippet FROM q2q_evidence")).scalars()) == {
                "applied for three jobs"
            }
    finally:
        check.dispose()
