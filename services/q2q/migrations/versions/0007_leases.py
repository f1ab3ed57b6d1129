"""The leases table: of the service's worker processes, only the holder of a lease runs the outbox relay or the
retention task (services/kit/persistence/leases.py). A row per lease name, its holder and when it expires.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from alembic import op

from services.kit.persistence.frozen_revisions import leases_v1

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    leases_v1.upgrade(op)


def downgrade() -> None:
    leases_v1.downgrade(op)
