"""The subject map engine on a small schema: export by e-mail or profile id within one company, deletion
of rows naming only the subject with their children, anonymisation of shared rows, orphaned shared
rows, free-text scrubbing and rows kept on purpose."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.persistence import subjects
from services.kit.persistence.subjects import Child, Holding, Orphans, Person, Scrub, Subject, SubjectMap

md = sa.MetaData()
pairs = sa.Table(
    "pairs",
    md,
    sa.Column("pair_id", sa.String, primary_key=True),
    sa.Column("company_id", sa.String, nullable=False),
    sa.Column("a_email", sa.String, nullable=False),
    sa.Column("a_note", sa.String, nullable=False),
    sa.Column("b_email", sa.String, nullable=False),
)
notes = sa.Table(
    "notes",
    md,
    sa.Column("note_id", sa.String, primary_key=True),
    sa.Column("pair_id", sa.String, nullable=False),
    sa.Column("role", sa.String, nullable=False),
    sa.Column("snippet", sa.String, nullable=False),
)
shared = sa.Table(
    "shared",
    md,
    sa.Column("company_id", sa.String, primary_key=True),
    sa.Column("snippet", sa.String, primary_key=True),
)
clients = sa.Table(
    "clients",
    md,
    sa.Column("client_id", sa.String, primary_key=True),
    sa.Column("company_id", sa.String, nullable=False),
    sa.Column("email", sa.String, nullable=True),
)
MAP = SubjectMap(
    service="test",
    holdings=(
        Holding(
            pairs,
            persons={"a": Person(email="a_email", owned=("a_note",)), "b": Person(email="b_email")},
            key="pair_id",
            children=(Child(notes, column="pair_id", key="note_id", by_column="role"),),
        ),
        Holding(clients, persons={"owner": Person(email="email")}, key="client_id", keep_rows=True),
    ),
    orphans=(Orphans(shared, link=notes, columns=("snippet",)),),
    scrubs=(Scrub(pairs, ("a_note",)),),
    scrub_outbox=False,
    scrub_idempotency=False,
)
ADA = Subject.of("acme", email=" Ada@Example.org ")


@pytest.fixture
def session() -> Iterator[orm.Session]:
    engine = sa.create_engine("sqlite://")
    md.create_all(engine)
    with orm.Session(engine) as s, s.begin():
        s.execute(
            pairs.insert(),
            [
                {"pair_id": "p1", "company_id": "acme", "a_email": "ada@example.org", "a_note": "mine", "b_email": ""},
                {
                    "pair_id": "p2",
                    "company_id": "acme",
                    "a_email": "ADA@example.org",
                    "a_note": "x",
                    "b_email": "bo@x.org",
                },
                {
                    "pair_id": "p3",
                    "company_id": "acme",
                    "a_email": "bo@x.org",
                    "a_note": "ask ada@example.org",
                    "b_email": "",
                },
                {"pair_id": "p4", "company_id": "globex", "a_email": "ada@example.org", "a_note": "", "b_email": ""},
            ],
        )
        s.execute(
            notes.insert(),
            [
                {"note_id": "n1", "pair_id": "p1", "role": "a", "snippet": "s1"},
                {"note_id": "n2", "pair_id": "p2", "role": "a", "snippet": "s2"},
                {"note_id": "n3", "pair_id": "p2", "role": "b", "snippet": "s3"},
            ],
        )
        s.execute(shared.insert(), [{"company_id": "acme", "snippet": v} for v in ("s1", "s2", "s3")])
        s.execute(clients.insert(), [{"client_id": "c1", "company_id": "acme", "email": "ada@example.org"}])
        yield s


def test_subject_needs_a_name_and_derives_its_profile_id() -> None:
    with pytest.raises(ValueError, match="profile id or an e-mail"):
        Subject.of("acme")
    assert ADA.email == "ada@example.org"
    assert ADA.profile_id == Subject.of("acme", email="ada@example.org").profile_id


def test_export_finds_the_subject_in_its_company_only(session: orm.Session) -> None:
    records = subjects.export(session, MAP, ADA)
    assert [r["pair_id"] for r in records["pairs"]] == ["p1", "p2"]
    assert sorted(r["note_id"] for r in records["notes"]) == ["n1", "n2", "n3"]
    assert [r["client_id"] for r in records["clients"]] == ["c1"]
    assert subjects.count(records) == 6


def test_erase_deletes_own_rows_anonymises_shared_ones_and_cleans_up(session: orm.Session) -> None:
    result = subjects.erase(session, MAP, ADA)
    assert result.found == 6
    left = {r.pair_id: r for r in session.execute(sa.select(pairs))}
    assert set(left) == {"p2", "p3", "p4"}
    assert (left["p2"].a_email, left["p2"].a_note, left["p2"].b_email) == ("", "", "bo@x.org")
    assert left["p3"].a_note == "ask [erased]"
    assert left["p4"].a_email == "ada@example.org"  # another company's person
    assert list(session.execute(sa.select(notes.c.note_id)).scalars()) == ["n3"]
    assert list(session.execute(sa.select(shared.c.snippet)).scalars()) == ["s3"]
    assert session.execute(sa.select(clients.c.email)).scalar_one() is None
    assert result.tables == {"pairs": 3, "notes": 2, "clients": 1, "shared": 2}


def test_erase_twice_finds_nothing_the_second_time(session: orm.Session) -> None:
    subjects.erase(session, MAP, ADA)
    again = subjects.erase(session, MAP, ADA)
    assert (again.found, again.erased) == (0, 0)


def test_export_withholds_the_other_persons_columns_of_a_shared_row(session: orm.Session) -> None:
    """Each side of a shared row sees only its own columns; the other's read as WITHHELD."""
    ada = {r["pair_id"]: r for r in subjects.export(session, MAP, ADA)["pairs"]}
    bo = {r["pair_id"]: r for r in subjects.export(session, MAP, Subject.of("acme", email="bo@x.org"))["pairs"]}
    withheld = subjects.WITHHELD
    assert (ada["p2"]["a_email"], ada["p2"]["a_note"], ada["p2"]["b_email"]) == ("ADA@example.org", "x", withheld)
    assert (bo["p2"]["a_email"], bo["p2"]["a_note"], bo["p2"]["b_email"]) == (withheld, withheld, "bo@x.org")
    assert ada["p2"]["company_id"] == bo["p2"]["company_id"] == "acme"  # non-personal columns stay


def test_export_keeps_both_sides_of_a_row_naming_the_subject_twice(session: orm.Session) -> None:
    row = {
        "pair_id": "p5",
        "company_id": "acme",
        "a_email": "ada@example.org",
        "a_note": "n",
        "b_email": "Ada@example.org",
    }
    session.execute(pairs.insert().values(**row))
    [mine] = [r for r in subjects.export(session, MAP, ADA)["pairs"] if r["pair_id"] == "p5"]
    assert mine == row
