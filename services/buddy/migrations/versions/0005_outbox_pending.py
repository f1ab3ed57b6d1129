"""The outbox's ix_outbox_pending (published_at, created_at, event_id): the relay's pending read becomes a
search with no sort, and it serves the backlog gauge and retention's range on published_at too, so it
replaces ix_outbox_created_at and ix_outbox_published_at. PostgreSQL builds and drops the indexes
CONCURRENTLY, outside the migration's transaction, so writers to a live outbox are never blocked."""

from services.kit.persistence.frozen_revisions.outbox_pending_revision_v1 import downgrade, upgrade  # noqa: F401 (run by Alembic)

revision = "0005"
down_revision = "0004"
