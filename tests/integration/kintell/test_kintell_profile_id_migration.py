"""Kintell revision 0003 on a database that already holds sessions: it derives every stored person's
profile id (across more than one backfill batch and company), indexes it, and its downgrade removes
exactly what it added, keeping the sessions."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.kintell import bootstrap, queries
from services.kintell.domain.commands import ListSessions, SessionFilter
from services.kintell.repository import SqlKintellUnitOfWork
from services.kit.identity import profile_id_for_email
from services.kit.persistence import db
from services.kit.security import pii

ROWS = 1_150  # more than two backfill batches of 500
PROFILE_COLUMNS = {"participant_profile_id", "volunteer_profile_id"}
PROFILE_INDEXES = {"ix_kintell_sessions_company_participant_profile", "ix_kintell_sessions_company_volunteer_profile"}


def _session(number: int) -> dict[str, Any]:
    at = datetime(2026, 3, 1, 10, tzinfo=UTC)
    company = "acme" if number % 2 else "globex"
    people = {
        "participant_email": f"p{number % 7}@example.org",
        "volunteer_email": "shared@example.org" if number % 5 == 0 else f"v{number % 3}@corp.com",
    }
    for role in ("participant", "volunteer"):
        people |= {f"{role}_external_id": "", f"{role}_given_name": "", f"{role}_family_name": ""}
    return {
        "session_id": str(uuid.UUID(int=number + 1)),
        "company_id": company,
        "external_session_id": f"k-{number}",
        "session_type": "language",
        **people,
        "scheduled_at": at,
        "completed_at": None,
        "duration_minutes": None,
        "rating": None,
        "feedback_text": "",
        "language_level": "",
        "topics": "[]",
        "focus_area": "",
        "goals_discussed": "[]",
        "metadata_json": None,
        "channel": "csv_import",
        "import_batch_id": "",
        "delivery_id": "",
        "received_at": at,
        "created_at": at,
        "updated_at": at,
    }


def _insert_sessions(engine: sa.Engine) -> list[dict[str, Any]]:
    rows = [_session(n) for n in range(ROWS)]
    table = sa.Table("kintell_sessions", sa.MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), rows)
    return rows


def _schema(engine: sa.Engine) -> tuple[set[str], set[str]]:
    inspector = sa.inspect(engine)
    columns = {c["name"] for c in inspector.get_columns("kintell_sessions")}
    indexes = {str(i["name"]) for i in inspector.get_indexes("kintell_sessions")}
    return columns, indexes


def _stored_ids(engine: sa.Engine) -> dict[str, tuple[str, str]]:
    query = sa.text("SELECT session_id, participant_profile_id, volunteer_profile_id FROM kintell_sessions")
    with engine.connect() as connection:
        return {row[0]: (row[1], row[2]) for row in connection.execute(query)}


def _check_backfill(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    expected = {
        row["session_id"]: (
            profile_id_for_email(row["company_id"], row["participant_email"]),
            profile_id_for_email(row["company_id"], row["volunteer_email"]),
        )
        for row in rows
    }
    assert _stored_ids(engine) == expected


def _listed(engine: sa.Engine, company: str, email: str) -> set[str]:
    uow = SqlKintellUnitOfWork(db.UnitOfWork(engine))
    query = ListSessions(company, SessionFilter(profile_id=profile_id_for_email(company, email)), page_size=100)
    found: set[str] = set()
    while True:
        page = queries.list_sessions(query, uow=uow)
        found |= {s.facts.external_session_id for s, _ in page.sessions}
        if not page.next_page_token:
            return found
        query = replace(query, page_token=page.next_page_token)


def _upgrade_backfills_and_downgrade_removes(url: str, var_dir: Path) -> None:
    db.upgrade(url, bootstrap.MIGRATIONS, "0002")
    engine, cipher = db.create_engine(url), pii.local(var_dir, "kintell")
    pii.attach(engine, cipher)  # reads open sealed fields; the sessions written here stay plain
    try:
        rows = _insert_sessions(engine)
        db.upgrade(url, bootstrap.MIGRATIONS)
        columns, indexes = _schema(engine)
        assert columns >= PROFILE_COLUMNS
        assert indexes >= PROFILE_INDEXES
        _check_backfill(engine, rows)
        for role, email in (("volunteer", "shared@example.org"), ("participant", "p3@example.org")):
            expected = {
                r["external_session_id"] for r in rows if r["company_id"] == "acme" and r[f"{role}_email"] == email
            }
            assert _listed(engine, "acme", email) == expected != set()

        db.downgrade(url, bootstrap.MIGRATIONS, "0002")
        columns, indexes = _schema(engine)
        assert not PROFILE_COLUMNS & columns
        assert not PROFILE_INDEXES & indexes
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM kintell_sessions")).scalar_one() == ROWS

        db.upgrade(url, bootstrap.MIGRATIONS)
        _check_backfill(engine, rows)
    finally:
        engine.dispose()
        cipher.close()


def test_sqlite_upgrade_backfills_and_downgrade_removes(tmp_path: Path) -> None:
    _upgrade_backfills_and_downgrade_removes(db.sqlite_url(tmp_path / "kintell.db"), tmp_path)


def test_postgresql_upgrade_backfills_and_downgrade_removes(postgres_url: str, tmp_path: Path) -> None:
    _upgrade_backfills_and_downgrade_removes(postgres_url, tmp_path)
