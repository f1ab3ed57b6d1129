"""A revision that only adds the outbox and the inbox (outbox_inbox_v1): its upgrade and downgrade."""

from __future__ import annotations

from alembic import op

from services.kit.persistence.frozen_revisions import outbox_inbox_v1


def upgrade() -> None:
    outbox_inbox_v1.create(op)


def downgrade() -> None:
    outbox_inbox_v1.drop(op)
