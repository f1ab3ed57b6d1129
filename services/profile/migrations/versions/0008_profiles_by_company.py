"""A page of a company's profiles (ordered by profile id) reads them in that order from an index on
(company_id, profile_id): with only the e-mail indexes to find the company's rows, every page read all
of them and sorted them first. PostgreSQL builds and drops the index CONCURRENTLY, outside the migration's
transaction, so writes are never blocked.

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
    "ix_profiles_company_profile": ("profiles", ["company_id", "profile_id"]),
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
