"""The outbox's ix_outbox_pending (published_at, created_at, event_id): the relay's pending read becomes a
search with no sort, and it serves the backlog gauge and retention's range on published_at too, so it
replaces ix_outbox_created_at and ix_outbox_published_at. PostgreSQL builds and drops the indexes
CONCURRENTLY, outside the migration's transaction, so writers to a live outbox are never blocked.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from alembic import op

from services.kit.persistence.frozen_revisions import outbox_pending_v1

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    outbox_pending_v1.upgrade(op)


def downgrade() -> None:
    outbox_pending_v1.downgrade(op)
