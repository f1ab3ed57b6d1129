"""The review queue (a company's reviews of one status, highest priority first, then oldest first) reads
its pages in that order from an index on (company_id, status, priority DESC, created_at, review_id):
ix_safety_reviews_company_status_priority holds priority ascending with created_at ascending, an order
no scan of it gives, so every page sorted all of the status's reviews first. PostgreSQL builds and drops the
index CONCURRENTLY, outside the migration's transaction.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# name: (table, columns)
INDEXES: dict[str, tuple[str, list[str | sa.TextClause]]] = {
    "ix_safety_reviews_queue": (
        "safety_reviews",
        ["company_id", "status", sa.text("priority DESC"), "created_at", "review_id"],
    ),
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
