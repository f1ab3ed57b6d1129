"""A page of a company's import batches (newest first) reads them in that order from an index on
(company_id, created_at, batch_id): with only ix_import_batches_company_id, every page read and sorted all
the company's batches (PostgreSQL walked ix_import_batches_created_at across every company instead).
Check-ins and feedback found by e-mail match the person's profile id or, on a row not sealed yet, the plain
e-mail: the e-mail side of that OR had no index, (company_id, person_email) and (company_id, author_email),
so the look-up read every check-in or feedback of the company (matches have theirs).
PostgreSQL builds and drops the indexes CONCURRENTLY, outside the migration's transaction, so imports
are never blocked.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import contextlib
from collections.abc import Iterator

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# name: (table, columns)
INDEXES = {
    "ix_import_batches_company_created": ("import_batches", ["company_id", "created_at", "batch_id"]),
    "ix_buddy_checkins_person": ("buddy_checkins", ["company_id", "person_email"]),
    "ix_buddy_feedback_author": ("buddy_feedback", ["company_id", "author_email"]),
}


def upgrade() -> None:
    with _outside_transaction():
        for name, (table, columns) in INDEXES.items():
            # A failed CREATE INDEX CONCURRENTLY leaves an invalid index behind: drop it so a rerun succeeds.
            op.drop_index(name, table, if_exists=True, postgresql_concurrently=True)
            op.create_index(name, table, columns, postgresql_concurrently=True)


def downgrade() -> None:
    with _outside_transaction():
        for name, (table, _) in INDEXES.items():
            op.drop_index(name, table, if_exists=True, postgresql_concurrently=True)


@contextlib.contextmanager
def _outside_transaction() -> Iterator[None]:
    # CONCURRENTLY cannot run in a transaction; SQLite has no such option and takes the plain DDL in it.
    if op.get_bind().dialect.name != "postgresql":
        yield
        return
    with op.get_context().autocommit_block():
        yield
