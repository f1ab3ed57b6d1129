"""Profile migrations 0002+ upgrade and downgrade on SQLite, keeping the profiles of 0001 intact."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from services.kit.persistence import db
from services.profile import bootstrap

JOURNEY_TABLES = {
    "profile_external_ids",
    "profile_enrolments",
    "profile_flags",
    "profile_counters",
    "profile_milestones",
    "profile_facts",
    "profile_merges",
}
EVENT_TABLES = {"outbox", "inbox"}


def _inspect(url: str) -> tuple[set[str], set[str]]:
    engine = db.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        tables = set(inspector.get_table_names())
        columns = {c["name"] for c in inspector.get_columns("profiles")} if "profiles" in tables else set()
        return tables, columns
    finally:
        engine.dispose()


def _add_profile(url: str) -> None:
    engine = db.create_engine(url)
    now = datetime.now(UTC)
    row = {"profile_id": "p-1", "company_id": "acme", "email": "a@example.org", "given_name": "", "family_name": ""}
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO profiles VALUES (:profile_id, :company_id, :email, :given_name, :family_name,"
                    " 'participant', :now, :now)"
                ),
                {**row, "now": now},
            )
    finally:
        engine.dispose()


def test_each_revision_upgrades_and_downgrades_on_sqlite(tmp_path: Path) -> None:
    url = db.sqlite_url(tmp_path / "profile.db")
    db.upgrade(url, bootstrap.MIGRATIONS, "0001")
    _add_profile(url)
    db.upgrade(url, bootstrap.MIGRATIONS, "0002")
    tables, columns = _inspect(url)
    assert tables >= JOURNEY_TABLES
    assert not EVENT_TABLES & tables
    assert "merged_into" in columns
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert _inspect(url)[0] >= EVENT_TABLES
    db.downgrade(url, bootstrap.MIGRATIONS, "0002")
    assert not EVENT_TABLES & _inspect(url)[0]
    db.downgrade(url, bootstrap.MIGRATIONS, "0001")
    tables, columns = _inspect(url)
    assert not JOURNEY_TABLES & tables
    assert "merged_into" not in columns
    engine = db.create_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT email FROM profiles")).scalars().all() == ["a@example.org"]
    finally:
        engine.dispose()
    db.downgrade(url, bootstrap.MIGRATIONS)
    assert "profiles" not in _inspect(url)[0]
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert {"profiles"} | JOURNEY_TABLES | EVENT_TABLES <= _inspect(url)[0]
