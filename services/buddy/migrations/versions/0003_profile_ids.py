"""The derived profile id of every person of a buddy record, backfilled, for the profile filters.

Matches, check-ins and feedback get a `<role>_profile_id` column next to each `<role>_email`;
event attendees (a JSON list) get one row per attendee profile in `buddy_event_attendees`."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

PEOPLE = {
    "buddy_matches": ("participant", "buddy"),
    "buddy_checkins": ("person",),
    "buddy_feedback": ("author",),
}
ATTENDEES = "buddy_event_attendees"
BATCH = 500
# The profile id derivation of the kit as it stood when this revision was written, frozen here so a
# later change to the kit cannot rewrite what this revision backfills.
NAMESPACE = uuid.UUID("6f1d8a52-3c1e-5b7a-9a43-2f0d6c1e8b90")


def _index(table: str, role: str) -> str:
    return f"ix_{table}_{role}_profile"


def _profile_id(company_id: str, email: str) -> str:
    key = email.strip().lower()
    return str(uuid.uuid5(NAMESPACE, f"{company_id}\x1femail\x1f{key}")) if key else ""


def upgrade() -> None:
    for table, roles in PEOPLE.items():
        for role in roles:
            op.add_column(table, sa.Column(f"{role}_profile_id", sa.String(36), nullable=False, server_default=""))
    op.create_table(
        ATTENDEES,
        sa.Column("event_id", sa.String(36), sa.ForeignKey("buddy_events.record_id"), primary_key=True),
        sa.Column("profile_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
    )
    connection = op.get_bind()
    for table, roles in PEOPLE.items():
        _backfill_people(connection, table, roles)
    _backfill_attendees(connection)
    for table, roles in PEOPLE.items():
        for role in roles:
            op.create_index(_index(table, role), table, ["company_id", f"{role}_profile_id"])
    op.create_index("ix_buddy_event_attendees_profile", ATTENDEES, ["company_id", "profile_id"])


def _batches(connection: sa.Connection, table: sa.TableClause) -> Iterator[list[sa.RowMapping]]:
    """Every row of `table` in batches of BATCH (keyset over record_id)."""
    after = ""
    while True:
        query = sa.select(table).where(table.c.record_id > after).order_by(table.c.record_id).limit(BATCH)
        batch = list(connection.execute(query).mappings())
        if not batch:
            return
        yield batch
        after = batch[-1]["record_id"]


def _backfill_people(connection: sa.Connection, name: str, roles: tuple[str, ...]) -> None:
    emails = [sa.column(f"{role}_email", sa.String) for role in roles]
    table = sa.table(name, sa.column("record_id", sa.String), sa.column("company_id", sa.String), *emails)
    target = sa.table(name, sa.column("record_id", sa.String), *(sa.column(f"{r}_profile_id") for r in roles))
    statement = (
        target.update()
        .where(target.c.record_id == sa.bindparam("key"))
        .values({f"{role}_profile_id": sa.bindparam(f"new_{role}") for role in roles})
    )
    for batch in _batches(connection, table):
        connection.execute(statement, [_derived(row, roles) for row in batch])


def _derived(row: sa.RowMapping, roles: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {"key": row["record_id"]}
    for role in roles:
        values[f"new_{role}"] = _profile_id(row["company_id"], row[f"{role}_email"])
    return values


def _backfill_attendees(connection: sa.Connection) -> None:
    events = sa.table(
        "buddy_events", sa.column("record_id", sa.String), sa.column("company_id", sa.String), sa.column("attendees")
    )
    attendees = sa.table(ATTENDEES, *(sa.column(name, sa.String) for name in ("event_id", "profile_id", "company_id")))
    for batch in _batches(connection, events):
        rows = [attendee for row in batch for attendee in _attendees(row)]
        if rows:
            connection.execute(attendees.insert(), rows)


def _attendees(row: sa.RowMapping) -> list[dict[str, str]]:
    company_id = row["company_id"]
    ids = {_profile_id(company_id, person.get("email", "")) for person in json.loads(row["attendees"])} - {""}
    return [{"event_id": row["record_id"], "profile_id": i, "company_id": company_id} for i in sorted(ids)]


def downgrade() -> None:
    op.drop_index("ix_buddy_event_attendees_profile", ATTENDEES)
    op.drop_table(ATTENDEES)
    for table, roles in reversed(PEOPLE.items()):
        for role in reversed(roles):
            op.drop_index(_index(table, role), table)
            op.drop_column(table, f"{role}_profile_id")
