"""An expand-only revision a rolling upgrade applies while the code before it serves (tests/e2e/
test_rolling.py): a nullable `profiles.locale`, backfilled in batches for the rows that exist, and an index
on (company_id, locale), built CONCURRENTLY on PostgreSQL so writes are never blocked. The code before it
neither reads nor writes the column, so its reads and inserts work unchanged on the new schema; rows it
inserts keep NULL until a later release writes the column.

It is a test's revision, not a shipped one: it chains onto whatever the profile service's head is (found
from the service's own migrations folder), so the test keeps applying it on top of the service's revisions
as they grow; its id is far above theirs.

Revision ID: 9001
Revises: the profile service's head
Create Date: 2026-12-06
"""

import contextlib
import importlib.util
import math
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from alembic.script import ScriptDirectory


def _profile_migrations() -> Path:
    spec = importlib.util.find_spec("services.profile")
    if spec is None or spec.origin is None:
        raise RuntimeError("the profile service's package is not importable from here")
    return Path(spec.origin).resolve().parent / "migrations"


revision = "9001"
down_revision = ScriptDirectory(str(_profile_migrations())).get_current_head()
branch_labels = None
depends_on = None

COLUMN, INDEX = "locale", "ix_profiles_company_locale"
UNDETERMINED = "und"  # BCP 47: the language is not known
BATCH = 500


def upgrade() -> None:
    op.add_column("profiles", sa.Column(COLUMN, sa.String(35), nullable=True))
    _backfill()
    with _outside_transaction():
        # A failed CREATE INDEX CONCURRENTLY leaves an invalid index behind: drop it so a rerun succeeds.
        op.drop_index(INDEX, "profiles", if_exists=True, postgresql_concurrently=True)
        op.create_index(INDEX, "profiles", ["company_id", COLUMN], postgresql_concurrently=True)


def downgrade() -> None:
    with _outside_transaction():
        op.drop_index(INDEX, "profiles", if_exists=True, postgresql_concurrently=True)
    op.drop_column("profiles", COLUMN)


def _backfill() -> None:
    """Sets the column on the rows there are, BATCH at a time: bounded by the count taken first, so rows
    the running code inserts meanwhile (NULL) never keep the loop going."""
    bind = op.get_bind()
    total = bind.execute(sa.text("SELECT count(*) FROM profiles")).scalar_one()
    batch = sa.text(
        f"UPDATE profiles SET {COLUMN} = :value WHERE profile_id IN "
        f"(SELECT profile_id FROM profiles WHERE {COLUMN} IS NULL LIMIT :batch)"
    )
    for _ in range(math.ceil(total / BATCH)):
        bind.execute(batch, {"value": UNDETERMINED, "batch": BATCH})


@contextlib.contextmanager
def _outside_transaction() -> Iterator[None]:
    # CONCURRENTLY cannot run in a transaction; SQLite has no such option and takes the plain DDL in it.
    if op.get_bind().dialect.name != "postgresql":
        yield
        return
    with op.get_context().autocommit_block():
        yield
