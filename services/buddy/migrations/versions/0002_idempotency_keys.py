"""The idempotency_keys table: Idempotency-Key claims and stored responses of mutating RPCs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-15
"""

from alembic import op

from services.kit.persistence import idempotency

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    idempotency.create_table(op)


def downgrade() -> None:
    idempotency.drop_table(op)
