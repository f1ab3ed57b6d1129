"""The transactional outbox and the consumer inbox of the gateway (privacy requests will emit events).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from alembic import op

from services.kit.persistence.frozen_revisions import outbox_inbox_v1

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    outbox_inbox_v1.create(op)


def downgrade() -> None:
    outbox_inbox_v1.drop(op)
