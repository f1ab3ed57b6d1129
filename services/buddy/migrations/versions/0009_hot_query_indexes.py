"""A page of a company's import batches (newest first) reads them in that order from an index
(import_batches_indexes_v1.BY_COMPANY). Check-ins and feedback found by e-mail match the person's profile id
or, on a row not sealed yet, the plain e-mail: the e-mail side of that OR had no index, (company_id,
person_email) and (company_id, author_email), so the look-up read every check-in or feedback of the company
(matches have theirs). PostgreSQL builds and drops the indexes CONCURRENTLY, outside the migration's
transaction, so imports are never blocked."""

from services.kit.persistence.frozen_revisions import concurrent_indexes_revision_v1, import_batches_indexes_v1

revision = "0009"
down_revision = "0008"

# name: (table, columns)
INDEXES = {
    **import_batches_indexes_v1.BY_COMPANY,
    "ix_buddy_checkins_person": ("buddy_checkins", ["company_id", "person_email"]),
    "ix_buddy_feedback_author": ("buddy_feedback", ["company_id", "author_email"]),
}

upgrade, downgrade = concurrent_indexes_revision_v1.revision(INDEXES)
