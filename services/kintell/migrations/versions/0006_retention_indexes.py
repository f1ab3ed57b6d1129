"""Retention's deletes by age read an index on import_batches.created_at (import_batches_indexes_v1)."""

from services.kit.persistence.frozen_revisions import concurrent_indexes_revision_v1, import_batches_indexes_v1

revision = "0006"
down_revision = "0005"

upgrade, downgrade = concurrent_indexes_revision_v1.revision(import_batches_indexes_v1.BY_AGE)
