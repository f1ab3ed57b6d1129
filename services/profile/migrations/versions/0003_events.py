"""The transactional outbox and the consumer inbox of the profile service."""

from services.kit.persistence.frozen_revisions.outbox_inbox_revision_v1 import downgrade, upgrade  # noqa: F401 (run by Alembic)

revision = "0003"
down_revision = "0002"
