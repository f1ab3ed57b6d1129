"""A page of a company's import batches (newest first) reads them in that order from an index
(import_batches_indexes_v1)."""

from services.kit.persistence.frozen_revisions import concurrent_indexes_revision_v1, import_batches_indexes_v1

revision = "0009"
down_revision = "0008"

upgrade, downgrade = concurrent_indexes_revision_v1.revision(import_batches_indexes_v1.BY_COMPANY)
