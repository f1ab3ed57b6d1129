"""The audit log: hash-chained audit_records and signed audit_checkpoints, append-only (UPDATE, DELETE and
TRUNCATE refused by triggers)."""

from services.kit.persistence.frozen_revisions.audit_log_revision_v1 import downgrade, upgrade  # noqa: F401 (run by Alembic)

revision = "0004"
down_revision = "0003"
