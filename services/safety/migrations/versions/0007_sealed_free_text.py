"""Personal free text sealed at rest (expand step): a flag's redacted text and findings, and a review
decision's notes, become sealed text. All three columns are Text already, wide enough for a sealed value,
so the schema does not change; this revision marks where sealed values may appear.

Old rows keep their plain values: the running service seals them in batches
(services/safety/sealing.py) and reads both forms meanwhile. The downgrade refuses while any value is
sealed — unseal first (`teei pii unseal --service safety`), since a migration holds no keys.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SEALED = {
    "safety_flags": ["redacted_text", "findings"],
    "safety_review_actions": ["notes"],
}


def upgrade() -> None:
    """Nothing to widen: the sealed columns are Text."""


def downgrade() -> None:
    sealed = sum(_sealed_rows(table, columns) for table, columns in SEALED.items())
    if sealed:
        raise RuntimeError(f"{sealed} safety rows are sealed: run `teei pii unseal --service safety` first")


def _sealed_rows(table: str, columns: list[str]) -> int:
    """Rows of `table` holding a sealed value (`pii1.` followed by a key id)."""
    where = " OR ".join(f"{c} LIKE 'pii1.%'" for c in columns)
    return int(op.get_bind().execute(sa.text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar() or 0)  # noqa: S608 - names are this revision's constants
