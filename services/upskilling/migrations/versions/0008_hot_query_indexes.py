"""A page of a company's import batches (newest first) reads them in that order from an index on
(company_id, created_at, batch_id): with only ix_import_batches_company_id, every page read and sorted all
the company's batches (PostgreSQL walked ix_import_batches_created_at across every company instead).
A page of a company's credentials (newest issue first) reads them in that order from an index on
(company_id, issued_at, credential_id), where every page sorted all of the company's credentials.
PostgreSQL builds and drops the indexes CONCURRENTLY, outside the migration's transaction, so imports
are never blocked.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import contextlib
from collections.abc import Iterator

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# name: (table, columns)
INDEXES = {
    "ix_import_batches_company_created": ("import_batches", ["company_id", "created_at", "batch_id"]),
    "ix_upskilling_credentials_company_issued": (
        "upskilling_credentials",
        ["company_id", "issued_at", "credential_id"],
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
