"""Quarantined CSV rows and a match's location sealed at rest (expand step): each quarantined row gets
its batch's `company_id` and the `profile_id` of the person it names (its first valid e-mail column),
whose key seals its `raw` cells and its `errors` (which quote the refused values); a row naming nobody
is sealed with the company's key (`profile_id` NULL). Erasure finds a person's rows by (company,
profile id), an index. A match's `location` becomes sealed text (the participant's key), wider than the
plain value.

Old rows keep their plain values (a quarantined row its plain JSON, company "" and profile id NULL):
the running service copies a quarantined row's company from its batch, derives its person and seals
old rows in batches (online migration), reading both forms meanwhile. The downgrade refuses while any
value is sealed — unseal first (`teei pii unseal --service buddy`), since a migration holds no keys."""

import sqlalchemy as sa
from alembic import op

from services.kit.persistence.frozen_revisions import sealed_quarantined_rows_v1, sealed_values_v1

revision = "0008"
down_revision = "0007"

SEALED = {"quarantined_rows": ["raw", "errors"], "buddy_matches": ["location"]}


def upgrade() -> None:
    sealed_quarantined_rows_v1.add_columns(op)
    with op.batch_alter_table("buddy_matches") as batch:
        batch.alter_column("location", type_=sa.Text(), existing_type=sa.String(255), existing_nullable=False)


def downgrade() -> None:
    sealed_values_v1.refuse_while_sealed(op, "buddy", SEALED)
    with op.batch_alter_table("buddy_matches") as batch:
        batch.alter_column("location", type_=sa.String(255), existing_type=sa.Text(), existing_nullable=False)
    sealed_quarantined_rows_v1.drop_columns(op)
