"""A page of a company's import batches (newest first) reads them in that order from an index on
(company_id, created_at, batch_id): with only ix_import_batches_company_id, every page read and sorted all
the company's batches (PostgreSQL walked ix_import_batches_created_at across every company instead).
Check-ins and feedback found by e-mail match the person's profile id or, on a row not sealed yet, the plain
e-mail: the e-mail side of that OR had no index, (company_id, person_email) and (company_id, author_email),
so the look-up read every check-in or feedback of the company (matches have theirs).
PostgreSQL builds and drops the indexes CONCURRENTLY, outside the migration's transaction, so imports
are never blocked.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from alembic import op

from services.kit.persistence.frozen_revisions import concurrent_indexes_v1

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# name: (table, columns)
INDEXES = {
    "ix_import_batches_company_created": ("import_batches", ["company_id", "created_at", "batch_id"]),
    "ix_buddy_checkins_person": ("buddy_checkins", ["company_id", "person_email"]),
    "ix_buddy_feedback_author": ("buddy_feedback", ["company_id", "author_email"]),
}


def upgrade() -> None:
    concurrent_indexes_v1.create(op, INDEXES)


def downgrade() -> None:
    concurrent_indexes_v1.drop(op, INDEXES)
