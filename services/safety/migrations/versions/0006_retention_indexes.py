"""Retention's deletes by age read an index: safety_flags.created_at dates the flags and, through
them, their reviews and decisions; ix_safety_flags_company_created leads with the company, so each sweep
scanned the whole table. PostgreSQL builds and drops the index CONCURRENTLY, outside the migration's
transaction, so screening is never blocked."""

from services.kit.persistence.frozen_revisions import concurrent_indexes_revision_v1

revision = "0006"
down_revision = "0005"

# name: (table, columns)
INDEXES = {
    "ix_safety_flags_created_at": ("safety_flags", ["created_at"]),
}

upgrade, downgrade = concurrent_indexes_revision_v1.revision(INDEXES)
