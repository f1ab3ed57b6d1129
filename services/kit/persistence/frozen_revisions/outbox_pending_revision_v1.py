"""A revision that only puts ix_outbox_pending in place of two outbox indexes: its upgrade and downgrade."""

from __future__ import annotations

from alembic import op

from services.kit.persistence.frozen_revisions import outbox_pending_v1


def upgrade() -> None:
    outbox_pending_v1.upgrade(op)


def downgrade() -> None:
    outbox_pending_v1.downgrade(op)
