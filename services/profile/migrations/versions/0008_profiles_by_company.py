"""A page of a company's profiles (ordered by profile id) reads them in that order from an index on
(company_id, profile_id): with only the e-mail indexes to find the company's rows, every page read all
of them and sorted them first. PostgreSQL builds and drops the index CONCURRENTLY, outside the migration's
transaction, so writes are never blocked."""

import sqlalchemy as sa

from services.kit.persistence.frozen_revisions import concurrent_indexes_revision_v1

revision = "0008"
down_revision = "0007"

# name: (table, columns)
INDEXES: dict[str, tuple[str, list[str | sa.TextClause]]] = {
    "ix_profiles_company_profile": ("profiles", ["company_id", "profile_id"]),
}

upgrade, downgrade = concurrent_indexes_revision_v1.revision(INDEXES)
