"""The idempotency_keys table: Idempotency-Key claims and stored responses of mutating RPCs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-15
"""

from alembic import op

from services.kit.persistence.frozen_revisions import idempotency_keys_v1

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    idempotency_keys_v1.upgrade(op)


def downgrade() -> None:
    idempotency_keys_v1.downgrade(op)
