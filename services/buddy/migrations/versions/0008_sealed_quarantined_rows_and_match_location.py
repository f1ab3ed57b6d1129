"""Quarantined CSV rows and a match's location sealed at rest (expand step): each quarantined row gets
its batch's `company_id` and the `profile_id` of the person it names (its first valid e-mail column),
whose key seals its `raw` cells and its `errors` (which quote the refused values); a row naming nobody
is sealed with the company's key (`profile_id` NULL). Erasure finds a person's rows by (company,
profile id), an index. A match's `location` becomes sealed text (the participant's key), wider than the
plain value.

Old rows keep their plain values (a quarantined row its plain JSON, company "" and profile id NULL):
the running service copies a quarantined row's company from its batch, derives its person and seals
old rows in batches (online migration), reading both forms meanwhile. The downgrade refuses while any
value is sealed — unseal first (`teei pii unseal --service buddy`), since a migration holds no keys.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SEALED = {"quarantined_rows": ["raw", "errors"], "buddy_matches": ["location"]}


def upgrade() -> None:
    with op.batch_alter_table("quarantined_rows") as batch:
        batch.add_column(sa.Column("company_id", sa.String(63), nullable=False, server_default=""))
        batch.add_column(sa.Column("profile_id", sa.String(36), nullable=True))
        batch.create_index("ix_quarantined_rows_profile", ["company_id", "profile_id"])
    with op.batch_alter_table("buddy_matches") as batch:
        batch.alter_column("location", type_=sa.Text(), existing_type=sa.String(255), existing_nullable=False)


def downgrade() -> None:
    sealed = sum(_sealed_rows(table, columns) for table, columns in SEALED.items())
    if sealed:
        raise RuntimeError(f"{sealed} buddy rows are sealed: run `teei pii unseal --service buddy` first")
    with op.batch_alter_table("buddy_matches") as batch:
        batch.alter_column("location", type_=sa.String(255), existing_type=sa.Text(), existing_nullable=False)
    with op.batch_alter_table("quarantined_rows") as batch:
        batch.drop_index("ix_quarantined_rows_profile")
        batch.drop_column("profile_id")
        batch.drop_column("company_id")


def _sealed_rows(table: str, columns: list[str]) -> int:
    """Rows of `table` holding a sealed value (`pii1.` followed by a key id)."""
    where = " OR ".join(f"{c} LIKE 'pii1.%'" for c in columns)
    query = f"SELECT count(*) FROM {table} WHERE {where}"  # noqa: S608 - names are this revision's constants
    return int(op.get_bind().execute(sa.text(query)).scalar() or 0)
