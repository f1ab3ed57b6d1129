"""Quarantined CSV rows sealed at rest (expand step): each quarantined row gets its batch's
`company_id` and the `profile_id` of the person it names (its first valid e-mail column), whose key
seals its `raw` cells and its `errors` (which quote the refused values); a row naming nobody is sealed
with the company's key (`profile_id` NULL). Erasure finds a person's rows by (company, profile id), an
index.

Old rows keep their plain JSON (company "" and profile id NULL): the running service copies their
batch's company, derives their person and seals them in batches (online migration), reading both forms
meanwhile. The downgrade refuses while any value is sealed — unseal first (`teei pii unseal --service
kintell`), since a migration holds no keys.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from alembic import op

from services.kit.persistence.frozen_revisions import sealed_quarantined_rows_v1

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sealed_quarantined_rows_v1.upgrade(op)


def downgrade() -> None:
    sealed_quarantined_rows_v1.downgrade(op, "kintell")
