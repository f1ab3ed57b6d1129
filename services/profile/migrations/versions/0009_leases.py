"""The leases table: of the service's worker processes, only the holder of a lease runs the outbox relay or the
retention task (services/kit/persistence/leases.py). A row per lease name, its holder and when it expires.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from alembic import op

from services.kit.persistence.frozen_revisions import leases_v1

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    leases_v1.upgrade(op)


def downgrade() -> None:
    leases_v1.downgrade(op)
