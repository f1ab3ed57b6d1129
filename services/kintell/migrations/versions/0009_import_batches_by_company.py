"""A page of a company's import batches (newest first) reads them in that order from an index on
(company_id, created_at, batch_id): with only ix_import_batches_company_id, every page read and sorted all
the company's batches (PostgreSQL walked ix_import_batches_created_at across every company instead).
PostgreSQL builds and drops the indexes CONCURRENTLY, outside the migration's transaction, so imports
are never blocked.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from alembic import op

from services.kit.persistence.frozen_revisions import concurrent_indexes_v1

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# name: (table, columns)
INDEXES = {
    "ix_import_batches_company_created": ("import_batches", ["company_id", "created_at", "batch_id"]),
}


def upgrade() -> None:
    concurrent_indexes_v1.create(op, INDEXES)


def downgrade() -> None:
    concurrent_indexes_v1.drop(op, INDEXES)
