"""A page of a company's import batches (newest first) reads them in that order from an index
(import_batches_indexes_v1.BY_COMPANY). A page of a company's credentials (newest issue first) reads them in
that order from an index on (company_id, issued_at, credential_id), where every page sorted all of the
company's credentials. PostgreSQL builds and drops the indexes CONCURRENTLY, outside the migration's
transaction, so imports are never blocked."""

from services.kit.persistence.frozen_revisions import concurrent_indexes_revision_v1, import_batches_indexes_v1

revision = "0008"
down_revision = "0007"

# name: (table, columns)
INDEXES = {
    **import_batches_indexes_v1.BY_COMPANY,
    "ix_upskilling_credentials_company_issued": (
        "upskilling_credentials",
        ["company_id", "issued_at", "credential_id"],
    ),
}

upgrade, downgrade = concurrent_indexes_revision_v1.revision(INDEXES)
