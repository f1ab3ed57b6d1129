"""Personal free text sealed at rest (expand step): a manual score's note, a held text and an evidence
snippet become sealed text (the columns are Text already, wide enough), and an evidence snippet names
whose text it is: `q2q_evidence.profile_id`, whose key seals it. A snippet is stored once per person
from now on (its hash covers the profile id), so erasing one person never destroys another's evidence.

Old rows keep their plain values, and shared snippets no profile id: the running service splits and
seals them in batches (services/q2q/sealing.py) and reads both forms meanwhile. The downgrade refuses
while any value is sealed — unseal first (`teei pii unseal --service q2q`), since a migration holds no
keys; the per-person snippets it leaves are valid rows of the schema below."""

import sqlalchemy as sa
from alembic import op

from services.kit.persistence.frozen_revisions import sealed_values_v1

revision = "0006"
down_revision = "0005"

SEALED = {
    "q2q_scores": ["note"],
    "q2q_pending_texts": ["text"],
    "q2q_evidence": ["snippet"],
}


def upgrade() -> None:
    with op.batch_alter_table("q2q_evidence") as batch:
        batch.add_column(sa.Column("profile_id", sa.String(36), nullable=True))


def downgrade() -> None:
    sealed_values_v1.refuse_while_sealed(op, "q2q", SEALED)
    with op.batch_alter_table("q2q_evidence") as batch:
        batch.drop_column("profile_id")
