"""The review queue (a company's reviews of one status, highest priority first, then oldest first) reads
its pages in that order from an index on (company_id, status, priority DESC, created_at, review_id):
ix_safety_reviews_company_status_priority holds priority ascending with created_at ascending, an order
no scan of it gives, so every page sorted all of the status's reviews first. PostgreSQL builds and drops the
index CONCURRENTLY, outside the migration's transaction."""

import sqlalchemy as sa

from services.kit.persistence.frozen_revisions import concurrent_indexes_revision_v1

revision = "0008"
down_revision = "0007"

# name: (table, columns)
INDEXES: dict[str, tuple[str, list[str | sa.TextClause]]] = {
    "ix_safety_reviews_queue": (
        "safety_reviews",
        ["company_id", "status", sa.text("priority DESC"), "created_at", "review_id"],
    ),
}

upgrade, downgrade = concurrent_indexes_revision_v1.revision(INDEXES)
