"""The derived profile id of each session's participant and volunteer, backfilled, for the profile filter."""

import uuid
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

ROLES = ("participant", "volunteer")
BATCH = 500
# The profile id derivation of the kit as it stood when this revision was written, frozen here so a
# later change to the kit cannot rewrite what this revision backfills.
NAMESPACE = uuid.UUID("6f1d8a52-3c1e-5b7a-9a43-2f0d6c1e8b90")

sessions = sa.table(
    "kintell_sessions",
    sa.column("session_id", sa.String),
    sa.column("company_id", sa.String),
    *(sa.column(f"{role}_{name}", sa.String) for role in ROLES for name in ("email", "profile_id")),
)


def _index(role: str) -> str:
    return f"ix_kintell_sessions_company_{role}_profile"


def upgrade() -> None:
    for role in ROLES:
        op.add_column(
            "kintell_sessions", sa.Column(f"{role}_profile_id", sa.String(36), nullable=False, server_default="")
        )
    _backfill(op.get_bind())
    for role in ROLES:
        op.create_index(_index(role), "kintell_sessions", ["company_id", f"{role}_profile_id"])


def _backfill(connection: sa.Connection) -> None:
    """Derives the ids of every stored session in batches of BATCH rows (keyset over session_id)."""
    statement = (
        sessions.update()
        .where(sessions.c.session_id == sa.bindparam("key"))
        .values({f"{role}_profile_id": sa.bindparam(f"new_{role}") for role in ROLES})
    )
    for batch in _batches(connection):
        connection.execute(statement, [_derived(row) for row in batch])


def _batches(connection: sa.Connection) -> Iterator[list[sa.RowMapping]]:
    columns = [sessions.c.session_id, sessions.c.company_id, *(sessions.c[f"{role}_email"] for role in ROLES)]
    after = ""
    while True:
        query = sa.select(*columns).where(sessions.c.session_id > after).order_by(sessions.c.session_id).limit(BATCH)
        batch = list(connection.execute(query).mappings())
        if not batch:
            return
        yield batch
        after = batch[-1]["session_id"]


def _derived(row: sa.RowMapping) -> dict[str, Any]:
    values: dict[str, Any] = {"key": row["session_id"]}
    for role in ROLES:
        values[f"new_{role}"] = _profile_id(row["company_id"], row[f"{role}_email"])
    return values


def _profile_id(company_id: str, email: str) -> str:
    key = email.strip().lower()
    return str(uuid.uuid5(NAMESPACE, f"{company_id}\x1femail\x1f{key}")) if key else ""


def downgrade() -> None:
    for role in reversed(ROLES):
        op.drop_index(_index(role), "kintell_sessions")
        op.drop_column("kintell_sessions", f"{role}_profile_id")
