"""A revision that only adds the audit log (audit_log_v1): its upgrade and downgrade."""

from __future__ import annotations

from alembic import op

from services.kit.persistence.frozen_revisions import audit_log_v1


def upgrade() -> None:
    audit_log_v1.upgrade(op)


def downgrade() -> None:
    audit_log_v1.downgrade(op)
