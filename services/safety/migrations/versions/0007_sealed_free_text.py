"""Personal free text sealed at rest (expand step): a flag's redacted text and findings, and a review
decision's notes, become sealed text. All three columns are Text already, wide enough for a sealed value,
so the schema does not change; this revision marks where sealed values may appear.

Old rows keep their plain values: the running service seals them in batches
(services/safety/sealing.py) and reads both forms meanwhile. The downgrade refuses while any value is
sealed — unseal first (`teei pii unseal --service safety`), since a migration holds no keys."""

from alembic import op

from services.kit.persistence.frozen_revisions import sealed_values_v1

revision = "0007"
down_revision = "0006"

SEALED = {
    "safety_flags": ["redacted_text", "findings"],
    "safety_review_actions": ["notes"],
}


def upgrade() -> None:
    """Nothing to widen: the sealed columns are Text."""


def downgrade() -> None:
    sealed_values_v1.refuse_while_sealed(op, "safety", SEALED)
