"""Upskilling's personal fields at rest: after CSV imports and webhooks nothing of a learner is in the
database file in plain text (not even inside the unique learner and credential keys, nor in a rejected
CSV row's cells and errors), a re-import is
still idempotent, look-ups by e-mail and provider id still find the records, exports show plain values,
a copy taken before an erasure cannot be read after it, and the online migration seals (and unseals)
rows written before sealing while reads go on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.persistence import db, subjects
from services.kit.security import pii
from services.upskilling import bootstrap, handlers, privacy, queries, sealing
from services.upskilling.domain.commands import (
    ImportRecords,
    ListCredentials,
    ListProgress,
    ReceiveWebhook,
)
from services.upskilling.domain.model import Credential, Progress
from services.upskilling.repository import SqlUpskillingUnitOfWork, UpskillingUnitOfWork
from services.upskilling.tables import credentials, progress
from tests import connector_sealing, sealed_db
from tests.unit.upskilling import support

COMPLETIONS = (
    b"provider,course_id,course_name,email,completed_at,external_id,started_at,final_score\r\n"
    b"ecornell,PY101,Python Basics,Pialotta.Q@Example.org,2026-03-01T09:30:00Z,ext-pq-77,2026-02-01,88.5\r\n"
    b"Coursera,ml-1,Machine Learning,linus.t@example.org,2026-03-02,,,\r\n"
    # Refused: one naming Quinby (a bad date), one naming nobody (no valid e-mail), one naming Rosalind.
    b"ecornell,PY102,Python Two,Quinby@Example.org,farrowdale-day,,,\r\n"
    b"Coursera,ml-2,Machine Learning,zebedee-at-nowhere,2026-03-02,,,\r\n"
    b"Coursera,ml-4,Machine Learning,rosalind@example.org,2026-03-02,,,lots\r\n"
)
QUINBY, ROSALIND = connector_sealing.QUINBY, connector_sealing.ROSALIND
CREDENTIALS = (
    b"provider,credential_id,credential_type,email,issued_at,external_id,course_id,course_name,"
    b"expires_at,url,verification_code\n"
    b"itslearning,B-1,Badge,grace.h@example.org,2026-03-01,9917731,MATH-2,Statistics,2028-03-01,"
    b"https://x.example/badge-grace,VC-GRACE-9\n"
)
PIALOTTA = {
    "external_id": "ext-pq-77",
    "email": "Pialotta.Q@Example.org",
    "names": {"first": "Pialotta", "last": "Lindqvist"},
}
# What the samples carry of people: e-mails, provider ids, names, credential urls and codes, metadata.
# (Needles of five characters or more: a shorter one turns up by chance in a file full of ciphertext.)
NEEDLES = [
    "pialotta.q@example.org",
    "grace.h@example.org",
    "linus.t@example.org",
    "ext-pq-77",
    "9917731",
    "solo-learner-5",
    "pialotta",
    "lindqvist",
    "badge-grace",
    "vc-grace-9",
    "cert-url-grace",
    "cohort-secret-7",
    QUINBY,
    "zebedee-at-nowhere",
    ROSALIND,
    "farrowdale",
]


def _load(uow: UpskillingUnitOfWork) -> None:
    """Two CSV imports and webhooks of the three providers: progress, a course-keyed certificate, a
    learner known only by the provider's id, and metadata."""
    handlers.import_records(ImportRecords("acme", "completions", COMPLETIONS), uow=uow)
    handlers.import_records(ImportRecords("acme", "credentials", CREDENTIALS), uow=uow)
    deliveries = [
        ("ecornell", support.ecornell("course.started", "ec-1", user=PIALOTTA, course={"id": "PY200", "name": "Py"})),
        ("ecornell", support.ecornell("certificate.issued", "ec-2", user=PIALOTTA)),
        (
            "itslearning",
            support.itslearning(
                "CourseCompletion",
                userId=9917731,
                userEmail="grace.h@example.org",
                certificateUrl="https://itslearning.example/cert/cert-url-grace",
            ),
        ),
        (
            "generic",
            support.generic(
                "in_progress",
                user_identifier="Linus.T@example.org",
                course_id="ml-3",
                metadata={"cohort": "cohort-secret-7"},
            ),
        ),
        ("generic", support.generic("in_progress", "g-2", user_identifier="solo-learner-5", course_id="ml-2")),
    ]
    for provider, payload in deliveries:
        handlers.receive_webhook(ReceiveWebhook("acme", provider, support.body(payload)), uow=uow)


