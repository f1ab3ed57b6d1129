"""Retention's deletes by age read an index: import_batches.created_at (raw_imports, and quarantined
rows dated through their batch) was a scan of the whole table at every sweep. PostgreSQL builds and drops
the index CONCURRENTLY, outside the migration's transaction, so imports are never blocked.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from alembic import op

from services.kit.persistence.frozen_revisions import concurrent_indexes_v1

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# name: (table, columns)
INDEXES = {
    "ix_import_batches_created_at": ("import_batches", ["created_at"]),
}


def upgrade() -> None:
    concurrent_indexes_v1.create(op, INDEXES)


def downgrade() -> None:
    concurrent_indexes_v1.drop(op, INDEXES)
