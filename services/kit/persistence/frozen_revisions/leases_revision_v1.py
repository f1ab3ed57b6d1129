"""A revision that only adds the leases table (leases_v1): its upgrade and downgrade."""

from __future__ import annotations

from alembic import op

from services.kit.persistence.frozen_revisions import leases_v1


def upgrade() -> None:
    leases_v1.upgrade(op)


def downgrade() -> None:
    leases_v1.downgrade(op)
