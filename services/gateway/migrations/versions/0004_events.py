"""The transactional outbox and the consumer inbox of the gateway (privacy requests will emit events).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from alembic import op

from services.kit.messaging import events

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    events.create_tables(op)


def downgrade() -> None:
    events.drop_tables(op)