def _counts(engine: sa.Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        records, held = (
            connection.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in (progress, credentials)
        )
    return records, held


def test_the_database_file_holds_no_e_mail_name_id_url_or_metadata_in_plain_text(
    engine: sa.Engine, uow: UpskillingUnitOfWork
) -> None:
    _load(uow)
    assert _counts(engine) == (6, 3)
    raw = sealed_db.file_bytes(engine).lower()
    assert [n for n in NEEDLES if n.encode() in raw] == []
    assert b"acme" in raw
    assert b"py101" in raw
    with engine.connect() as connection:
        keys = connection.execute(sa.select(progress.c.learner_key)).scalars().all()
        held = connection.execute(sa.select(credentials.c.credential_key)).scalars().all()
    assert sorted(k[:4] for k in keys) == ["pid:"] * 5 + ["xid:"]
    assert (
        sorted(held)[0]
        == "course:MATH-2|pid:" + subjects.Subject.of("acme", email="grace.h@example.org").profile_id + "|certificate"
    )


def test_a_reimport_of_the_same_files_and_webhooks_adds_no_row(engine: sa.Engine, uow: UpskillingUnitOfWork) -> None:
    _load(uow)
    before = _counts(engine)
    handlers.import_records(ImportRecords("acme", "completions", COMPLETIONS), uow=uow)
    handlers.import_records(ImportRecords("acme", "credentials", CREDENTIALS), uow=uow)
    # The same reports under new delivery ids: applied against the stored (sealed) records, not added.
    again = support.ecornell("course.started", "ec-9", user={**PIALOTTA, "email": "someone@else.org"})
    handlers.receive_webhook(ReceiveWebhook("acme", "ecornell", support.body(again)), uow=uow)
    solo = support.generic("completed", "g-9", user_identifier="solo-learner-5", course_id="ml-2")
    handlers.receive_webhook(ReceiveWebhook("acme", "generic", support.body(solo)), uow=uow)
    assert _counts(engine) == before


def _emails(records: Sequence[Progress | Credential]) -> list[str]:
    return sorted(r.learner.email for r in records)


def test_reads_and_look_ups_by_e_mail_and_profile_id_see_plain_values(uow: UpskillingUnitOfWork) -> None:
    _load(uow)
    [py101, py200] = sorted(
        queries.list_progress(ListProgress("acme", email="PIALOTTA.Q@example.org"), uow=uow)[0],
        key=lambda r: r.course.course_id,
    )
    assert (py101.course.course_id, py200.learner.given_name, py200.learner.family_name) == (
        "PY101",
        "Pialotta",
        "Lindqvist",
    )
    assert py101.learner.external_id == "ext-pq-77"
    by_profile = queries.list_progress(ListProgress("acme", profile_id=py101.learner.profile_id), uow=uow)[0]
    assert len(by_profile) == 2
    linus = queries.list_progress(ListProgress("acme", email="linus.t@example.org"), uow=uow)[0]
    assert sorted((r.course.course_id, r.metadata) for r in linus) == [
        ("ml-1", {}),
        ("ml-3", {"cohort": "cohort-secret-7"}),
    ]
    held = queries.list_credentials(ListCredentials("acme", email="grace.h@example.org"), uow=uow)[0]
    assert sorted((c.url, c.verification_code) for c in held) == [
        ("https://itslearning.example/cert/cert-url-grace", ""),
        ("https://x.example/badge-grace", "VC-GRACE-9"),
    ]
    assert queries.list_progress(ListProgress("acme", email="nobody@example.org"), uow=uow)[0] == []


def test_an_export_shows_plain_values(engine: sa.Engine, uow: UpskillingUnitOfWork) -> None:
    _load(uow)
    with db.UnitOfWork(engine).begin() as session:
        found = subjects.export(session, privacy.MAP, subjects.Subject.of("acme", email="grace.h@example.org"))
    [row] = found["upskilling_progress"]
    assert (row["email"], row["external_id"]) == ("grace.h@example.org", "9917731")
    assert "external_index" not in row
    assert sorted((c["url"], c["verification_code"]) for c in found["upskilling_credentials"]) == [
        ("https://itslearning.example/cert/cert-url-grace", ""),
        ("https://x.example/badge-grace", "VC-GRACE-9"),
    ]


def test_a_copy_taken_before_an_erasure_cannot_be_read_after_it(
    engine: sa.Engine, uow: UpskillingUnitOfWork, cipher: pii.PiiCipher, tmp_path: Path
) -> None:
    _load(uow)
    backup = tmp_path / "before-erasure.db"
    connector_sealing.copy(engine, backup)
    with db.UnitOfWork(engine).begin() as session:
        erased = subjects.erase(session, privacy.MAP, subjects.Subject.of("acme", email="pialotta.q@example.org"))
    assert erased.tables == {"upskilling_progress": 2, "upskilling_credentials": 1, "outbox": 4}
    restored = db.create_engine(db.sqlite_url(backup))
    pii.attach(restored, cipher)
    try:
        with restored.connect() as connection:
            rows = connection.execute(sa.select(progress).order_by(progress.c.course_id)).mappings().all()
        mine = [r for r in rows if r["course_id"] in ("PY101", "PY200")]
        assert len(mine) == 2
        for row in mine:
            for column in ("email", "given_name", "external_id", "metadata_json"):
                if row[column]:
                    with pytest.raises(pii.SubjectErased):
                        cipher.open(row[column], field=f"upskilling_progress.{column}", record=row["progress_id"])
        [linus, _] = [r for r in rows if r["email"] and r["course_id"] in ("ml-1", "ml-3")]
        opened = cipher.open(linus["email"], field="upskilling_progress.email", record=linus["progress_id"])
        assert opened == "linus.t@example.org"  # another learner's fields still open
        old = SqlUpskillingUnitOfWork(db.UnitOfWork(restored))
        assert _emails(queries.list_progress(ListProgress("acme", email="grace.h@example.org"), uow=old)[0]) == [
            "grace.h@example.org"
        ]
    finally:
        restored.dispose()


def _read_back(uow: UpskillingUnitOfWork) -> list[tuple[object, ...]]:
    records = queries.list_progress(ListProgress("acme", page_size=100), uow=uow)[0]
    held = queries.list_credentials(ListCredentials("acme", page_size=100), uow=uow)[0]
    assert (
        _emails(queries.list_progress(ListProgress("acme", email="pialotta.q@example.org"), uow=uow)[0])
        == ["pialotta.q@example.org"] * 2
    )
    assert len(queries.list_credentials(ListCredentials("acme", email="grace.h@example.org"), uow=uow)[0]) == 2
    return sorted(
        [
            (r.progress_id, r.learner.email, r.learner.external_id, r.learner.given_name, repr(r.metadata))
            for r in records
        ]
        + [(c.credential_id, c.learner.email, c.url, c.verification_code, "") for c in held]
    )


def test_the_online_migration_seals_old_rows_while_reads_go_on_and_unsealing_rolls_back(
    engine: sa.Engine, uow: UpskillingUnitOfWork, cipher: pii.PiiCipher
) -> None:
    _load(uow)
    expected = _read_back(uow)
    connector_sealing.unsealed(engine, cipher, sealing.unseal_batch)
    with engine.connect() as connection:
        assert "pialotta.q@example.org" in connection.execute(sa.select(progress.c.email)).scalars().all()
        assert "email:linus.t@example.org" in connection.execute(sa.select(progress.c.learner_key)).scalars().all()
        assert (
            "course:MATH-2|email:grace.h@example.org|certificate"
            in connection.execute(sa.select(credentials.c.credential_key)).scalars().all()
        )
    assert _read_back(uow) == expected  # dual read: plain rows before sealing
    # A report against an old (plain) row finds it: no second record.
    again = support.generic("completed", "g-9", user_identifier="solo-learner-5", course_id="ml-2")
    handlers.receive_webhook(ReceiveWebhook("acme", "generic", support.body(again)), uow=uow)
    repeat = support.itslearning(
        "CourseCompletion",
        "it-9",
        userId=9917731,
        userEmail="grace.h@example.org",
        certificateUrl="https://itslearning.example/cert/cert-url-grace",
    )
    handlers.receive_webhook(ReceiveWebhook("acme", "itslearning", support.body(repeat)), uow=uow)
    assert _counts(engine) == (6, 3)
    expected = _read_back(uow)
    connector_sealing.unsealed(
        engine, cipher, sealing.unseal_batch
    )  # the two rows just written are sealed: back to all plain
    steps = db.UnitOfWork(engine)
    with steps.begin() as session:
        assert sealing.seal_batch(session, cipher, batch=4) == 4  # half sealed: four progress rows, not the rest
    assert _read_back(uow) == expected
    with steps.begin() as session:
        assert sealing.seal_batch(session, cipher) == 8  # five records and three quarantined rows
        assert sealing.seal_batch(session, cipher) == 0
    assert _read_back(uow) == expected
    with engine.connect() as connection:
        stored = connection.execute(sa.select(progress.c.email, progress.c.learner_key)).all()
    assert all((pii.is_sealed(email) or not email) and key[:4] in ("pid:", "xid:") for email, key in stored)
    url = str(engine.url)
    with pytest.raises(RuntimeError, match="unseal"):  # a migration holds no keys: sealed rows hold it back
        db.downgrade(url, bootstrap.MIGRATIONS, "0005")
    connector_sealing.unsealed(engine, cipher, sealing.unseal_batch)
    assert _read_back(uow) == expected
    db.downgrade(url, bootstrap.MIGRATIONS, "0005")
    with engine.connect() as connection:
        assert "external_index" not in {c["name"] for c in sa.inspect(connection).get_columns("upskilling_progress")}


ERRORS = [(4, "completed_at", "farrowdale-day"), (5, "email", "zebedee-at-nowhere"), (6, "final_score", "lots")]

DOWNGRADE = (bootstrap.MIGRATIONS, "0006", "3 upskilling rows are sealed: run `teei pii unseal")


# Upskilling's refused completions (each names one learner at most).
class TestQuarantinedRows(connector_sealing.QuarantinedRows):
    case = connector_sealing.Quarantine(privacy.MAP, _load, ERRORS, "farrowdale-day", DOWNGRADE)


def test_the_online_migration_seals_quarantined_rows_from_before_sealing(
    engine: sa.Engine, uow: UpskillingUnitOfWork, cipher: pii.PiiCipher
) -> None:
    _load(uow)
    connector_sealing.unsealed(engine, cipher, sealing.unseal_batch)
    old = connector_sealing.made_old(TestQuarantinedRows.case, engine)
    with db.UnitOfWork(engine).begin() as session:
        while sealing.seal_batch(session, cipher, batch=1):
            pass
    connector_sealing.check_sealed_as_before(TestQuarantinedRows.case, engine, cipher, old)
