"""Buddy revision 0003 on a database that already holds records: it derives the profile id of every
stored person (match participant and buddy, check-in person, feedback author, each event attendee),
across more than one backfill batch and company, indexes it, and its downgrade removes exactly what
it added, keeping the records."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.buddy import bootstrap, queries
from services.buddy.domain.commands import ListRecords, RecordFilter
from services.buddy.repository import SqlBuddyUnitOfWork
from services.kit.identity import profile_id_for_email
from services.kit.persistence import db
from services.kit.security import pii

COUNT = 620  # matches and events each: more than one backfill batch of 500
AT = datetime(2026, 1, 5, 9, tzinfo=UTC)
PEOPLE = {"buddy_matches": ("participant", "buddy"), "buddy_checkins": ("person",), "buddy_feedback": ("author",)}
ATTENDEES = "buddy_event_attendees"
KINDS = {
    "buddy_matches": "matches",
    "buddy_events": "events",
    "buddy_checkins": "checkins",
    "buddy_feedback": "feedback",
}


def _company(n: int) -> str:
    return "acme" if n % 2 else "globex"


def _base(n: int, prefix: str) -> dict[str, Any]:
    return {
        "record_id": str(uuid.UUID(int=n + 1)),
        "company_id": _company(n),
        "external_id": f"{prefix}-{n}",
        "channel": "csv_import",
        "batch_id": "",
        "delivery_id": "",
        "received_at": AT,
        "created_at": AT,
        "updated_at": AT,
    }


def _person(prefix: str, email: str) -> dict[str, str]:
    return {f"{prefix}_email": email, **{f"{prefix}_{n}": "" for n in ("external_id", "given_name", "family_name")}}


def _rows() -> dict[str, list[dict[str, Any]]]:
    matches = [
        _base(n, "m")
        | _person("participant", f"p{n % 7}@example.org")
        | _person("buddy", "shared@example.org" if n % 5 == 0 else f"b{n % 3}@example.org")
        | {"matched_at": AT, "status": "active", "languages": "[]", "interests": "[]", "location": "", "ended_at": None}
        for n in range(COUNT)
    ]
    events = [
        _base(n, "e")
        | {"match_id": "", "event_type": "hangout", "event_at": AT, "description": "", "location": ""}
        | {"attendees": json.dumps([_attendee(f"p{n % 7}@example.org"), _attendee("shared@example.org")] * (n % 2 + 1))}
        for n in range(COUNT)
    ]
    common = {"match_id": str(uuid.UUID(int=1)), "side": "participant"}
    checkins = [_base(n, "c") | _person("person", f"p{n % 7}@example.org") | common for n in range(20)]
    checkins = [row | {"checkin_at": AT, "mood": "good", "notes": "", "answers": "[]"} for row in checkins]
    feedback = [
        _base(n, "f") | _person("author", f"p{n % 7}@example.org") | common | {"submitted_at": AT, "text": "ok"}
        for n in range(20)
    ]
    feedback = [row | dict.fromkeys(("rating", "communication", "helpfulness", "engagement")) for row in feedback]
    return {"buddy_matches": matches, "buddy_events": events, "buddy_checkins": checkins, "buddy_feedback": feedback}


def _attendee(email: str) -> dict[str, str]:
    return {"email": email, "external_id": "", "given_name": "", "family_name": ""}


def _insert(engine: sa.Engine, rows: dict[str, list[dict[str, Any]]]) -> None:
    tables = sa.MetaData()
    with engine.begin() as connection:
        for name, table_rows in rows.items():
            connection.execute(sa.Table(name, tables, autoload_with=connection).insert(), table_rows)


def _expected_people(rows: dict[str, list[dict[str, Any]]], name: str) -> dict[str, tuple[str, ...]]:
    roles = PEOPLE[name]
    return {
        row["record_id"]: tuple(profile_id_for_email(row["company_id"], row[f"{role}_email"]) for role in roles)
        for row in rows[name]
    }


def _stored_people(engine: sa.Engine, name: str) -> dict[str, tuple[str, ...]]:
    columns = ", ".join(f"{role}_profile_id" for role in PEOPLE[name])
    with engine.connect() as connection:
        result = connection.execute(sa.text(f"SELECT record_id, {columns} FROM {name}"))
        return {row[0]: tuple(row[1:]) for row in result}


def _expected_attendance(rows: dict[str, list[dict[str, Any]]]) -> set[tuple[str, str, str]]:
    return {
        (row["record_id"], profile_id_for_email(row["company_id"], person["email"]), row["company_id"])
        for row in rows["buddy_events"]
        for person in json.loads(row["attendees"])
    }


def _stored_attendance(engine: sa.Engine) -> set[tuple[str, str, str]]:
    with engine.connect() as connection:
        result = connection.execute(sa.text(f"SELECT event_id, profile_id, company_id FROM {ATTENDEES}"))
        rows = [tuple(row) for row in result]
    assert len(rows) == len(set(rows))
    return {(a, b, c) for a, b, c in rows}


def _check_backfill(engine: sa.Engine, rows: dict[str, list[dict[str, Any]]]) -> None:
    for name in PEOPLE:
        assert _stored_people(engine, name) == _expected_people(rows, name), name
    assert _stored_attendance(engine) == _expected_attendance(rows)


def _listed(engine: sa.Engine, kind: str, email: str) -> set[str]:
    uow = SqlBuddyUnitOfWork(db.UnitOfWork(engine))
    where = RecordFilter(profile_id=profile_id_for_email("acme", email))
    found, token = queries.list_records(ListRecords("acme", kind, where, page_size=100), uow=uow)
    ids = {record.external_id for record in found}
    while token:
        found, token = queries.list_records(ListRecords("acme", kind, where, 100, token), uow=uow)
        ids |= {record.external_id for record in found}
    return ids


def _involving(name: str, rows: list[dict[str, Any]], email: str) -> set[str]:
    def people(row: dict[str, Any]) -> set[str]:
        if name == "buddy_events":
            return {person["email"] for person in json.loads(row["attendees"])}
        return {row[f"{role}_email"] for role in PEOPLE[name]}

    return {row["external_id"] for row in rows if row["company_id"] == "acme" and email in people(row)}


def _schema(engine: sa.Engine) -> tuple[set[str], set[str]]:
    inspector = sa.inspect(engine)
    columns = {f"{name}.{c['name']}" for name in PEOPLE for c in inspector.get_columns(name)}
    indexes = {str(i["name"]) for name in PEOPLE for i in inspector.get_indexes(name)}
    return columns | set(inspector.get_table_names()), indexes


ADDED_COLUMNS = {f"{name}.{role}_profile_id" for name, roles in PEOPLE.items() for role in roles}
ADDED_INDEXES = {f"ix_{name}_{role}_profile" for name, roles in PEOPLE.items() for role in roles}


def _upgrade_backfills_and_downgrade_removes(url: str, var_dir: Path) -> None:
    db.upgrade(url, bootstrap.MIGRATIONS, "0002")
    engine, cipher = db.create_engine(url), pii.local(var_dir, "buddy")
    pii.attach(engine, cipher)  # reads open sealed fields; the records written here stay plain
    try:
        rows = _rows()
        _insert(engine, rows)
        db.upgrade(url, bootstrap.MIGRATIONS)
        names, indexes = _schema(engine)
        assert names >= ADDED_COLUMNS | {ATTENDEES}
        assert indexes >= ADDED_INDEXES
        assert "ix_buddy_event_attendees_profile" in {str(i["name"]) for i in sa.inspect(engine).get_indexes(ATTENDEES)}
        _check_backfill(engine, rows)
        for email in ("shared@example.org", "p3@example.org"):
            for name, kind in KINDS.items():
                assert _listed(engine, kind, email) == _involving(name, rows[name], email), (email, kind)
        assert _listed(engine, "matches", "shared@example.org") != set()

        db.downgrade(url, bootstrap.MIGRATIONS, "0002")
        names, indexes = _schema(engine)
        assert not (ADDED_COLUMNS | {ATTENDEES}) & names
        assert not ADDED_INDEXES & indexes
        with engine.connect() as connection:
            for name, table_rows in rows.items():
                count = connection.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
                assert count == len(table_rows)

        db.upgrade(url, bootstrap.MIGRATIONS)
        _check_backfill(engine, rows)
    finally:
        engine.dispose()
        cipher.close()


def test_sqlite_upgrade_backfills_and_downgrade_removes(tmp_path: Path) -> None:
    _upgrade_backfills_and_downgrade_removes(db.sqlite_url(tmp_path / "buddy.db"), tmp_path)


def test_postgresql_upgrade_backfills_and_downgrade_removes(postgres_url: str, tmp_path: Path) -> None:
    _upgrade_backfills_and_downgrade_removes(postgres_url, tmp_path)
