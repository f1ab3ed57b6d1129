"""The audit log: hash-chained audit_records and signed audit_checkpoints, append-only (UPDATE, DELETE and
TRUNCATE refused by triggers).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from alembic import op

from services.kit.persistence.frozen_revisions import audit_log_v1

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    audit_log_v1.upgrade(op)


def downgrade() -> None:
    audit_log_v1.downgrade(op)
