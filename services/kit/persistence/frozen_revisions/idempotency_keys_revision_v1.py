"""A revision that only adds the idempotency_keys table (idempotency_keys_v1): its upgrade and downgrade."""

from __future__ import annotations

from alembic import op

from services.kit.persistence.frozen_revisions import idempotency_keys_v1


def upgrade() -> None:
    idempotency_keys_v1.upgrade(op)


def downgrade() -> None:
    idempotency_keys_v1.downgrade(op)
