"""The transactional outbox and the consumer inbox of the profile service.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from alembic import op

from services.kit.persistence.frozen_revisions import outbox_inbox_v1

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    outbox_inbox_v1.create(op)


def downgrade() -> None:
    outbox_inbox_v1.drop(op)
