"""The profile service's personal fields at rest: nothing of a person is in the database file in plain
text, look-ups by e-mail and external id still find them, a copy taken before their erasure cannot be
read after it, a merge keeps identities readable, and the online migration seals (and unseals) rows
written before sealing while reads go on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

from services.kit.persistence import db, subjects
from services.kit.security import pii
from services.profile import handlers, privacy, queries, sealing
from services.profile.domain.commands import CreateProfile, GetProfile, LinkExternalId, ListProfiles, MergeProfiles
from services.profile.domain.model import ExternalId, PersonRole, Provider
from services.profile.repository import SqlProfileUnitOfWork
from services.profile.tables import external_ids, profiles
from tests.unit.profile.support import deliver, session_completed

PEOPLE = [("ada.lovelace@example.org", "Adaline", "Lovelacey"), ("bo.berg@example.org", "Bosse", "Bergqvist")]


def _create(uow: SqlProfileUnitOfWork, email: str, given: str, family: str) -> str:
    made = handlers.create_profile(CreateProfile("acme", email, given, family, PersonRole.PARTICIPANT), uow=uow)
    handlers.link_external_id(
        LinkExternalId("acme", made.profile_id, Provider.KINTELL, f"kin-{given.lower()}"), uow=uow
    )
    return made.profile_id


def _file_bytes(engine: sa.Engine) -> bytes:
    """The database file as a thief would copy it (the write-ahead log moved into it first)."""
    path = Path(str(engine.url.database))
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_the_database_file_holds_no_e_mail_name_or_external_id_in_plain_text(
    engine: sa.Engine, uow: SqlProfileUnitOfWork
) -> None:
    for person in PEOPLE:
        _create(uow, *person)
    deliver(engine, session_completed("k-1", participant="cy.crane@example.org"))  # created by an event
    raw = _file_bytes(engine).lower()
    needles = [v.lower() for person in PEOPLE for v in person] + ["kin-adaline", "cy.crane@example.org"]
    assert [n for n in needles if n.encode() in raw] == []
    assert b"acme" in raw  # the scan reads the file: unsealed columns are there


def test_look_ups_by_e_mail_and_external_id_find_the_sealed_person(
    engine: sa.Engine, uow: SqlProfileUnitOfWork
) -> None:
    ada = _create(uow, *PEOPLE[0])
    _create(uow, *PEOPLE[1])
    found, _ = queries.list_profiles(ListProfiles("acme", "Ada.Lovelace@example.org", 10, ""), uow=uow)
    assert [(p.profile_id, p.given_name, p.family_name) for p in found] == [(ada, "Adaline", "Lovelacey")]
    with uow.read(company_id="acme") as repository:
        owner = repository.get_by_external_id(ExternalId(Provider.KINTELL, "kin-adaline"))
    assert owner is not None
    assert owner.profile_id == ada
    assert queries.list_profiles(ListProfiles("globex", PEOPLE[0][0], 10, ""), uow=uow)[0] == []


def test_a_copy_taken_before_an_erasure_cannot_be_read_after_it(
    engine: sa.Engine, uow: SqlProfileUnitOfWork, cipher: pii.PiiCipher, tmp_path: Path
) -> None:
    ada = _create(uow, *PEOPLE[0])
    bo = _create(uow, *PEOPLE[1])
    backup = tmp_path / "before-erasure.db"
    with sqlite3.connect(str(engine.url.database)) as live, sqlite3.connect(backup) as copy:
        live.backup(copy)
    with db.UnitOfWork(engine).begin() as session:
        subjects.erase(session, privacy.MAP, subjects.Subject.of("acme", email=PEOPLE[0][0]))
    restored = db.create_engine(db.sqlite_url(backup))
    pii.attach(restored, cipher)
    try:
        with restored.connect() as connection:
            row = connection.execute(sa.select(profiles).where(profiles.c.profile_id == ada)).mappings().one()
        try:
            sealing.opened_profile(cipher, row)
        except pii.SubjectErased:
            pass
        else:
            raise AssertionError("the erased person's fields opened from a copy taken before the erasure")
        old = SqlProfileUnitOfWork(db.UnitOfWork(restored))
        assert queries.get_profile(GetProfile("acme", bo), uow=old).email == PEOPLE[1][0]
    finally:
        restored.dispose()


def test_a_merge_seals_the_moved_identities_with_the_survivors_key(
    uow: SqlProfileUnitOfWork, cipher: pii.PiiCipher
) -> None:
    survivor, duplicate = _create(uow, *PEOPLE[0]), _create(uow, *PEOPLE[1])
    handlers.merge_profiles(MergeProfiles("acme", survivor, duplicate, "same person", "user-1"), uow=uow)
    cipher.shred("acme", duplicate)  # the duplicate's key goes; what moved to the survivor must not go with it
    merged = queries.get_profile(GetProfile("acme", survivor), uow=uow)
    assert {e.external_id for e in merged.external_ids} == {"kin-adaline", "kin-bosse"}


def _old_rows(engine: sa.Engine) -> None:
    """Rows as the service wrote them before sealing: plain values, no blind indexes."""
    with engine.begin() as connection:
        for n, (email, given, family) in enumerate(PEOPLE):
            profile_id = f"00000000-0000-0000-0000-00000000000{n}"
            connection.execute(
                profiles.insert().values(
                    profile_id=profile_id, company_id="acme", email=email, given_name=given, family_name=family,
                    role="participant", created_at=sa.func.now(), updated_at=sa.func.now(),
                )
            )  # fmt: skip
            connection.execute(
                external_ids.insert().values(
                    company_id="acme", provider="kintell", external_id=f"kin-{n}", profile_id=profile_id,
                    created_at=sa.func.now(),
                )
            )  # fmt: skip


def _read_back(uow: SqlProfileUnitOfWork) -> list[tuple[str, str, str, list[str]]]:
    out = []
    for email, _, _ in PEOPLE:
        found, _ = queries.list_profiles(ListProfiles("acme", email, 10, ""), uow=uow)
        out += [(p.email, p.given_name, p.family_name, [e.external_id for e in p.external_ids]) for p in found]
    with uow.read(company_id="acme") as repository:
        owners = [repository.get_by_external_id(ExternalId(Provider.KINTELL, f"kin-{n}")) for n in range(2)]
    assert [o.email if o else None for o in owners] == [p[0] for p in PEOPLE]
    return out


def test_the_online_migration_seals_old_rows_while_reads_go_on_and_unsealing_rolls_back(
    engine: sa.Engine, uow: SqlProfileUnitOfWork, cipher: pii.PiiCipher
) -> None:
    _old_rows(engine)
    expected = [(e, g, f, [f"kin-{n}"]) for n, (e, g, f) in enumerate(PEOPLE)]
    assert _read_back(uow) == expected  # dual read: plain rows before sealing
    sessions = db.UnitOfWork(engine)
    with sessions.begin() as session:
        assert sealing.seal_batch(session, cipher, batch=3) == 3  # a partial batch: some rows sealed, some not
    assert _read_back(uow) == expected
    with sessions.begin() as session:
        assert sealing.seal_batch(session, cipher) == 1
        assert sealing.seal_batch(session, cipher) == 0
    assert _read_back(uow) == expected
    with engine.connect() as connection:
        stored = connection.execute(sa.select(profiles.c.email, external_ids.c.external_id).join(external_ids)).all()
    assert all(pii.is_sealed(email) and not external.startswith("kin-") for email, external in stored)
    with sessions.begin() as session:
        assert sealing.unseal_batch(session, cipher) == 4
    with engine.connect() as connection:
        plain = connection.execute(sa.select(profiles.c.email).order_by(profiles.c.profile_id)).scalars().all()
    assert plain == [p[0] for p in PEOPLE]
    assert _read_back(uow) == expected
